package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/imaging"
	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// siteForm is the settings page's data.
type siteForm struct {
	Site      tenantdb.Site
	Links     string // social links, one "Label | URL" a line
	Media     []tenantdb.Media
	Timezones []string
}

func linksText(ls []tenantdb.SocialLink) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "%s | %s\n", l.Label, l.URL)
	}
	return b.String()
}

// parseLinks reads "Label | URL" lines; a line with only a URL is
// labelled with its host.
func parseLinks(text string) ([]tenantdb.SocialLink, error) {
	links := []tenantdb.SocialLink{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		label, url, ok := strings.Cut(line, "|")
		if !ok {
			url = line
			label = strings.TrimPrefix(strings.TrimPrefix(line, "https://"), "http://")
			label, _, _ = strings.Cut(label, "/")
			label = strings.TrimPrefix(label, "www.")
		}
		label, url = strings.TrimSpace(label), strings.TrimSpace(url)
		if err := tenantdb.ValidateWebURL("social_links", url); err != nil {
			return nil, err
		}
		links = append(links, tenantdb.SocialLink{Label: label, URL: url})
	}
	return links, nil
}

func (h *Handler) siteForm(c echo.Context, site tenantdb.Site, links string) (siteForm, error) {
	media, err := httpx.DB(c).MediaList(c.Request().Context())
	return siteForm{Site: site, Links: links, Media: media, Timezones: timezones(site.Timezone)}, err
}

// showSiteSettings: GET /admin/site.
func (h *Handler) showSiteSettings(c echo.Context) error {
	site, err := httpx.DB(c).Site(c.Request().Context())
	if err != nil {
		return err
	}
	f, err := h.siteForm(c, site, linksText(site.SocialLinks))
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "site.html", "Site settings and theme", "site", f)
}

// saveSiteSettings: POST /admin/site.
func (h *Handler) saveSiteSettings(c echo.Context) error {
	ctx, db := c.Request().Context(), httpx.DB(c)
	site, err := db.Site(ctx)
	if err != nil {
		return err
	}
	site.Name = strings.TrimSpace(c.FormValue("name"))
	site.Tagline = strings.TrimSpace(c.FormValue("tagline"))
	site.About = c.FormValue("about")
	site.Address = strings.TrimSpace(c.FormValue("address"))
	site.Phone = strings.TrimSpace(c.FormValue("phone"))
	site.Email = strings.TrimSpace(c.FormValue("email"))
	site.MeetingInfo = c.FormValue("meeting_info")
	site.MembershipInfo = c.FormValue("membership_info")
	site.AccentColor = strings.ToLower(strings.TrimSpace(c.FormValue("accent_color")))
	site.LogoID = c.FormValue("logo_id")
	site.Timezone = c.FormValue("timezone")
	text := c.FormValue("social_links")
	links, err := parseLinks(text)
	if err == nil {
		site.SocialLinks = links
		err = db.UpdateSite(ctx, &site)
	}
	if err != nil {
		f, ferr := h.siteForm(c, site, text)
		if ferr != nil {
			return ferr
		}
		return h.renderInvalid(c, err, "site.html", "Site settings and theme", "site", f)
	}
	return done(c, "/admin/site", "saved")
}

// showMediaLibrary: GET /admin/media.
func (h *Handler) showMediaLibrary(c echo.Context) error {
	media, err := httpx.DB(c).MediaList(c.Request().Context())
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "media.html", "Media library", "media", media)
}

// uploadMediaForm: POST /admin/media.
func (h *Handler) uploadMediaForm(c echo.Context) error {
	_, err := httpx.UploadImage(c, h.p)
	var mbe *http.MaxBytesError
	var he *echo.HTTPError
	if errors.As(err, &mbe) || errors.As(err, new(*imaging.TooLargeError)) || errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge {
		err = &tenantdb.ValidationError{Field: "file", Message: fmt.Sprintf("the image is larger than %d MB; make it smaller and try again", tenantdb.MaxMediaSize>>20)}
		media, lerr := httpx.DB(c).MediaList(c.Request().Context())
		if lerr != nil {
			return lerr
		}
		p, perr := h.page(c, "Media library", "media", media)
		if perr != nil {
			return perr
		}
		p.Error, p.Field = "File: "+err.(*tenantdb.ValidationError).Message, "file"
		return c.Render(http.StatusRequestEntityTooLarge, "admin/media.html", p)
	}
	if err != nil {
		media, lerr := httpx.DB(c).MediaList(c.Request().Context())
		if lerr != nil {
			return lerr
		}
		return h.renderInvalid(c, err, "media.html", "Media library", "media", media)
	}
	return done(c, "/admin/media", "uploaded")
}

