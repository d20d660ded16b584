package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/labstack/echo/v4"
)

// ErrExportRunning is a download asked for while one of the same site
// runs: each holds a whole snapshot of the site on disk.
var ErrExportRunning = echo.NewHTTPError(http.StatusTooManyRequests,
	"an export of this site is already being downloaded; wait for it to finish, then try again")

// ErrExportsBusy is a download asked for while the platform's bound of
// downloads at once is reached.
var ErrExportsBusy = errors.New("too many sites are being exported right now; please try again in a minute")

// ExportSlots bounds export downloads: one per tenant, and at most max at
// once across the platform. Each download holds a snapshot file (as large
// as the site) from the moment it is taken until the last byte is sent.
type ExportSlots struct {
	mu      sync.Mutex
	max     int
	running map[string]bool // by tenant id

	// RefusedTenant and RefusedTotal count the downloads refused because
	// one of the same tenant ran, and because max ran.
	RefusedTenant, RefusedTotal atomic.Int64
}

// NewExportSlots allows n downloads at once (at least one).
func NewExportSlots(n int) *ExportSlots {
	return &ExportSlots{max: max(n, 1), running: map[string]bool{}}
}

// Begin takes a download slot for tenant id; call end when the download
// is over.
func (s *ExportSlots) Begin(id string) (end func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[id] {
		s.RefusedTenant.Add(1)
		return nil, ErrExportRunning
	}
	if len(s.running) >= s.max {
		s.RefusedTotal.Add(1)
		return nil, ErrExportsBusy
	}
	s.running[id] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.running, id)
			s.mu.Unlock()
		})
	}, nil
}

// Running is the number of downloads running now.
func (s *ExportSlots) Running() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.running)
}

// ExportDownload streams the request's site as the same one-file export
// `chapterhouse export` writes: a consistent snapshot taken now, while the
// site keeps serving and taking changes, named for the site and day.
// actor (the owner who asked) is recorded in the catalog's audit log.
//
// One download per site runs at a time and a bounded number at once (see
// ExportSlots). The snapshot is unlinked as soon as it is open, and the
// tenant's pool slot is given back before the first byte is sent: the
// download then holds only its open file, which is closed (and its space
// freed) as soon as the transfer ends or the client stops reading for the
// body timeout (the response is paced, see PacedWriter).
func ExportDownload(c echo.Context, p *platform.Platform, actor string) error {
	ctx := c.Request().Context()
	t := Tenant(c)
	if slots := From(c).Exports; slots != nil {
		end, err := slots.Begin(t.ID)
		if err != nil {
			return err
		}
		defer end()
	}
	tmp, err := p.TmpDir()
	if err != nil {
		return err
	}
	path := filepath.Join(tmp, fmt.Sprintf("download-%s-%s.db", t.ID, From(c).ID))
	info, err := DB(c).Export(ctx, path)
	if err != nil {
		os.Remove(path)
		return err
	}
	f, err := os.Open(path)
	os.Remove(path) // the open file is all the download needs
	if err != nil {
		return err
	}
	defer f.Close()
	if err := p.Catalog.Audit(ctx, actor, "tenant.export.download", t.ID,
		fmt.Sprintf("%s by %s (%d bytes, sha256 %s)", t.Slug, actor, info.Size, info.SHA256)); err != nil {
		return err
	}
	ReleaseDB(c)
	name := fmt.Sprintf("%s-%s.chapterhouse.db", t.Slug, p.Now().UTC().Format("2006-01-02"))
	h := c.Response().Header()
	h.Set("Content-Type", "application/vnd.sqlite3")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	h.Set("X-Content-SHA256", info.SHA256)
	h.Set("X-Schema-Version", strconv.FormatInt(info.Version, 10))
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(http.StatusOK)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	// The tenant middleware paces the response: a large site on a slow
	// link keeps going past the server's write timeout, a client that
	// stops reading is cut off and the file closed.
	_, err = io.Copy(c.Response(), f)
	return err
}
