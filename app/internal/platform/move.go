package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/internal/hold"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// mover moves one tenant to another data dir: freeze, drain, export, import
// there (frozen, digest checked), verify, thaw there, remove here.
type mover struct {
	p         *Platform
	t         catalog.Tenant
	dest      Remote
	out, warn io.Writer
	actor     string
	frozen    bool // we froze the source
	created   bool // the tenant exists at the destination
	files     []string
	record    string // DATA/moves/<id>.json while the move is under way
}

// Remote is another data dir: it runs operator commands there, through
// the control socket of the server that owns it or, with no server, in
// this process under its lock, exactly as an operator's CLI would.
type Remote interface {
	Dir() string
	Served() bool
	Run(ctx context.Context, args ...string) (string, error)
}

// Move moves tenant t to the data dir dest, while it is served: freeze,
// drain, export, import there (frozen, digest checked), verify, thaw
// there, remove here (the file goes to the trash). A failure before the
// end deletes the copy there and thaws the tenant here. Progress is
// written to out, warnings to warn; actor is who asked, for the audit log.
func (p *Platform) Move(ctx context.Context, t catalog.Tenant, dest Remote, out, warn io.Writer, actor string) error {
	m := &mover{p: p, t: t, dest: dest, out: out, warn: warn, actor: actor}
	return m.move(ctx)
}

func (m *mover) printf(format string, args ...any) { fmt.Fprintf(m.out, format, args...) }

func (m *mover) move(ctx context.Context) (err error) {
	defer func() {
		for _, f := range m.files {
			os.Remove(f)
		}
		if err != nil {
			m.undo(context.WithoutCancel(ctx))
		}
		if m.record != "" {
			os.Remove(m.record)
		}
	}()
	how := "its server"
	if !m.dest.Served() {
		how = "this process (no server runs there)"
	}
	m.printf("moving %s to %s through %s\n", m.t.Slug, m.dest.Dir(), how)
	domains, err := m.p.Catalog.Domains(ctx, m.t.ID)
	if err != nil {
		return err
	}
	if err := m.preflight(ctx, domains); err != nil {
		return err
	}
	start := time.Now()
	if err := m.writeRecord(false); err != nil {
		return err
	}
	if err := m.freeze(ctx); err != nil {
		return err
	}
	hold.At("move.frozen")
	file, sum, err := m.export(ctx)
	if err != nil {
		return err
	}
	hold.At("move.exported")
	if err := m.importThere(ctx, file, sum, domains); err != nil {
		return err
	}
	hold.At("move.imported")
	if err := m.writeRecord(true); err != nil {
		return err
	}
	hold.At("move.committed")
	if err := m.thawThere(ctx); err != nil {
		return err
	}
	hold.At("move.thawed")
	window := time.Since(start)
	name, err := m.p.retire(ctx, m.t, "moved")
	if name == "" {
		return fmt.Errorf("the tenant is served at the destination, but removing it here failed (it stays frozen here): %w", err)
	}
	m.created, m.frozen = false, false // past the point of undoing
	if err != nil {
		return fmt.Errorf("the tenant is served at the destination; moving its old file to the trash failed: %w", err)
	}
	m.report(ctx, domains, sum, name, window)
	return nil
}

// freeze makes the source refuse writes (503) and drains it, so that the
// export holds every write that was acknowledged.
func (m *mover) freeze(ctx context.Context) error {
	if m.t.Status == catalog.StatusActive {
		if _, err := m.p.Catalog.SetStatus(ctx, m.t.Slug, catalog.StatusFrozen); err != nil {
			return err
		}
		m.frozen = true
	}
	if err := m.p.Pool.Drain(ctx, m.t.ID, func() error { return nil }); err != nil {
		return fmt.Errorf("draining the writes in flight: %w", err)
	}
	return nil
}

// export writes the frozen source to a work file and checks that the
// file's logical digest is the live tenant's; it returns the digest.
func (m *mover) export(ctx context.Context) (file, sum string, err error) {
	p, t := m.p, m.t
	tmp, err := p.TmpDir()
	if err != nil {
		return "", "", err
	}
	file = filepath.Join(tmp, fmt.Sprintf("move-%s-%d.db", t.ID, time.Now().UnixNano()))
	m.files = append(m.files, file)
	info, err := p.Export(ctx, t, file)
	if err != nil {
		return "", "", fmt.Errorf("export: %w", err)
	}
	live, err := p.Digest(ctx, t)
	if err != nil {
		return "", "", err
	}
	exported, err := tenantdb.FileDigest(ctx, file)
	if err != nil {
		return "", "", err
	}
	if live.Sum() != exported.Sum() {
		return "", "", fmt.Errorf("the tenant changed while frozen (tables %v); nothing was moved", live.Diff(exported))
	}
	sum = exported.Sum()
	m.printf("exported %s (%s, digest %s)\n", t.Slug, HumanSize(info.Size), sum)
	return file, sum, nil
}

