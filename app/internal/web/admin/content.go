package admin

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// contentKind is one kind of numbered content (news posts, events,
// officers, custom pages) as the dashboard lists and edits it.
type contentKind[T any] struct {
	res     platform.Content[T]
	path    string // "/admin/posts"
	list    string // list template
	edit    string // edit template
	plural  string // list page title
	noun    string // "post"
	section string
	id      func(T) int64
	title   func(T) string
	// blank is a new item with its defaults.
	blank func(site tenantdb.Site, now time.Time) T
	// fromForm applies the submitted form onto v.
	fromForm func(c echo.Context, site tenantdb.Site, v *T) error
	// markdown is the text a preview renders, nil for no preview.
	markdown func(T) string
	// extra is more data for the edit form.
	extra func(v T, site tenantdb.Site) any
}

// editData is what an edit form renders from.
type editData[T any] struct {
	Item    T
	New     bool
	Action  string // where the form posts
	Preview template.HTML
	Media   []tenantdb.Media
	Extra   any
}

func (k contentKind[T]) routes(h *Handler, g *echo.Group, mw ...echo.MiddlewareFunc) {
	g.GET(k.path, k.showList(h), mw...)
	g.GET(k.path+"/new", k.showEdit(h), mw...)
	saving := append(slices.Clip(mw), httpx.NeedsRoom(h.p))
	g.POST(k.path+"/new", k.save(h), saving...)
	g.GET(k.path+"/:id", k.showEdit(h), mw...)
	g.POST(k.path+"/:id", k.save(h), saving...)
	g.POST(k.path+"/:id/delete", k.delete(h), mw...)
}

func (k contentKind[T]) showList(h *Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := httpx.ParsePaging(c)
		if err != nil {
			return err
		}
		items, err := k.res.List(httpx.DB(c).DB, c.Request().Context(), p.Window())
		if err != nil {
			return err
		}
		items, next := httpx.Cut(p, items)
		return h.renderList(c, k.list, k.plural, k.section, p, next, items)
	}
}

// load returns the item of the path's :id, or a blank one for /new.
func (k contentKind[T]) load(c echo.Context, site tenantdb.Site, now time.Time) (T, bool, error) {
	if c.Param("id") == "" {
		return k.blank(site, now), true, nil
	}
	id, err := httpx.IDParam(c)
	if err != nil {
		var zero T
		return zero, false, err
	}
	v, err := k.res.Get(httpx.DB(c).DB, c.Request().Context(), id)
	return v, false, err
}

func (k contentKind[T]) data(c echo.Context, site tenantdb.Site, v T, isNew bool) (editData[T], error) {
	d := editData[T]{Item: v, New: isNew, Action: k.path + "/new"}
	if !isNew {
		d.Action = fmt.Sprintf("%s/%d", k.path, k.id(v))
	}
	media, err := httpx.DB(c).MediaList(c.Request().Context())
	if err != nil {
		return d, err
	}
	d.Media = media
	if k.extra != nil {
		d.Extra = k.extra(v, site)
	}
	return d, nil
}

func (k contentKind[T]) editTitle(v T, isNew bool) string {
	if isNew {
		return "New " + k.noun
	}
	return "Edit " + k.noun + ": " + k.title(v)
}

func (k contentKind[T]) showEdit(h *Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		site, err := httpx.DB(c).Site(c.Request().Context())
		if err != nil {
			return err
		}
		v, isNew, err := k.load(c, site, h.now())
		if err != nil {
			return err
		}
		d, err := k.data(c, site, v, isNew)
		if err != nil {
			return err
		}
		return h.render(c, http.StatusOK, k.edit, k.editTitle(v, isNew), k.section, d)
	}
}

// save stores the form, or with the Preview button shows it rendered
// without storing anything.
func (k contentKind[T]) save(h *Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, db := c.Request().Context(), httpx.DB(c)
		site, err := db.Site(ctx)
		if err != nil {
			return err
		}
		v, isNew, err := k.load(c, site, h.now())
		if err != nil {
			return err
		}
		title := k.editTitle(v, isNew)
		err = k.fromForm(c, site, &v)
		d, derr := k.data(c, site, v, isNew)
		if derr != nil {
			return derr
		}
		if err != nil {
			return h.renderInvalid(c, err, k.edit, title, k.section, d)
		}
		if c.FormValue("action") == "preview" && k.markdown != nil {
			d.Preview = h.md.HTML(k.markdown(v))
			return h.render(c, http.StatusOK, k.edit, title, k.section, d)
		}
		if err := k.res.Save(db.DB, ctx, &v); err != nil {
			return h.renderInvalid(c, err, k.edit, title, k.section, d)
		}
		return done(c, fmt.Sprintf("%s/%d", k.path, k.id(v)), "saved")
	}
}

