package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/imaging"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
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
	site.HeroID = c.FormValue("hero_id")
	site.Timezone = c.FormValue("timezone")
	site.Banner = strings.TrimSpace(c.FormValue("banner"))
	site.OfficersChange = strings.TrimSpace(c.FormValue("officers_change"))
	text := c.FormValue("social_links")
	links, err := parseLinks(text)
	if err == nil {
		site.BannerUntil, err = formTime(c, "banner_until", zone(site.Timezone))
		if site.Banner == "" {
			site.BannerUntil = nil // no banner: its end goes with it
		}
	}
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

// showMediaLibrary: GET /admin/media?page=&limit=.
func (h *Handler) showMediaLibrary(c echo.Context) error {
	p, err := httpx.ParsePaging(c)
	if err != nil {
		return err
	}
	media, err := httpx.DB(c).MediaIn(c.Request().Context(), p.Window())
	if err != nil {
		return err
	}
	media, next := httpx.Cut(p, media)
	return h.renderList(c, "media.html", "Media library", "media", p, next, media)
}

// firstMediaPage is the media library's first page, shown again under a
// refused form.
func firstMediaPage(c echo.Context) ([]tenantdb.Media, error) {
	return httpx.DB(c).MediaIn(c.Request().Context(), tenantdb.Window{Limit: httpx.MaxPageSize})
}

// uploadMediaForm: POST /admin/media.
func (h *Handler) uploadMediaForm(c echo.Context) error {
	_, err := httpx.UploadImage(c, h.p)
	var mbe *http.MaxBytesError
	var he *echo.HTTPError
	if errors.As(err, &mbe) || errors.As(err, new(*imaging.TooLargeError)) || errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge {
		msg := fmt.Sprintf("the image is larger than %d MB; make it smaller and try again", tenantdb.MaxMediaSize>>20)
		if tle, ok := errors.AsType[*imaging.TooLargeError](err); ok {
			msg = tle.Error() // too many pixels to decode says so, with the dimensions
		}
		err = &tenantdb.ValidationError{Field: "file", Message: msg}
		media, lerr := firstMediaPage(c)
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
	if qe := (*platform.QuotaError)(nil); errors.As(err, &qe) {
		// The library itself, where the admin can delete images to make room.
		media, lerr := httpx.DB(c).MediaList(c.Request().Context())
		if lerr != nil {
			return lerr
		}
		p, perr := h.page(c, "Media library", "media", media)
		if perr != nil {
			return perr
		}
		p.Error, p.Field = qe.Error(), "file"
		return c.Render(http.StatusInsufficientStorage, "admin/media.html", p)
	}
	if err != nil {
		media, lerr := firstMediaPage(c)
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
		media, lerr := firstMediaPage(c)
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

// showMessages: GET /admin/messages?page=&limit=.
func (h *Handler) showMessages(c echo.Context) error {
	p, err := httpx.ParsePaging(c)
	if err != nil {
		return err
	}
	ms, err := httpx.DB(c).MessagesIn(c.Request().Context(), p.Window())
	if err != nil {
		return err
	}
	ms, next := httpx.Cut(p, ms)
	notify, err := httpx.DB(c).NotifyMessages(c.Request().Context(), auth.AdminOf(c).ID)
	if err != nil {
		return err
	}
	return h.renderList(c, "messages.html", "Messages", "messages", p, next,
		messagesData{Messages: ms, Notify: notify, MailOn: h.p.MailOn()})
}

// messagesData is the inbox page's data.
type messagesData struct {
	Messages []tenantdb.Message
	// Notify is the admin's choice of a mail for each new message.
	Notify, MailOn bool
}

// showMessage: GET /admin/messages/:id shows a message and changes
// nothing: opening one from the list is a POST to .../read.
func (h *Handler) showMessage(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	m, err := httpx.DB(c).Message(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, "message.html", "Message from "+m.Name, "messages", m)
}

// openMessage: POST /admin/messages/:id/read marks a message read and
// shows it (the list's buttons and the message's "Mark as read").
func (h *Handler) openMessage(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).MarkMessageRead(c.Request().Context(), id, true); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/admin/messages/%d", id))
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
	// InviteLink is an invitation's link, shown once when mail is off;
	// Invitations are the open ones.
	InviteLink  string
	Invitations []tenantdb.MailToken
	MailOn      bool
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

// renderAdmins shows the admins page: one page of the admins (?page=,
// ?limit=), the add form, and err when the form was refused.
func (h *Handler) renderAdmins(c echo.Context, status int, d adminsData, err error) error {
	p, perr := httpx.ParsePaging(c)
	if perr != nil {
		return perr
	}
	as, lerr := httpx.DB(c).AdminsIn(c.Request().Context(), p.Window())
	if lerr != nil {
		return lerr
	}
	var next string
	d.Admins, next = httpx.Cut(p, as)
	d.MailOn = h.p.MailOn()
	if d.Invitations, lerr = httpx.DB(c).Invitations(c.Request().Context()); lerr != nil {
		return lerr
	}
	if err != nil {
		if errors.Is(err, tenantdb.ErrConflict) {
			err = &tenantdb.ValidationError{Field: "email", Message: "there is already an admin with this email"}
		}
		return h.renderInvalid(c, err, "admins.html", "Admins", "admins", d)
	}
	if status != http.StatusOK {
		return h.render(c, status, "admins.html", "Admins", "admins", d)
	}
	return h.renderList(c, "admins.html", "Admins", "admins", p, next, d)
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