// importThere imports the export at the destination, frozen (nothing is
// written there before its digest is checked), with the tenant's id, name
// and custom domains, and then checks the destination's digest.
func (m *mover) importThere(ctx context.Context, file, sum string, domains []catalog.Domain) error {
	t := m.t
	domainsFile := file + ".domains.json"
	m.files = append(m.files, domainsFile)
	if err := WriteFileAtomic(domainsFile, domains); err != nil {
		return err
	}
	destStatus := catalog.StatusFrozen
	if t.Status == catalog.StatusSuspended {
		destStatus = t.Status
	}
	if _, err := m.dest.Run(ctx, "import", t.Slug, file, "--id", t.ID, "--name", t.Name, "--status", destStatus,
		"--expect-digest", sum, "--domains", domainsFile, "--force"); err != nil {
		return fmt.Errorf("the destination refused the import: %v", err)
	}
	m.created = true
	out, err := m.dest.Run(ctx, "tenant", "digest", t.Slug)
	if err != nil {
		return fmt.Errorf("digest at the destination: %v", err)
	}
	if got := strings.Fields(out); len(got) == 0 || got[0] != sum {
		return fmt.Errorf("the destination's digest %q is not the source's %s", strings.TrimSpace(out), sum)
	}
	m.printf("verified: the destination's digest equals the source's\n")
	return nil
}

// thawThere lets the destination take writes, if the source took them.
func (m *mover) thawThere(ctx context.Context) error {
	if m.t.Status != catalog.StatusActive {
		return nil
	}
	if _, err := m.dest.Run(ctx, "tenant", "thaw", m.t.Slug); err != nil {
		return fmt.Errorf("thawing at the destination: %v", err)
	}
	return nil
}

// report records the move in the audit log and tells the operator what
// happened and what is left to do.
func (m *mover) report(ctx context.Context, domains []catalog.Domain, sum, trashed string, window time.Duration) {
	t := m.t
	hosts := make([]string, len(domains))
	for i, d := range domains {
		hosts[i] = d.Host
	}
	m.p.Audit(ctx, m.actor, "tenant.move", t.ID, fmt.Sprintf("%s to %s (digest %s, %d domains, writes refused for %s)",
		t.Slug, m.dest.Dir(), sum, len(domains), window.Round(time.Millisecond)))
	m.printf("moved %s to %s\n", t.Slug, m.dest.Dir())
	if len(hosts) > 0 {
		m.printf("custom domains now routed there: %s\n", strings.Join(hosts, ", "))
	}
	m.printf("the source file is kept in the trash as %s\n", trashed)
	if t.Status == catalog.StatusActive {
		m.printf("freeze window (writes refused): %s\n", window.Round(time.Millisecond))
	}
	m.printf("point %s.%s (and the custom domains' DNS) at the destination's server if it is another machine\n", t.Slug, m.p.Base)
}

// preflight checks that the destination can take the tenant: the slug and
// every custom domain are free there.
func (m *mover) preflight(ctx context.Context, domains []catalog.Domain) error {
	out, err := m.dest.Run(ctx, "tenant", "list", "--json")
	if err != nil {
		return fmt.Errorf("destination: %v", err)
	}
	var ts []catalog.Tenant
	if err := json.Unmarshal([]byte(out), &ts); err != nil {
		return fmt.Errorf("destination tenant list: %w", err)
	}
	for _, t := range ts {
		if t.Slug == m.t.Slug {
			return fmt.Errorf("the destination has a tenant %q already", t.Slug)
		}
	}
	if len(domains) == 0 {
		return nil
	}
	out, err = m.dest.Run(ctx, "domain", "list", "--json")
	if err != nil {
		return fmt.Errorf("destination: %v", err)
	}
	var ds []catalog.Domain
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		return fmt.Errorf("destination domain list: %w", err)
	}
	taken := map[string]string{}
	for _, d := range ds {
		taken[d.Host] = d.Slug
	}
	for _, d := range domains {
		if slug, ok := taken[d.Host]; ok {
			return fmt.Errorf("domain %s belongs to tenant %s at the destination", d.Host, slug)
		}
	}
	return nil
}

// undo puts the source back as it was after a failed move: the copy at
// the destination is deleted (into its trash) and the source thawed.
func (m *mover) undo(ctx context.Context) {
	if m.created {
		if _, err := m.dest.Run(ctx, "tenant", "delete", m.t.Slug); err != nil {
			fmt.Fprintf(m.warn, "warning: removing the partial copy at the destination: %v\n", err)
		}
	}
	if m.frozen {
		if _, err := m.p.Catalog.SetStatus(ctx, m.t.Slug, catalog.StatusActive); err != nil {
			fmt.Fprintf(m.warn, "warning: thawing %s again: %v\n", m.t.Slug, err)
		}
	}
}