func (k contentKind[T]) delete(h *Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := httpx.IDParam(c)
		if err != nil {
			return err
		}
		if err := k.res.Delete(httpx.DB(c).DB, c.Request().Context(), id); err != nil {
			return err
		}
		return done(c, k.path, "deleted")
	}
}

// Form helpers: each refusal names the field.

func formInt(c echo.Context, field string) (int, error) {
	v := strings.TrimSpace(c.FormValue(field))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < -1_000_000 || n > 1_000_000 {
		return 0, &tenantdb.ValidationError{Field: field, Message: "must be a whole number"}
	}
	return n, nil
}

// localLayout is what <input type="datetime-local"> sends.
const localLayout = "2006-01-02T15:04"

// formTime reads a datetime-local field as a time in loc; empty is nil.
func formTime(c echo.Context, field string, loc *time.Location) (*time.Time, error) {
	v := strings.TrimSpace(c.FormValue(field))
	if v == "" {
		return nil, nil
	}
	t, err := time.ParseInLocation(localLayout, v, loc)
	if err != nil {
		t, err = time.ParseInLocation(localLayout+":05", v, loc)
	}
	if err != nil {
		return nil, &tenantdb.ValidationError{Field: field, Message: fmt.Sprintf("%q is not a date and time like 2026-06-09T19:00", v)}
	}
	return &t, nil
}

func checked(c echo.Context, field string) bool {
	v := c.FormValue(field)
	return v == "on" || v == "true" || v == "1"
}

func zone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" {
		return time.UTC
	}
	return loc
}

var postKind = contentKind[tenantdb.Post]{
	res: platform.Posts, path: "/admin/posts", list: "posts.html", edit: "post.html",
	plural: "News", noun: "post", section: "posts",
	id:    func(p tenantdb.Post) int64 { return p.ID },
	title: func(p tenantdb.Post) string { return p.Title },
	blank: func(tenantdb.Site, time.Time) tenantdb.Post { return tenantdb.Post{Published: true} },
	fromForm: func(c echo.Context, site tenantdb.Site, p *tenantdb.Post) error {
		p.Title = strings.TrimSpace(c.FormValue("title"))
		p.Slug = strings.TrimSpace(c.FormValue("slug"))
		p.Body = c.FormValue("body")
		p.Published = checked(c, "published")
		p.Visibility = formVisibility(c)
		p.ImageID = c.FormValue("image_id")
		at, err := formTime(c, "published_at", zone(site.Timezone))
		if err != nil {
			return err
		}
		p.PublishedAt = at
		return nil
	},
	markdown: func(p tenantdb.Post) string { return p.Body },
}

// formVisibility is the visibility the form's "Members only" box asks for.
func formVisibility(c echo.Context) tenantdb.Visibility {
	if checked(c, "members_only") {
		return tenantdb.Members
	}
	return tenantdb.Public
}

var pageKind = contentKind[tenantdb.Page]{
	res: platform.Pages, path: "/admin/pages", list: "pages.html", edit: "page.html",
	plural: "Pages", noun: "page", section: "pages",
	id:    func(p tenantdb.Page) int64 { return p.ID },
	title: func(p tenantdb.Page) string { return p.Title },
	blank: func(tenantdb.Site, time.Time) tenantdb.Page { return tenantdb.Page{Published: true, ShowInNav: true} },
	fromForm: func(c echo.Context, _ tenantdb.Site, p *tenantdb.Page) error {
		p.Title = strings.TrimSpace(c.FormValue("title"))
		p.Slug = strings.TrimSpace(c.FormValue("slug"))
		p.Body = c.FormValue("body")
		p.Published = checked(c, "published")
		p.ShowInNav = checked(c, "show_in_nav")
		p.Visibility = formVisibility(c)
		n, err := formInt(c, "position")
		p.Position = n
		return err
	},
	markdown: func(p tenantdb.Page) string { return p.Body },
}

