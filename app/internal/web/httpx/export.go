package httpx

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/labstack/echo/v4"
)

// ExportDownload streams the request's site as the same one-file export
// `chapterhouse export` writes: a consistent snapshot taken now, while the
// site keeps serving and taking changes, named for the site and day.
// actor (the owner who asked) is recorded in the catalog's audit log.
func ExportDownload(c echo.Context, p *platform.Platform, actor string) error {
	ctx := c.Request().Context()
	t := Tenant(c)
	tmp, err := p.TmpDir()
	if err != nil {
		return err
	}
	path := filepath.Join(tmp, fmt.Sprintf("download-%s-%s.db", t.ID, From(c).ID))
	info, err := DB(c).Export(ctx, path)
	if err != nil {
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
	// The server's write timeout suits pages, not a large site on a slow
	// link: allow the download a minute plus a minute per 5 MB.
	deadline := time.Now().Add(time.Minute + time.Duration(info.Size/(5<<20))*time.Minute)
	if err := http.NewResponseController(c.Response().Writer).SetWriteDeadline(deadline); err != nil {
		p.Log.Warn("export download: cannot extend the write deadline", "err", err)
	}
	_, err = io.Copy(c.Response(), f)
	return err
}
