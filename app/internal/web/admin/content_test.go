package admin_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestRSVPListCSVAndCancel turns RSVPs on for an event in the dashboard,
// lists the answers, downloads them as CSV (a formula-like name
// neutralised) and cancels one: the waiting party moves up.
func TestRSVPListCSVAndCancel(t *testing.T) {
	clock := webtest.NewClock(time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC))
	ls := webtest.NewEmpty(t, func(c *web.Config) { c.Now = clock.Now })
	email, pw := ls.NewTenant(t, "post")
	host := webtest.Host("post")
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, pw)

	p := ls.Form(t, c, host, "/admin/events/new", url.Values{"csrf_token": {csrf}, "title": {"Christmas dinner"},
		"timezone": {"UTC"}, "starts_at": {"2026-12-12T18:00"}, "ends_at": {"2026-12-12T21:00"}, "rsvp": {"on"}, "capacity": {"2"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("new event: %d\n%s", p.Status, p.Body)
	}
	var id int64
	fmt.Sscanf(p.Location, "/admin/events/%d", &id)
	if bad := ls.Form(t, c, host, "/admin/events/new", url.Values{"csrf_token": {csrf}, "title": {"Bad"}, "timezone": {"UTC"},
		"starts_at": {"2026-12-12T18:00"}, "ends_at": {"2026-12-12T21:00"}, "capacity": {"-3"}}); bad.Status != 422 || !strings.Contains(bad.Body, "Capacity") {
		t.Errorf("capacity -3: %d, want 422 naming the capacity", bad.Status)
	}
	db := ls.DB("post")
	ctx := context.Background()
	e, err := db.Event(ctx, id)
	webtest.Must(t, err)
	if !e.RSVP || e.Capacity != 2 {
		t.Fatalf("saved %+v, want RSVPs on with 2 places", e)
	}
	add := func(name, mail string, party int) tenantdb.RSVP {
		r := tenantdb.RSVP{Occurrence: e.StartsAt, Name: name, Email: mail, PartySize: party, Note: "hi",
			Token: strings.Repeat(string(mail[0]), 30)}
		_, err := db.AddRSVP(ctx, e, &r, nil)
		webtest.Must(t, err)
		return r
	}
	first := add("=HYPERLINK(\"http://evil.example\")", "a@example.org", 2)
	add("Bo Diaz", "b@example.org", 1)

	list := ls.Form(t, c, host, fmt.Sprintf("/admin/events/%d/rsvps", id), nil)
	if list.Status != 200 || !strings.Contains(list.Body, "2 going") || !strings.Contains(list.Body, "1 waiting") || !strings.Contains(list.Body, "Bo Diaz") {
		t.Fatalf("list: %d\n%s", list.Status, list.Body)
	}
	file := ls.Form(t, c, host, fmt.Sprintf("/admin/events/%d/rsvps.csv", id), nil)
	if file.Status != 200 || !strings.HasPrefix(file.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(file.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV: %d %q %q", file.Status, file.Header.Get("Content-Type"), file.Header.Get("Content-Disposition"))
	}
	rows, err := csv.NewReader(strings.NewReader(file.Body)).ReadAll()
	webtest.Must(t, err)
	if len(rows) != 3 || rows[0][2] != "name" || rows[1][1] != "going" || rows[1][2] != `'=HYPERLINK("http://evil.example")` ||
		rows[2][2] != "Bo Diaz" || rows[2][1] != "waitlist" || rows[1][0] != "2026-12-12 18:00" {
		t.Errorf("CSV rows %q", rows)
	}
	// Another chapter's admin, or nobody, gets none of it.
	if anon := ls.Form(t, ls.Browser(), host, fmt.Sprintf("/admin/events/%d/rsvps.csv", id), nil); anon.Status != http.StatusSeeOther {
		t.Errorf("CSV without a login: %d, want a redirect to the login", anon.Status)
	}
	p = ls.Form(t, c, host, fmt.Sprintf("/admin/events/%d/rsvps/%d/cancel", id, first.ID), url.Values{"csrf_token": {csrf}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("cancel: %d\n%s", p.Status, p.Body)
	}
	if p := ls.Form(t, c, host, fmt.Sprintf("/admin/events/%d/rsvps/%d/cancel", id, first.ID), url.Values{}); p.Status != http.StatusForbidden {
		t.Errorf("cancel without the CSRF token: %d, want 403", p.Status)
	}
	rs, err := db.RSVPs(ctx, id)
	webtest.Must(t, err)
	if rs[0].Status != tenantdb.RSVPCancelled || rs[1].Status != tenantdb.RSVPGoing {
		t.Errorf("after cancelling: %s, %s; want cancelled, going", rs[0].Status, rs[1].Status)
	}
}

// TestStatsPage reads the demo's pages and opens the statistics: the
// chart is an SVG with a title and a description, and the table has
// today's figures.
func TestStatsPage(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, pw := ls.NewTenant(t, "counted")
	host := webtest.Host("counted")
	for _, ua := range []string{"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "Mozilla/5.0 (iPhone) Safari/604.1"} {
		for _, path := range []string{"/", "/", "/about"} {
			if r := ls.Get(host, path, "User-Agent: "+ua); r.Status != 200 {
				t.Fatalf("GET %s: %d", path, r.Status)
			}
		}
	}
	c := ls.Browser()
	ls.DashLogin(t, c, host, email, pw)
	p := ls.Form(t, c, host, "/admin/stats", nil)
	today := time.Now().UTC().Format("2006-01-02")
	for _, want := range []string{
		`<svg class="chart"`, `role="img" aria-labelledby="chart-title chart-desc"`, `<title id="chart-title">`,
		`6 views by 2 daily visitors`, `<th scope="row">` + today + `</th><td>6</td><td>2</td>`,
		`<th scope="row"><a href="/">/</a></th><td>4</td><td>2</td>`, `<th scope="row"><a href="/about">/about</a></th><td>2</td><td>2</td>`,
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the stats page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(p.Body)
	}
}