var officerKind = contentKind[tenantdb.Officer]{
	res: platform.Officers, path: "/admin/officers", list: "officers.html", edit: "officer.html",
	plural: "Officers", noun: "officer", section: "officers",
	id:    func(o tenantdb.Officer) int64 { return o.ID },
	title: func(o tenantdb.Officer) string { return o.Name },
	blank: func(tenantdb.Site, time.Time) tenantdb.Officer { return tenantdb.Officer{} },
	fromForm: func(c echo.Context, _ tenantdb.Site, o *tenantdb.Officer) error {
		o.Name = strings.TrimSpace(c.FormValue("name"))
		o.Role = strings.TrimSpace(c.FormValue("role"))
		o.Email = strings.TrimSpace(c.FormValue("email"))
		o.PhotoID = c.FormValue("photo_id")
		o.TermFrom = strings.TrimSpace(c.FormValue("term_from"))
		o.TermTo = strings.TrimSpace(c.FormValue("term_to"))
		n, err := formInt(c, "position")
		o.Position = n
		return err
	},
}

// eventForm is the extra data of the event form.
type eventForm struct {
	Timezones  []string
	Categories []string
	Repeat     []repeatChoice
	Chosen     string // the chosen repeat value
	Custom     string // the rule when Chosen is "custom"
}

var eventKind = contentKind[tenantdb.Event]{
	res: platform.Events, path: "/admin/events", list: "events.html", edit: "event.html",
	plural: "Events", noun: "event", section: "events",
	id:    func(e tenantdb.Event) int64 { return e.ID },
	title: func(e tenantdb.Event) string { return e.Title },
	blank: func(site tenantdb.Site, now time.Time) tenantdb.Event {
		loc := zone(site.Timezone)
		y, m, d := now.In(loc).AddDate(0, 0, 7).Date()
		start := time.Date(y, m, d, 19, 0, 0, 0, loc)
		return tenantdb.Event{StartsAt: start, EndsAt: start.Add(90 * time.Minute), Timezone: site.Timezone}
	},
	fromForm: func(c echo.Context, _ tenantdb.Site, e *tenantdb.Event) error {
		e.Title = strings.TrimSpace(c.FormValue("title"))
		e.Timezone = c.FormValue("timezone")
		e.AllDay = checked(c, "all_day")
		e.Location = strings.TrimSpace(c.FormValue("location"))
		e.Category = c.FormValue("category")
		e.Description = c.FormValue("description")
		e.Visibility = formVisibility(c)
		e.RSVP = checked(c, "rsvp")
		capacity, err := formInt(c, "capacity")
		if err != nil {
			return err
		}
		e.Capacity = capacity
		loc := zone(e.Timezone)
		start, err := formTime(c, "starts_at", loc)
		if err != nil {
			return err
		}
		end, err := formTime(c, "ends_at", loc)
		if err != nil {
			return err
		}
		e.StartsAt, e.EndsAt = time.Time{}, time.Time{}
		if start != nil {
			e.StartsAt = *start
		}
		if end != nil {
			e.EndsAt = *end
		}
		if e.AllDay && start != nil {
			y, m, d := start.Date()
			e.StartsAt = time.Date(y, m, d, 0, 0, 0, 0, loc)
			if end == nil || end.Before(e.StartsAt) {
				e.EndsAt = e.StartsAt.Add(24*time.Hour - time.Minute)
			}
		}
		rule, err := ruleFor(c.FormValue("repeat"), e.StartsAt, strings.TrimSpace(c.FormValue("rrule")))
		e.RRule = rule
		return err
	},
	markdown: func(e tenantdb.Event) string { return e.Description },
	extra: func(e tenantdb.Event, site tenantdb.Site) any {
		chosen, custom := choiceOf(e.RRule, e.StartsAt)
		return eventForm{
			Timezones:  timezones(e.Timezone, site.Timezone),
			Categories: tenantdb.EventCategories,
			Repeat:     repeatChoices(e.StartsAt),
			Chosen:     chosen,
			Custom:     custom,
		}
	},
}