// moveRecord is DATA/moves/<id>.json: a move under way. It is written
// before the source is frozen and again, Committed, once the destination
// holds the verified copy; the move removes it when it ends either way. A
// move killed midway is finished or undone from it at the next start
// (RecoverMoves).
type moveRecord struct {
	ID        string `json:"id"`
	Slug      string `json:"slug"`
	Status    string `json:"status"` // the source's status before the move
	Dest      string `json:"dest"`
	Committed bool   `json:"committed"`
}

func (m *mover) writeRecord(committed bool) error {
	dir := filepath.Join(m.p.Dir, "moves")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := sqlitefile.SyncDir(m.p.Dir); err != nil {
		return err
	}
	m.record = filepath.Join(dir, m.t.ID+".json")
	rec := moveRecord{ID: m.t.ID, Slug: m.t.Slug, Status: m.t.Status, Dest: m.dest.Dir(), Committed: committed}
	if err := WriteFileAtomic(m.record, rec); err != nil {
		return fmt.Errorf("recording the move: %w", err)
	}
	return nil
}

// RecoverMoves finishes or undoes each move a crash interrupted, from its
// record in DATA/moves/. A committed one (the destination held the
// verified copy, and may have taken writes) is finished: thawed there and
// retired here. Any other is undone: the copy there, if any, is deleted
// and the source thawed, so it takes writes again. reach connects to a
// destination data dir; one it cannot reach leaves a committed move's
// source frozen (thawing it could serve the tenant in two places) and
// its record for the next start. Only the owner of the data dir calls
// it, before serving.
func (p *Platform) RecoverMoves(ctx context.Context, reach func(ctx context.Context, dir string) (Remote, func(), error)) {
	removeUnwrittenRecords(filepath.Join(p.Dir, "moves"))
	files, _ := filepath.Glob(filepath.Join(p.Dir, "moves", "*.json"))
	for _, f := range files {
		if err := p.recoverMove(ctx, f, reach); err != nil {
			p.Log.Error("an interrupted move could not be recovered; it is tried again at the next start", "record", f, "err", err)
			continue
		}
		os.Remove(f)
	}
}

func (p *Platform) recoverMove(ctx context.Context, file string, reach func(ctx context.Context, dir string) (Remote, func(), error)) error {
	var rec moveRecord
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	t, here := p.Catalog.TenantByID(rec.ID)
	thawHere := func() error {
		if !here || t.Status != catalog.StatusFrozen || rec.Status != catalog.StatusActive {
			return nil
		}
		_, err := p.Catalog.SetStatus(ctx, t.Slug, catalog.StatusActive)
		return err
	}
	dest, done, err := reach(ctx, rec.Dest)
	if err != nil {
		if !rec.Committed {
			// The copy there, if any, is frozen: this side may take writes.
			err = errors.Join(err, thawHere())
		}
		return fmt.Errorf("destination %s: %w", rec.Dest, err)
	}
	defer done()
	there, err := tenantThere(ctx, dest, rec)
	if err != nil {
		return err
	}
	if rec.Committed || !here {
		if there == nil {
			return fmt.Errorf("the move of %s was committed, but the destination %s does not have it; it stays frozen here", rec.Slug, rec.Dest)
		}
		if there.Status == catalog.StatusFrozen && rec.Status == catalog.StatusActive {
			if _, err := dest.Run(ctx, "tenant", "thaw", rec.Slug); err != nil {
				return fmt.Errorf("thawing %s at the destination: %v", rec.Slug, err)
			}
		}
		if here {
			if _, err := p.retire(ctx, t, "moved"); err != nil {
				return err
			}
		}
		p.Log.Warn("finished a move a crash interrupted", "tenant", rec.Slug, "dest", rec.Dest)
		return nil
	}
	if there != nil {
		if _, err := dest.Run(ctx, "tenant", "delete", rec.Slug); err != nil {
			return fmt.Errorf("deleting the partial copy of %s at the destination: %v", rec.Slug, err)
		}
	}
	if err := thawHere(); err != nil {
		return err
	}
	p.Log.Warn("undid a move a crash interrupted", "tenant", rec.Slug, "dest", rec.Dest)
	return nil
}

// tenantThere is the destination's tenant of a move record: its slug with
// the record's id (a tenant of that slug with another id is not ours).
func tenantThere(ctx context.Context, dest Remote, rec moveRecord) (*catalog.Tenant, error) {
	out, err := dest.Run(ctx, "tenant", "list", "--json")
	if err != nil {
		return nil, fmt.Errorf("destination %s: %v", dest.Dir(), err)
	}
	var ts []catalog.Tenant
	if err := json.Unmarshal([]byte(out), &ts); err != nil {
		return nil, fmt.Errorf("destination tenant list: %w", err)
	}
	for _, t := range ts {
		if t.Slug == rec.Slug && t.ID == rec.ID {
			return &t, nil
		}
	}
	return nil, nil
}
