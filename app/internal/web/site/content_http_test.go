package site_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

const browserUA = "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// TestVisitStatistics reads pages as three visitors, some through the
// page cache, and as a bot, then closes the tenant as the pool does when
// it evicts one: each visitor counts once a day and page, every view
// counts, nothing was lost at the close, and neither an address nor a
// user agent is anywhere in the tenant's file.
func TestVisitStatistics(t *testing.T) {
	clock := webtest.NewClock(time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC))
	ts := webtest.New(t, func(c *web.Config) {
		c.Now = clock.Now
		c.TrustedProxies = []*net.IPNet{{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(32, 32)}}
	})
	tn := ts.AddTenant("counted", "Counted Club", nil)
	h := webtest.Host("counted")
	get := func(path, addr, ua string) {
		t.Helper()
		r := ts.Get(h, path, "X-Forwarded-For: "+addr, ua)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d", path, r.Status)
		}
	}
	for range 3 {
		get("/", "203.0.113.77", browserUA) // the 2nd and 3rd from the page cache
	}
	get("/events", "203.0.113.77", browserUA)
	get("/", "198.51.100.23", browserUA)
	get("/", "203.0.113.77", "User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1") // another device
	get("/", "192.0.2.1", "User-Agent: Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
	get("/", "192.0.2.2", "User-Agent: curl/8.5.0")
	get("/theme.css?v=1f4e79", "203.0.113.77", browserUA) // not a page
	if ts.Get(h, "/no-such-page", "X-Forwarded-For: 203.0.113.77", browserUA).Status != 404 {
		t.Fatal("want a 404")
	}
	ctx := context.Background()
	// statsOf reads the figures in a handle of its own, released at once
	// so that the tenant can be closed.
	statsOf := func() ([]tenantdb.DayStats, []tenantdb.PageStats) {
		t.Helper()
		hd, err := ts.Platform.Pool.Acquire(ctx, tn.ID)
		webtest.Must(t, err)
		defer hd.Release()
		days, err := hd.StatsDays(ctx, "2026-12-03", "2026-12-03")
		webtest.Must(t, err)
		pages, err := hd.StatsPages(ctx, "2026-12-03", "2026-12-03", 10)
		webtest.Must(t, err)
		return days, pages
	}
	// Nothing is written yet: a visit costs no write.
	if days, _ := statsOf(); days[0].Views != 0 {
		t.Fatalf("before any flush: %v, want nothing written", days)
	}
	// The pool closes the tenant (as an eviction or idle close does).
	webtest.Must(t, ts.Platform.Pool.Drain(ctx, tn.ID, func() error { return nil }))
	days, pages := statsOf()
	if days[0].Views != 6 || days[0].Visitors != 3 {
		t.Errorf("the day: %+v, want 6 views by 3 visitors", days[0])
	}
	if len(pages) != 2 || pages[0] != (tenantdb.PageStats{Path: "/", Views: 5, Visitors: 3}) ||
		pages[1] != (tenantdb.PageStats{Path: "/events", Views: 1, Visitors: 1}) {
		t.Errorf("pages %+v, want / 5 views by 3, /events 1 by 1", pages)
	}
	// A visitor comes back after the reopen: still once today.
	get("/", "198.51.100.23", browserUA)
	webtest.Must(t, ts.Platform.Pool.Drain(ctx, tn.ID, func() error { return nil }))
	days, _ = statsOf()
	if days[0].Views != 7 || days[0].Visitors != 3 {
		t.Errorf("after a returning visitor: %+v, want 7 views by 3 visitors", days[0])
	}
	// grep the file (and its WAL): no address, no user agent.
	webtest.Must(t, ts.Platform.Pool.Drain(ctx, tn.ID, func() error {
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(filepath.Join(ts.Dir, "tenants", tn.ID+".db"+suffix))
			if err != nil && suffix == "" {
				return err
			}
			for _, raw := range []string{"203.0.113.77", "198.51.100.23", "Firefox", "iPhone", "cb00:7100"} {
				if strings.Contains(string(b), raw) {
					t.Errorf("the tenant file%s holds %q", suffix, raw)
				}
			}
		}
		return nil
	}))
}

