package platform

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// DefaultQuota is each chapter's storage quota unless the operator says
// otherwise (serve --quota, or per tenant with `tenant set --quota`):
// room for a few hundred photos beside years of news.
const DefaultQuota = 200_000_000

// Upload limits per tenant, whoever uploads: at most uploadBurst images
// in a row, then one every uploadEvery (30 per 10 minutes), and at most
// uploadBytesPerMinute bytes sent a minute, in bursts of as much.
const (
	uploadBurst          = 30
	uploadEvery          = 20 * time.Second
	uploadBytesPerMinute = 10_000_000
)

// Contact messages are the one write a visitor makes. They may fill at
// most messageShare of a tenant's quota (messageCapNoQuota without one),
// so that visitors can never leave the admins without room; a site
// whose storage is full takes no more messages either.
const (
	messageShare      = 10 // percent
	messageCapNoQuota = 20_000_000
)

// warnPercent is the use of its quota from which a tenant's dashboard
// warns.
const warnPercent = 80

// ErrInboxFull refuses a visitor's contact message when the site cannot
// store more; the visitor is told to reach the chapter another way.
var ErrInboxFull = errors.New("this chapter's inbox is full and cannot take messages right now; please reach them another way, or try again in a few days")

// quotaState is what the platform keeps in memory about tenants' room:
// each open file's last measured space, refreshed after its writes, and
// the upload limits.
type quotaState struct {
	spaces      sync.Map // tenant id -> measured
	uploads     *ratelimit.Limiter
	uploadBytes *ratelimit.Limiter
	// rooms serialise, per tenant (striped), a check of the room and the
	// write it allows, so that two uploads cannot both take the last room.
	rooms [64]sync.Mutex
}

// measured is a file's space as of its generation gen. Generations are
// never reused, not even by a reopened or replaced file, so a match means
// nothing was written since; the DB itself is not kept, so a closed one
// is not held in memory.
type measured struct {
	gen   uint64
	space tenantdb.Space
}

func newQuotaState() quotaState {
	return quotaState{
		uploads:     ratelimit.New(uploadBurst, uploadEvery, 100_000),
		uploadBytes: ratelimit.New(uploadBytesPerMinute, time.Minute/uploadBytesPerMinute, 100_000),
	}
}

// QuotaOf is tenant t's storage quota in bytes: its own, else the
// server's default; 0 is unlimited.
func (p *Platform) QuotaOf(t catalog.Tenant) int64 {
	if t.Quota != nil {
		return *t.Quota
	}
	return p.DefaultQuota
}

// Usage is a tenant's storage: what its rows use of its quota, and what
// takes the room.
type Usage struct {
	Used         int64 `json:"used_bytes"`  // the file's pages less its free pages
	Quota        int64 `json:"quota_bytes"` // 0: unlimited
	QuotaDefault bool  `json:"quota_is_default"`
	File         int64 `json:"file_bytes"`      // the database's pages, free ones included
	Media        int64 `json:"media_bytes"`     // the images and their smaller copies
	MediaCount   int64 `json:"media_count"`     //
	Documents    int64 `json:"documents_bytes"` // the document library's files
	Messages     int64 `json:"messages_bytes"`  // contact messages' text
	// Content is the rest: settings, pages, news, events, officers,
	// accounts and SQLite's own structure.
	Content int64 `json:"content_bytes"`
}

// Percent is Used as a whole percentage of Quota (0 without a quota).
func (u Usage) Percent() int {
	if u.Quota <= 0 {
		return 0
	}
	return int(math.Round(100 * float64(u.Used) / float64(u.Quota)))
}

// Warn says the tenant is near its quota (at warnPercent or over).
func (u Usage) Warn() bool { return u.Quota > 0 && u.Used*100 >= u.Quota*warnPercent }

// Full says nothing more fits.
func (u Usage) Full() bool { return u.Quota > 0 && u.Used >= u.Quota }

// String is "12.3 MB of 200 MB (6%)", or "12.3 MB (no quota)".
func (u Usage) String() string {
	if u.Quota <= 0 {
		return FormatSize(u.Used) + " (no quota)"
	}
	return fmt.Sprintf("%s of %s (%d%%)", FormatSize(u.Used), FormatSize(u.Quota), u.Percent())
}

// Breakdown says what takes the room: "images 11.0 MB, messages 20 KB,
// pages, news and the rest 1.3 MB".
func (u Usage) Breakdown() string {
	return fmt.Sprintf("images %s, documents %s, messages %s, pages, news and the rest %s",
		FormatSize(u.Media), FormatSize(u.Documents), FormatSize(u.Messages), FormatSize(u.Content))
}

// QuotaError is a write refused because the tenant's storage is full:
// Need more bytes do not fit in its quota.
type QuotaError struct {
	Usage Usage
	Need  int64
}

func (e *QuotaError) Error() string {
	var b strings.Builder
	if e.Usage.Full() || e.Need <= 0 {
		fmt.Fprintf(&b, "this site's storage is full: it uses %s", e.Usage)
	} else {
		fmt.Fprintf(&b, "not enough storage left on this site: it uses %s and this needs %s more", e.Usage, FormatSize(e.Need))
	}
	fmt.Fprintf(&b, " (%s). Delete images you no longer use in Media, old documents, or old messages, to make room; or ask the platform's operator for a larger quota", e.Usage.Breakdown())
	return b.String()
}