// updateMediaForm: POST /admin/media/:id changes the name and alt text.
func (h *Handler) updateMediaForm(c echo.Context) error {
	ctx, db := c.Request().Context(), httpx.DB(c)
	m, err := db.Media(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	if err := db.UpdateMediaAlt(ctx, m.ID, strings.TrimSpace(c.FormValue("name")), strings.TrimSpace(c.FormValue("alt"))); err != nil {
		media, lerr := db.MediaList(ctx)
		if lerr != nil {
			return lerr
		}
		return h.renderInvalid(c, err, "media.html", "Media library", "media", media)
	}
	return done(c, "/admin/media", "saved")
}

// deleteMediaForm: POST /admin/media/:id/delete.
func (h *Handler) deleteMediaForm(c echo.Context) error {
	if err := httpx.DB(c).DeleteMedia(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return done(c, "/admin/media", "deleted")
}

// showMessages: GET /admin/messages.
func (h *Handler) showMessages(c echo.Context) error {
	ms, err := httpx.DB(c).Messages(c.Request().Context())
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "messages.html", "Messages", "messages", ms)
}

// showMessage: GET /admin/messages/:id, which marks it read (unless the
// site is read-only for maintenance).
func (h *Handler) showMessage(c echo.Context) error {
	ctx, db := c.Request().Context(), httpx.DB(c)
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	m, err := db.Message(ctx, id)
	if err != nil {
		return err
	}
	if !m.Read && httpx.Tenant(c).Status == catalog.StatusActive {
		if err := db.MarkMessageRead(ctx, id, true); err != nil {
			return err
		}
	}
	return h.render(c, http.StatusOK, "message.html", "Message from "+m.Name, "messages", m)
}

// markMessageUnread: POST /admin/messages/:id/unread.
func (h *Handler) markMessageUnread(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).MarkMessageRead(c.Request().Context(), id, false); err != nil {
		return err
	}
	return done(c, "/admin/messages", "unread")
}

// deleteMessageForm: POST /admin/messages/:id/delete.
func (h *Handler) deleteMessageForm(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).DeleteMessage(c.Request().Context(), id); err != nil {
		return err
	}
	return done(c, "/admin/messages", "deleted")
}

// adminsData is the admins page's data.
type adminsData struct {
	Admins    []tenantdb.Admin
	Email     string // the add form as typed
	Role      string
	Generated string // a new admin's generated password, shown once
	NewEmail  string
}

// Removable says whether the page offers to remove a: not when a is the
// only owner, whom the server would refuse to remove anyway.
func (d adminsData) Removable(a tenantdb.Admin) bool {
	if a.Role != tenantdb.RoleOwner {
		return true
	}
	owners := 0
	for _, x := range d.Admins {
		if x.Role == tenantdb.RoleOwner {
			owners++
		}
	}
	return owners > 1
}

func (h *Handler) renderAdmins(c echo.Context, status int, d adminsData, err error) error {
	as, lerr := httpx.DB(c).Admins(c.Request().Context())
	if lerr != nil {
		return lerr
	}
	d.Admins = as
	if err != nil {
		if errors.Is(err, tenantdb.ErrConflict) {
			err = &tenantdb.ValidationError{Field: "email", Message: "there is already an admin with this email"}
		}
		return h.renderInvalid(c, err, "admins.html", "Admins", "admins", d)
	}
	return h.render(c, status, "admins.html", "Admins", "admins", d)
}

// showAdmins: GET /admin/admins (owners).
func (h *Handler) showAdmins(c echo.Context) error {
	return h.renderAdmins(c, http.StatusOK, adminsData{Role: tenantdb.RoleEditor}, nil)
}

// addAdminForm: POST /admin/admins (owners). A generated password is
// shown once on the answer page, which is not cached.
func (h *Handler) addAdminForm(c echo.Context) error {
	d := adminsData{Email: strings.TrimSpace(c.FormValue("email")), Role: c.FormValue("role")}
	a, generated, err := h.p.AddAdmin(c.Request().Context(), httpx.DB(c).DB, d.Email, d.Role, c.FormValue("password"))
	if err != nil {
		return h.renderAdmins(c, http.StatusUnprocessableEntity, d, err)
	}
	d = adminsData{Role: tenantdb.RoleEditor, Generated: generated, NewEmail: a.Email}
	if generated == "" {
		return done(c, "/admin/admins", "added")
	}
	return h.renderAdmins(c, http.StatusOK, d, nil)
}

// deleteAdminForm: POST /admin/admins/:id/delete (owners).
func (h *Handler) deleteAdminForm(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).DeleteAdmin(c.Request().Context(), id); err != nil {
		return h.renderAdmins(c, http.StatusUnprocessableEntity, adminsData{Role: tenantdb.RoleEditor}, err)
	}
	if id == auth.AdminOf(c).ID {
		h.auth.ClearCookie(c, auth.SessionCookie)
		return done(c, "/admin/login", "deleted")
	}
	return done(c, "/admin/admins", "deleted")
}

// showPassword: GET /admin/password.
func (h *Handler) showPassword(c echo.Context) error {
	return h.render(c, http.StatusOK, "password.html", "Change your password", "password", nil)
}

// changePasswordForm: POST /admin/password. All the admin's sessions end;
// this browser gets a new one.
func (h *Handler) changePasswordForm(c echo.Context) error {
	next := c.FormValue("new_password")
	if next != c.FormValue("confirm_password") {
		return h.renderInvalid(c, &tenantdb.ValidationError{Field: "confirm_password", Message: "the two new passwords differ"},
			"password.html", "Change your password", "password", nil)
	}
	sess, token, err := h.auth.ChangePassword(c, c.FormValue("current_password"), next)
	if err != nil {
		return h.renderInvalid(c, err, "password.html", "Change your password", "password", nil)
	}
	h.auth.SetCookie(c, auth.SessionCookie, token, sess.ExpiresAt.Sub(h.now()))
	return done(c, "/admin", "password")
}