// TestMonthGridWithRecurringMeeting renders December 2026 with a meeting
// on the second Tuesday of every month and a one-off dinner.
func TestMonthGridWithRecurringMeeting(t *testing.T) {
	clock := webtest.NewClock(time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC))
	ts := webtest.New(t, func(c *web.Config) { c.Now = clock.Now })
	ts.AddTenant("grid", "Grid Post", func(db *tenantdb.DB) {
		ctx := context.Background()
		site, _ := db.Site(ctx)
		site.Name, site.Timezone = "Grid Post", "America/Chicago"
		webtest.Must(t, db.UpdateSite(ctx, &site))
		loc, _ := time.LoadLocation("America/Chicago")
		start := time.Date(2026, 1, 13, 19, 0, 0, 0, loc)
		webtest.Must(t, db.SaveEvent(ctx, &tenantdb.Event{Title: "Monthly meeting", StartsAt: start, EndsAt: start.Add(time.Hour),
			Timezone: "America/Chicago", RRule: "FREQ=MONTHLY;BYDAY=2TU", Category: "meeting"}))
		// 23:30 in Chicago is the next day in UTC: shown on its local day.
		late := time.Date(2026, 12, 19, 23, 30, 0, 0, loc)
		webtest.Must(t, db.SaveEvent(ctx, &tenantdb.Event{Title: "Late dinner", StartsAt: late, EndsAt: late.Add(time.Hour), Timezone: "America/Chicago"}))
	})
	h := webtest.Host("grid")
	r := ts.Get(h, "/events/calendar?month=2026-12")
	if r.Status != 200 {
		t.Fatalf("grid: %d\n%s", r.Status, r.Body)
	}
	cell := func(body, iso string) string {
		i := strings.Index(body, `datetime="`+iso+`"`)
		if i < 0 {
			return ""
		}
		end := strings.Index(body[i:], "</td>")
		return body[i : i+end]
	}
	if c := cell(r.Body, "2026-12-08"); !strings.Contains(c, "Monthly meeting") || !strings.Contains(c, "7:00 PM") {
		t.Errorf("Tuesday December 8 (the 2nd Tuesday): %q, want the meeting at 7:00 PM", c)
	}
	if c := cell(r.Body, "2026-12-15"); strings.Contains(c, "Monthly meeting") {
		t.Errorf("December 15 has the meeting")
	}
	if c := cell(r.Body, "2026-12-19"); !strings.Contains(c, "Late dinner") {
		t.Errorf("December 19: %q, want the late dinner on its local day", c)
	}
	for _, want := range []string{
		`<caption class="visually-hidden">Events in December 2026`, `<th scope="col"><abbr title="Sunday">Sun</abbr></th>`,
		`href="/events/calendar?month=2026-11" rel="prev"`, `href="/events/calendar?month=2027-01" rel="next"`,
		`class=" today" aria-current="date"`, `<time class="day" datetime="2026-11-29">`, // the grid starts on the Sunday before
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("the grid lacks %q", want)
		}
	}
	if got := strings.Count(r.Body, "<tr>"); got != 6 { // the head row and 5 weeks
		t.Errorf("%d rows, want 6", got)
	}
	if c := cell(ts.Get(h, "/events/calendar?month=2027-02").Body, "2027-02-09"); !strings.Contains(c, "Monthly meeting") {
		t.Errorf("February 9, 2027: %q, want the meeting", c)
	}
	if r := ts.Get(h, "/events/calendar"); r.Status != 200 || !strings.Contains(r.Body, "<h1>December 2026</h1>") {
		t.Errorf("this month: %d", r.Status)
	}
	for _, bad := range []string{"2026-13", "2026-1", "x", "2029-01", "2024-11", ""} {
		if r := ts.Get(h, "/events/calendar?month="+bad); r.Status != 404 {
			t.Errorf("month %q: %d, want 404", bad, r.Status)
		}
	}
}