// Usage measures tenant t's storage in its open database db. The measure
// is kept in memory and taken again only after a write to db (its
// generation moved), so checking it on every write costs no query.
func (p *Platform) Usage(ctx context.Context, t catalog.Tenant, db *tenantdb.DB) (Usage, error) {
	gen := db.Generation()
	var sp tenantdb.Space
	if m, ok := p.quota.spaces.Load(db.ID); ok && m.(measured).gen == gen {
		sp = m.(measured).space
	} else {
		var err error
		if sp, err = db.Space(ctx); err != nil {
			return Usage{}, fmt.Errorf("measuring the storage of tenant %s: %w", t.Slug, err)
		}
		p.quota.spaces.Store(db.ID, measured{gen: gen, space: sp})
	}
	u := Usage{
		Used:         sp.Used(),
		Quota:        p.QuotaOf(t),
		QuotaDefault: t.Quota == nil,
		File:         sp.Pages * sp.PageSize,
		Media:        sp.MediaBytes,
		MediaCount:   sp.MediaCount,
		Messages:     sp.MessageBytes,
		Documents:    sp.DocumentBytes,
	}
	u.Content = max(u.Used-u.Media-u.Documents-u.Messages, 0)
	return u, nil
}

// CheckRoom refuses, with a *QuotaError, a write of need more bytes to
// the tenant of db that would take it over its quota. need 0 is a write
// of bounded size (a post, a setting): refused once the site is full.
// Deletions are never checked: they are how room is made.
func (p *Platform) CheckRoom(ctx context.Context, db *tenantdb.DB, need int64) error {
	t, ok := p.Catalog.TenantByID(db.ID)
	if !ok {
		return fmt.Errorf("tenant %s: %w", db.ID, tenantdb.ErrNotFound)
	}
	u, err := p.Usage(ctx, t, db)
	if err != nil {
		return err
	}
	if u.Quota > 0 && (u.Used >= u.Quota || u.Used+need > u.Quota) {
		return &QuotaError{Usage: u, Need: need}
	}
	return nil
}

// CheckMessage refuses a visitor's contact message with ErrInboxFull when
// the messages already fill their share of the tenant's quota, or the
// site is full.
func (p *Platform) CheckMessage(ctx context.Context, db *tenantdb.DB) error {
	t, ok := p.Catalog.TenantByID(db.ID)
	if !ok {
		return fmt.Errorf("tenant %s: %w", db.ID, tenantdb.ErrNotFound)
	}
	u, err := p.Usage(ctx, t, db)
	if err != nil {
		return err
	}
	limit := int64(messageCapNoQuota)
	if u.Quota > 0 {
		limit = u.Quota * messageShare / 100
	}
	if u.Full() || u.Messages >= limit {
		return ErrInboxFull
	}
	return nil
}

// takeUpload counts an upload of n bytes against tenant id's upload
// limits; a *ratelimit.Error says how long to wait.
func (p *Platform) takeUpload(id string, n int) error {
	now := p.Now()
	if ok, wait := p.quota.uploads.Take(id, now); !ok {
		return &ratelimit.Error{What: fmt.Sprintf("too many uploads to this site (at most %d every 10 minutes)", uploadBurst), Wait: wait}
	}
	if ok, wait := p.quota.uploadBytes.TakeN(id, float64(n), now); !ok {
		return &ratelimit.Error{What: fmt.Sprintf("too much uploaded to this site at once (at most %s a minute)", FormatSize(uploadBytesPerMinute)), Wait: wait}
	}
	return nil
}

// lockRoom holds tenant id's room lock until the returned func is called.
func (p *Platform) lockRoom(id string) func() {
	h := fnv.New32a()
	h.Write([]byte(id))
	mu := &p.quota.rooms[h.Sum32()%uint32(len(p.quota.rooms))]
	mu.Lock()
	return mu.Unlock
}

// checkImportQuota refuses an imported file at path bigger than the quota
// of the tenant it becomes, unless forced.
func (p *Platform) checkImportQuota(req ImportRequest, existing catalog.Tenant, exists bool, path string) error {
	if req.Force {
		return nil
	}
	quota := p.DefaultQuota
	if exists {
		quota = p.QuotaOf(existing)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if quota > 0 && fi.Size() > quota {
		return fmt.Errorf("%w: the site takes %s, over its storage quota of %s; raise the quota first (`chapterhouse tenant set %s --quota SIZE`, for an existing tenant) or import with --force, after which its admins can only delete until it fits",
			tenantdb.ErrRejected, FormatSize(fi.Size()), FormatSize(quota), req.Slug)
	}
	return nil
}

// ParseSize reads a size as people type it: bytes ("1048576"), or a number
// with a unit, decimal ("500MB", "2GB", "1.5 GB", "300kb") or binary
// ("512MiB"). "0" is zero (for a quota: unlimited).
func ParseSize(s string) (int64, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	i := 0
	for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
		i++
	}
	num, unit := in[:i], strings.TrimSpace(in[i:])
	mult, ok := sizeUnits[unit]
	v, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || num == "" {
		return 0, fmt.Errorf("%q is not a size: give bytes, or a number with KB, MB or GB (like 500MB or 2GB)", s)
	}
	n := v * float64(mult)
	if n > 1<<60 {
		return 0, fmt.Errorf("%q is too large a size", s)
	}
	return int64(math.Round(n)), nil
}

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// FormatSize prints a byte count in decimal units, as ParseSize reads
// them and as disks are sold: "12.3 MB", "200 MB", "950 B".
func FormatSize(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	f, unit := float64(n), 0
	for f >= 1000 && unit < 4 {
		f /= 1000
		unit++
	}
	s := strconv.FormatFloat(f, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + [...]string{"B", "KB", "MB", "GB", "TB"}[unit]
}
