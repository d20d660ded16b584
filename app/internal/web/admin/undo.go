package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb/replica"
)

// undoData is what the dashboard's "Undo changes" page shows.
type undoData struct {
	When    string // as typed
	Enabled bool   // the server replicates (--replica)
	Zone    string // the site's time zone, in which a typed time is read
	// Preview, when set, compares the site now and at Preview.At, and
	// At is the moment the confirm button restores.
	Preview *platform.RestorePreview
	At      string
	Rows    []undoRow
}

type undoRow struct {
	Label     string
	Now, Then int64
}

var undoTables = []struct{ table, label string }{
	{"posts", "News posts"}, {"events", "Events"}, {"pages", "Pages"}, {"media", "Images and files"},
	{"officers", "Officers"}, {"messages", "Contact messages"},
}

func (h *Handler) renderUndo(c echo.Context, status int, d undoData, problem string) error {
	d.Enabled = h.p.Replica != nil
	site, err := httpx.DB(c).Site(c.Request().Context())
	if err != nil {
		return err
	}
	d.Zone = site.Timezone
	p, err := h.page(c, "Undo changes", "undo", d)
	if err != nil {
		return err
	}
	p.Error = problem
	if problem != "" {
		p.Field = "when"
	}
	return c.Render(status, "admin/undo.html", p)
}

// showUndo: GET /admin/undo (owners).
func (h *Handler) showUndo(c echo.Context) error {
	return h.renderUndo(c, http.StatusOK, undoData{}, "")
}

// parseWhen reads the moment an owner typed: "2h ago", RFC 3339, or a
// date and time in the site's time zone (what a datetime-local field
// sends).
func parseWhen(s, zone string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			if t.After(now) {
				return time.Time{}, fmt.Errorf("%s is in the future", s)
			}
			return t, nil
		}
	}
	t, err := platform.ParseTime(s, now)
	if err != nil {
		return time.Time{}, errors.New(`give a moment in the past: "2h ago", "3d ago", or a date and time like 2026-05-01 14:30`)
	}
	return t, nil
}

// previewUndo: POST /admin/undo/preview (owners): what the site was at
// the moment typed, beside what it is now.
func (h *Handler) previewUndo(c echo.Context) error {
	d := undoData{When: c.FormValue("when")}
	target, err := h.p.ReplicaTarget("")
	if err != nil {
		return h.renderUndo(c, http.StatusConflict, d, "Undo needs the server to run with a replica (--replica).")
	}
	site, err := httpx.DB(c).Site(c.Request().Context())
	if err != nil {
		return err
	}
	at, err := parseWhen(d.When, site.Timezone, time.Now())
	if err != nil {
		msg := err.Error()
		return h.renderUndo(c, http.StatusUnprocessableEntity, d, strings.ToUpper(msg[:1])+msg[1:]+".")
	}
	pv, err := h.p.PreviewRestore(c.Request().Context(), target, httpx.Tenant(c), at)
	if errors.Is(err, replica.ErrNotAvailable) {
		return h.renderUndo(c, http.StatusUnprocessableEntity, d, "The site's history does not reach that moment: "+err.Error())
	}
	if err != nil {
		return err
	}
	d.Preview, d.At = &pv, at.UTC().Format(time.RFC3339Nano)
	for _, t := range undoTables {
		d.Rows = append(d.Rows, undoRow{t.label, pv.Now[t.table], pv.Then[t.table]})
	}
	return h.renderUndo(c, http.StatusOK, d, "")
}

// doUndo: POST /admin/undo (owners): restores the site as it was at the
// previewed moment, like `restore SLUG --at`, and audits it. The request
// gives its hold on the tenant back first: the restore drains it.
func (h *Handler) doUndo(c echo.Context) error {
	at, err := time.Parse(time.RFC3339Nano, c.FormValue("at"))
	if err != nil {
		return h.renderUndo(c, http.StatusUnprocessableEntity, undoData{}, "Choose the moment again and preview it first.")
	}
	target, err := h.p.ReplicaTarget("")
	if err != nil {
		return h.renderUndo(c, http.StatusConflict, undoData{}, "Undo needs the server to run with a replica (--replica).")
	}
	t := httpx.Tenant(c)
	ctx := c.Request().Context()
	actor := auth.Actor(c)
	httpx.ReleaseDB(c)
	if _, err := h.p.RestoreAt(ctx, target, t.Slug, at, ""); err != nil {
		return err
	}
	if err := h.p.Catalog.Audit(ctx, actor, "tenant.restore_at", t.ID, fmt.Sprintf("%s as it was at %s, from the dashboard (replica %s)", t.Slug, at.Format(time.RFC3339Nano), target)); err != nil {
		h.p.Log.Error("audit", "err", err)
	}
	// The restored file has the sessions of that moment: if this one is
	// younger, the owner logs in again.
	return c.Redirect(http.StatusSeeOther, "/admin?done=restored")
}
