package tenantdb

import (
	"strings"
	"testing"
	"time"
)

// TestContentValidation holds each kind of content to its limits: a value
// at a limit passes, one past it is refused on its field, whatever comes
// after it in the checks. These are the rules the API, the dashboard and
// imports all share.
func TestContentValidation(t *testing.T) {
	r := strings.Repeat
	start := time.Date(2026, 6, 9, 19, 0, 0, 0, time.UTC)
	event := func(change func(*Event)) func() error {
		return func() error {
			e := Event{Title: "Meeting", StartsAt: start, EndsAt: start.Add(time.Hour), Timezone: "America/Chicago"}
			change(&e)
			return e.Validate()
		}
	}
	post := func(change func(*Post)) func() error {
		return func() error {
			p := Post{Title: "News", Body: "Text"}
			change(&p)
			return p.Validate()
		}
	}
	page := func(change func(*Page)) func() error {
		return func() error {
			p := Page{Title: "History", Body: "Text"}
			change(&p)
			return p.Validate()
		}
	}
	officer := func(change func(*Officer)) func() error {
		return func() error {
			o := Officer{Name: "Pat Jones", Role: "Commander"}
			change(&o)
			return o.Validate()
		}
	}
	site := func(change func(*Site)) func() error {
		return func() error {
			s := Site{Name: "Post 42", AccentColor: DefaultAccent, Timezone: "UTC"}
			change(&s)
			return s.Validate()
		}
	}
	tests := []struct {
		name  string
		check func() error
		field string // "" for valid
	}{
		{"post at its limits", post(func(p *Post) { p.Title, p.Slug, p.Body = r("t", 200), r("s", 80), r("b", 100000) }), ""},
		{"post without a title", post(func(p *Post) { p.Title = "" }), "title"},
		{"post title too long", post(func(p *Post) { p.Title = r("t", 201) }), "title"},
		{"post slug too long", post(func(p *Post) { p.Slug = r("s", 81) }), "slug"},
		{"post slug not a slug", post(func(p *Post) { p.Slug = "Fish Fry" }), "slug"},
		{"post body too long", post(func(p *Post) { p.Body = r("b", 100001) }), "body"},
		{"post body with a NUL", post(func(p *Post) { p.Body = "a\x00b" }), "body"},
		{"page at its limits", page(func(p *Page) { p.Title, p.Slug, p.Body = r("t", 200), "a-b", r("b", 100000) }), ""},
		{"page without a title", page(func(p *Page) { p.Title = "" }), "title"},
		{"page title too long", page(func(p *Page) { p.Title = r("t", 201) }), "title"},
		{"page slug not a slug", page(func(p *Page) { p.Slug = "a--b" }), "slug"},
		{"page body too long", page(func(p *Page) { p.Body = r("b", 100001) }), "body"},
		{"officer at its limits", officer(func(o *Officer) { o.Name, o.Role, o.Email = r("n", 200), r("r", 100), "pat@example.org" }), ""},
		{"officer without a name", officer(func(o *Officer) { o.Name = "" }), "name"},
		{"officer name too long", officer(func(o *Officer) { o.Name = r("n", 201) }), "name"},
		{"officer without a role", officer(func(o *Officer) { o.Role = "" }), "role"},
		{"officer role too long", officer(func(o *Officer) { o.Role = r("r", 101) }), "role"},
		{"officer email not an email", officer(func(o *Officer) { o.Email = "pat" }), "email"},
		{"event at its limits", event(func(e *Event) {
			e.Title, e.Location, e.Description = r("t", 200), r("l", 300), r("d", 20000)
			e.EndsAt, e.Category, e.RRule = start.Add(31*24*time.Hour), "meeting", "FREQ=MONTHLY;BYDAY=2TU"
		}), ""},
		{"event without a title", event(func(e *Event) { e.Title = "" }), "title"},
		{"event without a start", event(func(e *Event) { e.StartsAt = time.Time{} }), "starts_at"},
		{"event without an end", event(func(e *Event) { e.EndsAt = time.Time{} }), "ends_at"},
		{"event ending before it starts", event(func(e *Event) { e.EndsAt = start.Add(-time.Minute) }), "ends_at"},
		{"event over 31 days", event(func(e *Event) { e.EndsAt = start.Add(31*24*time.Hour + time.Second) }), "ends_at"},
		{"event in no zone", event(func(e *Event) { e.Timezone = "" }), "timezone"},
		{"event in Local", event(func(e *Event) { e.Timezone = "Local" }), "timezone"},
		{"event in a made-up zone", event(func(e *Event) { e.Timezone = "Mars/Olympus" }), "timezone"},
		{"event location too long", event(func(e *Event) { e.Location = r("l", 301) }), "location"},
		{"event description too long", event(func(e *Event) { e.Description = r("d", 20001) }), "description"},
		{"event of another category", event(func(e *Event) { e.Category = "rave" }), "category"},
		{"event with a bad rule", event(func(e *Event) { e.RRule = "FREQ=DAILY" }), "rrule"},
		{"site at its limits", site(func(s *Site) {
			s.Name, s.Tagline, s.Phone, s.Email = r("n", 200), r("t", 300), r("1", 50), "post@example.org"
			s.SocialLinks = make([]SocialLink, 20)
			for i := range s.SocialLinks {
				s.SocialLinks[i] = SocialLink{Label: r("l", 50), URL: "https://example.org/" + r("p", 1900)}
			}
		}), ""},
		{"site without a name", site(func(s *Site) { s.Name = "" }), "name"},
		{"site tagline too long", site(func(s *Site) { s.Tagline = r("t", 301) }), "tagline"},
		{"site phone too long", site(func(s *Site) { s.Phone = r("1", 51) }), "phone"},
		{"site email not an email", site(func(s *Site) { s.Email = "post" }), "email"},
		{"site email too long", site(func(s *Site) { s.Email = r("e", 250) + "@example.org" }), "email"},
		{"site colour not a colour", site(func(s *Site) { s.AccentColor = "red" }), "accent_color"},
		{"site in no zone", site(func(s *Site) { s.Timezone = "" }), "timezone"},
		{"site with 21 links", site(func(s *Site) { s.SocialLinks = make([]SocialLink, 21) }), "social_links"},
		{"site link without a label", site(func(s *Site) { s.SocialLinks = []SocialLink{{URL: "https://example.org"}} }), "social_links"},
		{"site link label too long", site(func(s *Site) { s.SocialLinks = []SocialLink{{Label: r("l", 51), URL: "https://example.org"}} }), "social_links"},
		{"site link to a script", site(func(s *Site) { s.SocialLinks = []SocialLink{{Label: "x", URL: "javascript:alert(1)"}} }), "social_links"},
		{"site link without a host", site(func(s *Site) { s.SocialLinks = []SocialLink{{Label: "x", URL: "https://"}} }), "social_links"},
		{"site link too long", site(func(s *Site) { s.SocialLinks = []SocialLink{{Label: "x", URL: "https://example.org/" + r("p", 1981)}} }), "social_links"},
	}
	for _, tc := range tests {
		err := tc.check()
		if got := field(err); got != tc.field || (tc.field == "" && err != nil) {
			t.Errorf("%s: %v, want a refusal on %q", tc.name, err, tc.field)
		}
	}
}
