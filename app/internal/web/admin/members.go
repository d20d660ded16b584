package admin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// The roster: members, their status and renewal date, invitations, the
// applications sent with the public form, and the roster as CSV. Owners
// only: it is people's personal data, not the site's content.

// maxRosterCSV bounds an imported roster file.
const maxRosterCSV = 4 << 20

func (h *Handler) memberRoutes(g *echo.Group, mw ...echo.MiddlewareFunc) {
	g.GET("/admin/members", h.showRoster, mw...)
	g.GET("/admin/members.csv", h.exportRoster, mw...)
	g.POST("/admin/members/invite", h.inviteMember, mw...)
	g.POST("/admin/members/import", h.importRoster, append([]echo.MiddlewareFunc{httpx.LimitBody(maxRosterCSV + 64<<10)}, mw...)...)
	g.GET("/admin/members/:id", h.showMember, mw...)
	g.POST("/admin/members/:id", h.saveMember, mw...)
	g.POST("/admin/members/:id/invite", h.resendInvitation, mw...)
	g.POST("/admin/members/:id/delete", h.deleteMember, mw...)
	g.POST("/admin/applications/:id/approve", h.approveApplication, mw...)
	g.POST("/admin/applications/:id/reject", h.rejectApplication, mw...)
}

// rosterData is the roster page.
type rosterData struct {
	Members      []tenantdb.Member
	Applications []tenantdb.Application
	Invite       tenantdb.Member // the invitation form as typed
	Today        string          // YYYY-MM-DD in the chapter's zone, to mark overdue renewals
	Import       *importResult
}

// importResult is what an import did, or why it did nothing.
type importResult struct {
	Added, Updated int
	Errors         []tenantdb.RowError
	More           int // bad lines not listed
}

// Overdue reports whether m's renewal date has passed.
func (d rosterData) Overdue(m tenantdb.Member) bool {
	return m.RenewalDate != "" && m.RenewalDate < d.Today
}

func (h *Handler) rosterData(c echo.Context) (rosterData, error) {
	ctx, db := c.Request().Context(), httpx.DB(c)
	var d rosterData
	var err error
	if d.Members, err = db.Members(ctx); err != nil {
		return d, err
	}
	if d.Applications, err = db.Applications(ctx); err != nil {
		return d, err
	}
	site, err := db.Site(ctx)
	if err != nil {
		return d, err
	}
	d.Today = h.now().In(zone(site.Timezone)).Format(time.DateOnly)
	return d, nil
}

// showRoster: GET /admin/members.
func (h *Handler) showRoster(c echo.Context) error {
	d, err := h.rosterData(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "members.html", "Members", "members", d)
}

// renderRoster shows the roster again after a refused form.
func (h *Handler) renderRoster(c echo.Context, status int, err error, change func(*rosterData)) error {
	d, derr := h.rosterData(c)
	if derr != nil {
		return derr
	}
	if change != nil {
		change(&d)
	}
	if err != nil {
		return h.renderInvalid(c, err, "members.html", "Members", "members", d)
	}
	return h.render(c, status, "members.html", "Members", "members", d)
}

// inviteMember: POST /admin/members/invite adds an invited member and
// mails them a link that logs them in (valid a week).
func (h *Handler) inviteMember(c echo.Context) error {
	var m tenantdb.Member
	m.SetFields(formField(c))
	err := httpx.DB(c).InviteMember(c.Request().Context(), &m, httpx.BaseURL(c))
	if errors.Is(err, tenantdb.ErrConflict) {
		err = m.AddressTaken(true)
	}
	if err != nil {
		return h.renderRoster(c, http.StatusUnprocessableEntity, err, func(d *rosterData) { d.Invite = m })
	}
	return done(c, "/admin/members", "member-invited")
}

// formField reads the fields of the request's posted form (a field not
// sent is not there: it is left as it is).
func formField(c echo.Context) func(name string) (string, bool) {
	c.FormValue("") // parse the form
	return func(name string) (string, bool) {
		v, ok := c.Request().PostForm[name]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
}

// exportRoster: GET /admin/members.csv, the roster as a spreadsheet.
func (h *Handler) exportRoster(c echo.Context) error {
	ms, err := httpx.DB(c).Members(c.Request().Context())
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := tenantdb.WriteMembersCSV(&b, ms); err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="members.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", b.Bytes())
}