// TestOfficerChangeover lists this year's and next year's officers: the
// day the new term begins, the page changes with no write, and the old
// officers move to the past officers' page.
func TestOfficerChangeover(t *testing.T) {
	loc, _ := time.LoadLocation("America/Chicago")
	clock := webtest.NewClock(time.Date(2026, 6, 30, 23, 0, 0, 0, loc))
	ts := webtest.New(t, func(c *web.Config) { c.Now = clock.Now })
	ts.AddTenant("terms", "Terms Post", func(db *tenantdb.DB) {
		ctx := context.Background()
		site, _ := db.Site(ctx)
		site.Name, site.Timezone, site.OfficersChange = "Terms Post", "America/Chicago", "07-01"
		webtest.Must(t, db.UpdateSite(ctx, &site))
		for _, o := range []tenantdb.Officer{
			{Name: "Olive Old", Role: "Commander", TermFrom: "2025-07-01", TermTo: "2026-06-30"},
			{Name: "Nate New", Role: "Commander", TermFrom: "2026-07-01", TermTo: "2027-06-30"},
			{Name: "Cal Chaplain", Role: "Chaplain"},
		} {
			webtest.Must(t, db.SaveOfficer(ctx, &o))
		}
	})
	h := webtest.Host("terms")
	about := ts.Get(h, "/about").Body
	cur, next, _ := strings.Cut(about, "Taking office on July 1, 2026")
	if !strings.Contains(cur, "Olive Old") || !strings.Contains(cur, "Cal Chaplain") || !strings.Contains(next, "Nate New") ||
		!strings.Contains(about, "New officers take office on July 1, 2026.") {
		t.Errorf("June 30: want Olive in office and Nate taking office on July 1:\n%s", about)
	}
	if strings.Contains(about, "/about/past-officers") {
		t.Error("June 30: a link to past officers, with none")
	}
	clock.Advance(2 * time.Hour) // 01:00 on July 1 in Chicago
	about = ts.Get(h, "/about").Body
	if strings.Contains(about, "Olive Old") || !strings.Contains(about, "Nate New") || strings.Contains(about, "Taking office") ||
		!strings.Contains(about, "New officers take office on July 1, 2027.") {
		t.Errorf("July 1: the cached page of June 30 was served, or the terms are wrong:\n%s", about)
	}
	past := ts.Get(h, "/about/past-officers")
	if past.Status != 200 || !strings.Contains(past.Body, "Olive Old") || !strings.Contains(past.Body, "July 2025 – June 2026") ||
		strings.Contains(past.Body, "Nate New") {
		t.Errorf("past officers: %d\n%s", past.Status, past.Body)
	}
}

// TestBannerEndsOnTime shows a banner until its end, through the page
// cache, and not after.
func TestBannerEndsOnTime(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	clock := webtest.NewClock(t0)
	ts := webtest.New(t, func(c *web.Config) { c.Now = clock.Now })
	until := t0.Add(2 * time.Hour)
	ts.AddTenant("banner", "Banner Post", func(db *tenantdb.DB) {
		ctx := context.Background()
		site, _ := db.Site(ctx)
		site.Name, site.Banner, site.BannerUntil = "Banner Post", "Hall closed Saturday for repairs", &until
		webtest.Must(t, db.UpdateSite(ctx, &site))
	})
	h := webtest.Host("banner")
	for _, path := range []string{"/", "/news", "/contact"} {
		if r := ts.Get(h, path); !strings.Contains(r.Body, `<aside class="banner" aria-label="Announcement">`) ||
			!strings.Contains(r.Body, "Hall closed Saturday for repairs") {
			t.Errorf("%s: no banner", path)
		}
	}
	clock.Advance(2*time.Hour + time.Second)
	if r := ts.Get(h, "/"); strings.Contains(r.Body, "Hall closed") {
		t.Error("the banner is shown after its end")
	}
}