// repeatChoice is one way an event can repeat, in words.
type repeatChoice struct {
	Value, Label string
}

// weekOf is which weekday of its month t is (the 2nd Tuesday: 2), and
// whether it is the last one.
func weekOf(t time.Time) (n int, last bool) {
	days := time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, t.Location()).Day()
	return (t.Day()-1)/7 + 1, t.Day()+7 > days
}

// repeatChoices are the recurrences offered for an event starting at
// start, in words for that date: "Monthly on the 2nd Tuesday".
func repeatChoices(start time.Time) []repeatChoice {
	if start.IsZero() {
		start = time.Now()
	}
	wd := start.Weekday().String()
	n, last := weekOf(start)
	cs := []repeatChoice{
		{"", "Does not repeat"},
		{"weekly", "Every week on " + wd},
		{"biweekly", "Every 2 weeks on " + wd},
		{"monthly-nth", fmt.Sprintf("Monthly on the %s %s (like \"every %s %s\")", tenantdb.Ordinal(n), wd, tenantdb.Ordinal(n), wd)},
	}
	if last {
		cs = append(cs, repeatChoice{"monthly-last", "Monthly on the last " + wd})
	}
	cs = append(cs,
		repeatChoice{"monthly-day", fmt.Sprintf("Monthly on day %d", start.Day())},
		repeatChoice{"yearly", "Every year on " + start.Format("January 2")},
		repeatChoice{"custom", "Custom rule (RFC 5545 RRULE)"},
	)
	return cs
}

var byday = map[time.Weekday]string{time.Sunday: "SU", time.Monday: "MO", time.Tuesday: "TU",
	time.Wednesday: "WE", time.Thursday: "TH", time.Friday: "FR", time.Saturday: "SA"}

// ruleFor turns a repeat choice into an RRULE for an event starting at
// start; the dates follow the start date the form was saved with.
func ruleFor(choice string, start time.Time, custom string) (string, error) {
	n, _ := weekOf(start)
	switch choice {
	case "":
		return "", nil
	case "weekly":
		return "FREQ=WEEKLY", nil
	case "biweekly":
		return "FREQ=WEEKLY;INTERVAL=2", nil
	case "monthly-nth":
		return fmt.Sprintf("FREQ=MONTHLY;BYDAY=%d%s", n, byday[start.Weekday()]), nil
	case "monthly-last":
		return "FREQ=MONTHLY;BYDAY=-1" + byday[start.Weekday()], nil
	case "monthly-day":
		return "FREQ=MONTHLY", nil
	case "yearly":
		return "FREQ=YEARLY", nil
	case "custom":
		if custom == "" {
			return "", &tenantdb.ValidationError{Field: "rrule", Message: "write the rule, like FREQ=MONTHLY;BYDAY=2TU, or choose another option"}
		}
		return custom, nil
	}
	return "", &tenantdb.ValidationError{Field: "repeat", Message: fmt.Sprintf("%q is not one of the choices", choice)}
}

// choiceOf finds the choice that gives rule for start, else "custom".
func choiceOf(rule string, start time.Time) (choice, custom string) {
	if rule == "" {
		return "", ""
	}
	for _, c := range repeatChoices(start) {
		if c.Value == "" || c.Value == "custom" {
			continue
		}
		if r, _ := ruleFor(c.Value, start, ""); strings.EqualFold(r, rule) {
			return c.Value, ""
		}
	}
	return "custom", rule
}

// commonZones are offered first in time-zone lists.
var commonZones = []string{
	"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
	"America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico", "Pacific/Guam",
	"America/Halifax", "America/Toronto", "America/Winnipeg", "America/Edmonton", "America/Vancouver",
	"Europe/London", "Europe/Dublin", "Europe/Paris", "Europe/Berlin", "Europe/Rome", "Europe/Madrid",
	"Asia/Tokyo", "Asia/Seoul", "Australia/Sydney", "Pacific/Auckland", "UTC",
}

// timezones is commonZones with the given zones added when missing.
func timezones(also ...string) []string {
	out := append([]string(nil), commonZones...)
	for _, z := range also {
		found := z == ""
		for _, x := range out {
			found = found || x == z
		}
		if !found {
			out = append([]string{z}, out...)
		}
	}
	return out
}