// importRoster: POST /admin/members/import, a CSV file (or pasted text):
// every line is checked first, and any bad line imports nothing and is
// listed with its line number and what is wrong.
func (h *Handler) importRoster(c echo.Context) error {
	data, err := rosterUpload(c)
	if err != nil {
		return h.renderRoster(c, http.StatusUnprocessableEntity, nil, func(d *rosterData) {
			d.Import = &importResult{Errors: []tenantdb.RowError{{Message: err.Error()}}}
		})
	}
	rows, err := tenantdb.ParseMembersCSV(bytes.NewReader(data))
	var added, updated int
	if err == nil {
		added, updated, err = httpx.DB(c).ImportMembers(c.Request().Context(), rows)
	}
	if ce, ok := errors.AsType[*tenantdb.CSVError](err); ok {
		return h.renderRoster(c, http.StatusUnprocessableEntity, nil, func(d *rosterData) {
			d.Import = &importResult{Errors: ce.Rows, More: ce.Total - len(ce.Rows)}
		})
	}
	if err != nil {
		return err
	}
	return h.renderRoster(c, http.StatusOK, nil, func(d *rosterData) { d.Import = &importResult{Added: added, Updated: updated} })
}

// rosterUpload reads the imported CSV: the uploaded file, or else the
// text pasted in the form.
func rosterUpload(c echo.Context) ([]byte, error) {
	if fh, err := c.FormFile("file"); err == nil && fh.Size > 0 {
		if fh.Size > maxRosterCSV {
			return nil, fmt.Errorf("the file is larger than %d MB", maxRosterCSV>>20)
		}
		f, err := fh.Open()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, maxRosterCSV))
	}
	text := c.FormValue("csv")
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("choose a CSV file (or paste its lines) to import")
	}
	return []byte(text), nil
}

// memberForm is a member's edit page.
type memberForm struct {
	Member   tenantdb.Member
	Statuses []string
}

// showMember: GET /admin/members/:id.
func (h *Handler) showMember(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	m, err := httpx.DB(c).Member(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "member.html", m.Name, "members", memberForm{Member: m, Statuses: tenantdb.MemberStatuses})
}

// saveMember: POST /admin/members/:id.
func (h *Handler) saveMember(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	ctx, db := c.Request().Context(), httpx.DB(c)
	m, err := db.Member(ctx, id)
	if err != nil {
		return err
	}
	m.SetFields(formField(c))
	err = db.SaveMember(ctx, &m)
	if errors.Is(err, tenantdb.ErrConflict) {
		err = m.AddressTaken(false)
	}
	if err != nil {
		return h.renderInvalid(c, err, "member.html", m.Name, "members", memberForm{Member: m, Statuses: tenantdb.MemberStatuses})
	}
	return done(c, "/admin/members", "saved")
}

// resendInvitation: POST /admin/members/:id/invite.
func (h *Handler) resendInvitation(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).ResendInvitation(c.Request().Context(), id, httpx.BaseURL(c)); err != nil {
		return h.renderRoster(c, http.StatusUnprocessableEntity, err, nil)
	}
	return done(c, "/admin/members", "member-invited")
}

// deleteMember: POST /admin/members/:id/delete.
func (h *Handler) deleteMember(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).DeleteMember(c.Request().Context(), id); err != nil {
		return err
	}
	return done(c, "/admin/members", "deleted")
}

// approveApplication: POST /admin/applications/:id/approve makes a member
// of the applicant and mails them a welcome with a login link.
func (h *Handler) approveApplication(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	_, err = httpx.DB(c).ApproveApplication(c.Request().Context(), id, strings.TrimSpace(c.FormValue("renewal_date")), httpx.BaseURL(c))
	if errors.Is(err, tenantdb.ErrConflict) {
		err = &tenantdb.ValidationError{Field: "email", Message: "the applicant's address is already a member's: reject the application, or change that member"}
	}
	if err != nil {
		return h.renderRoster(c, http.StatusUnprocessableEntity, err, nil)
	}
	return done(c, "/admin/members", "approved")
}

// rejectApplication: POST /admin/applications/:id/reject deletes it.
func (h *Handler) rejectApplication(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).DeleteApplication(c.Request().Context(), id); err != nil {
		return err
	}
	return done(c, "/admin/members", "deleted")
}
