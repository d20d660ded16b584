package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// TestDashboardRefusalsChangeNothing sends each dashboard form a value it
// must refuse and checks the answer (the status, the reason shown, what
// was typed kept) and that the chapter's rows are exactly as before: the
// digest of every table is unchanged.
func TestDashboardRefusalsChangeNothing(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "lodge")
	host := webtest.Host("lodge")
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, password)
	tn, _ := ls.Platform.Catalog.TenantBySlug("lodge")
	digest := func() string {
		t.Helper()
		d, err := ls.Platform.Digest(context.Background(), tn)
		if err != nil {
			t.Fatal(err)
		}
		return d.Sum()
	}
	event := func(kv ...string) url.Values {
		v := url.Values{"title": {"Meeting"}, "starts_at": {"2030-06-11T19:00"}, "ends_at": {"2030-06-11T20:30"},
			"timezone": {"America/Chicago"}, "repeat": {"none"}, "action": {"save"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name, path string
		form       url.Values
		says       string // the reason shown, or what was typed, kept
	}{
		{"post without a title", "/admin/posts/new", url.Values{"title": {""}, "body": {"Typed body"}, "action": {"save"}}, "Typed body"},
		{"page without a title", "/admin/pages/new", url.Values{"title": {""}, "body": {"Typed page"}, "action": {"save"}}, "Typed page"},
		{"event with an hourly rule", "/admin/events/new", event("repeat", "custom", "rrule", "FREQ=HOURLY"), "FREQ=HOURLY"},
		{"event ending before it starts", "/admin/events/new", event("ends_at", "2030-06-11T18:00"), "Meeting"},
		{"event in no time zone", "/admin/events/new", event("timezone", "Mars/Olympus"), "Mars/Olympus"},
		{"event start not a time", "/admin/events/new", event("starts_at", "tomorrow"), "Meeting"},
		{"officer with a bad position", "/admin/officers/new", url.Values{"name": {"Typed Name"}, "role": {"Y"}, "position": {"first"}}, "Typed Name"},
		{"officer without a name", "/admin/officers/new", url.Values{"name": {""}, "role": {"Typed Role"}, "position": {"1"}}, "Typed Role"},
		{"javascript: social link", "/admin/site", url.Values{"name": {"Lodge 7"}, "accent_color": {"#7a1f1f"}, "timezone": {"America/Chicago"},
			"social_links": {"Facebook | javascript:alert(1)"}}, "Lodge 7"},
		{"settings with a bad colour", "/admin/site", url.Values{"name": {"Lodge 8"}, "accent_color": {"red; x"}, "timezone": {"America/Chicago"}}, "Lodge 8"},
		{"settings with a logo that is not there", "/admin/site", url.Values{"name": {"Lodge 9"}, "accent_color": {"#7a1f1f"}, "timezone": {"America/Chicago"},
			"logo_id": {"aaaaaaaaaaaaaaaaaaaa"}}, "Lodge 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := digest()
			tc.form.Set("csrf_token", csrf)
			p := ls.Form(t, c, host, tc.path, tc.form)
			if p.Status != http.StatusUnprocessableEntity {
				t.Fatalf("POST %s: %d, want 422\n%.600s", tc.path, p.Status, p.Body)
			}
			if !strings.Contains(p.Body, tc.says) {
				t.Errorf("POST %s: the page lacks %q", tc.path, tc.says)
			}
			if after := digest(); after != before {
				t.Errorf("POST %s was refused but changed the chapter's rows", tc.path)
			}
		})
	}
	// An upload that is not an image, and one without a file.
	before := digest()
	r := ls.Upload(t, c, "lodge", "/admin/media", "page.html", []byte("<html><script>alert(1)</script></html>"), map[string]string{"csrf_token": csrf})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "not a PNG or JPEG") {
		t.Errorf("html through the upload form: %d", r.Status)
	}
	if after := digest(); after != before {
		t.Errorf("a refused upload changed the chapter's rows")
	}
	// A form without its CSRF token changes nothing either.
	p := ls.Form(t, c, host, "/admin/posts/new", url.Values{"title": {"No token"}, "action": {"save"}})
	if p.Status != http.StatusForbidden || digest() != before {
		t.Errorf("a post without the CSRF token: %d (rows changed: %v), want 403 and nothing saved", p.Status, digest() != before)
	}
	// The digest does tell a save: else this test could not fail.
	if p := ls.Form(t, c, host, "/admin/officers/new", url.Values{"csrf_token": {csrf}, "name": {"A"}, "role": {"B"}, "position": {"1"}}); p.Status != http.StatusSeeOther || digest() == before {
		t.Errorf("a valid officer: %d, rows changed %v; want 303 and a new digest", p.Status, digest() != before)
	}
}
