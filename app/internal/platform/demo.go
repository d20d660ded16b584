package platform

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/password"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// SeedDemo creates the tenant "demo" with content in every section, so that
// a newcomer's first `go run ./app` shows a whole chapter site. It prints
// the owner's login on stdout, with a hint that names the program as prog.
func SeedDemo(ctx context.Context, p *Platform, stdout io.Writer, prog string) error {
	pw := password.Generate()
	hash, err := p.Passwords.Hash(ctx, pw)
	if err != nil {
		return err
	}
	owner := tenantdb.Admin{Email: "admin@demo." + p.Base, Role: tenantdb.RoleOwner, PasswordHash: hash}
	t, err := p.CreateTenant(ctx, "demo", "Riverside Veterans Post 42", owner)
	if err != nil {
		return err
	}
	err = p.WithTenant(ctx, t.Slug, func(_ catalog.Tenant, h *pool.Handle) error {
		return FillDemo(ctx, h.DB, p.Now())
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created the demo tenant: %s\n", p.SiteURL(t.Slug))
	fmt.Fprintf(stdout, "demo admin: %s/admin\n", p.SiteURL(t.Slug))
	fmt.Fprintf(stdout, "email: %s\n", owner.Email)
	fmt.Fprintf(stdout, "password: %s\n", pw)
	fmt.Fprintf(stdout, "(shown once; `%s admin reset-password demo %s` makes a new one)\n", prog, owner.Email)
	return nil
}

// demoZone is the demo chapter's time zone.
const demoZone = "America/Chicago"

// FillDemo writes the demo chapter's content into db, dated around now.
func FillDemo(ctx context.Context, db *tenantdb.DB, now time.Time) error {
	const tz = demoZone
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return err
	}
	logo := &tenantdb.Media{Name: "post-42-emblem.png", Alt: "Riverside Post 42 emblem: a white star on blue", ContentType: "image/png", Width: 256, Height: 256}
	if err := db.AddMedia(ctx, logo, StarPNG(256, color.RGBA{0x1f, 0x4e, 0x79, 0xff})); err != nil {
		return err
	}
	hall := &tenantdb.Media{Name: "post-home.png", Alt: "The Post 42 hall on River Road at sunset", ContentType: "image/png", Width: 640, Height: 360}
	if err := db.AddMedia(ctx, hall, sunsetPNG(640, 360)); err != nil {
		return err
	}
	site := tenantdb.Site{
		Name:    "Riverside Veterans Post 42",
		Tagline: "Serving veterans, their families and the Riverside community since 1946.",
		About: `Riverside Veterans Post 42 is a community of veterans who continue to serve. We support veterans and their families, honor those who gave all, sponsor youth programs, and are proud neighbors in Riverside.

**Our mission:** to uphold the memory of those who served, to care for veterans and their families, and to build a stronger community.

![The Post 42 hall on River Road](/media/` + hall.ID + `)`,
		Address:        "1200 River Road, Riverside, IL 60546",
		Phone:          "(708) 555-0142",
		Email:          "info@riversidepost42.example",
		MeetingInfo:    "General membership meetings are held on the **second Tuesday of every month at 7:00 PM** in the main hall. Doors open at 6:30 PM. All members are welcome; veterans considering membership are invited to join us as guests.",
		MembershipInfo: "Membership is open to anyone who served in the U.S. Armed Forces and was honorably discharged, or is still serving. Bring a copy of your DD-214 (or current military ID) to any meeting, or write to us through the contact page. Annual dues are $45.\n\nFamily members can join our **Auxiliary**, and young people can take part in our Scouting and Boys & Girls State programs.",
		SocialLinks: []tenantdb.SocialLink{
			{Label: "Facebook", URL: "https://www.facebook.com/riversidepost42.example"},
			{Label: "Instagram", URL: "https://www.instagram.com/riversidepost42.example"},
		},
		AccentColor: "#1f4e79",
		LogoID:      logo.ID,
		Timezone:    tz,
	}
	if err := db.UpdateSite(ctx, &site); err != nil {
		return err
	}
	pages := []tenantdb.Page{
		{Title: "Hall Rental", Slug: "hall-rental", Position: 1, Published: true, ShowInNav: true, Body: "Our hall seats **150 guests** and has a full kitchen, a stage, a dance floor and ample parking. It is available for weddings, showers, graduations, memorials and community meetings.\n\n| | Members | Public |\n|---|---|---|\n| Half day (up to 5 hours) | $200 | $300 |\n| Full day | $350 | $500 |\n\nA refundable $150 deposit holds your date. Call (708) 555-0142 or use the contact form to check availability."},
		{Title: "Our History", Slug: "history", Position: 2, Published: true, ShowInNav: true, Body: "Post 42 received its charter in **1946** from veterans returning home to Riverside after the Second World War. Members built the hall on River Road by hand in 1952.\n\nSince then the post has sponsored more than 300 young people at Boys State and Girls State, placed flags on every veteran's grave in Riverside Cemetery each Memorial Day, and raised money for the veterans' home in Hines."},
		{Title: "Join Us", Slug: "join", Position: 3, Published: true, ShowInNav: true, Body: "Veterans of every era and branch are welcome. See **Membership** on the about page for who can join, then come to a meeting: the second Tuesday of every month, 7:00 PM."},
	}
	for i := range pages {
		if err := db.SavePage(ctx, &pages[i]); err != nil {
			return err
		}
	}
	day := func(d int) *time.Time { t := now.AddDate(0, 0, d).UTC().Truncate(time.Hour); return &t }
	posts := []tenantdb.Post{
		{Title: inSeason(now.In(loc).AddDate(0, 0, -4)).Ceremony + ": thank you, Riverside", Published: true, PublishedAt: day(-3), ImageID: hall.ID,
			Body: "More than 300 neighbors joined us for this year's " + inSeason(now.In(loc).AddDate(0, 0, -4)).Ceremony + ". Thank you to the Riverside High School band, to the Scouts of Troop 17, and to everyone who came to remember.\n\nPhotos are on our Facebook page."},
		{Title: "Pancake breakfast raises $4,200 for the veterans' home", Published: true, PublishedAt: day(-17),
			Body: "Our spring pancake breakfast served 410 plates and raised **$4,200** for the veterans' home in Hines. Special thanks to the Auxiliary for running the kitchen."},
		{Title: "Scholarship applications now open", Published: true, PublishedAt: day(-30),
			Body: "Post 42 awards two $1,000 scholarships each year to Riverside seniors who are children or grandchildren of veterans. Applications are due **April 30**. Ask at the post or write to us through the contact page."},
		{Title: "Welcome to our new website", Published: true, PublishedAt: day(-45),
			Body: "Our post has a new home on the web. Here you will find our meeting schedule, news, upcoming events and a way to reach our officers."},
		{Title: "Draft: summer picnic plans", Published: false, Body: "Not ready yet."},
	}
	for i := range posts {
		if err := db.SavePost(ctx, &posts[i]); err != nil {
			return err
		}
	}
	at := func(d, hour, minute int) time.Time {
		y, m, dd := now.In(loc).AddDate(0, 0, d).Date()
		return time.Date(y, m, dd, hour, minute, 0, 0, loc)
	}
	secondTuesday := func() time.Time {
		y, m, _ := now.In(loc).AddDate(0, -1, 0).Date()
		first := time.Date(y, m, 1, 19, 0, 0, 0, loc)
		offset := (int(time.Tuesday) - int(first.Weekday()) + 7) % 7
		return first.AddDate(0, 0, offset+7)
	}()
	season, past := DemoSeasons(now)
	dinner := tenantdb.Event{Title: season.Social, StartsAt: at(12, 17, 30), EndsAt: at(12, 20, 0), Timezone: tz, Location: "Post 42 main hall",
		Category: "social", RSVP: true, Capacity: 80,
		Description: season.SocialText + "\n\nPlease RSVP below so the kitchen knows how many to expect: we have room for 80."}
	events := []tenantdb.Event{
		{Title: "Monthly membership meeting", StartsAt: secondTuesday, EndsAt: secondTuesday.Add(90 * time.Minute), Timezone: tz,
			Location: "Post 42 main hall, 1200 River Road", Category: "meeting", RRule: "FREQ=MONTHLY;BYDAY=2TU", RSVP: true,
			Description: "Our general membership meeting. Doors open at 6:30 PM; guests considering membership are welcome. An RSVP helps us set out enough chairs."},
		dinner,
		{Title: season.Ceremony, StartsAt: at(26, 18, 30), EndsAt: at(26, 19, 30), Timezone: tz, Location: "Post 42 parking lot",
			Category: "ceremony", Description: season.CeremonyText},
		{Title: season.Holiday, StartsAt: at(40, 10, 0), EndsAt: at(40, 12, 0), Timezone: tz, Location: "Riverside town center",
			Category: "holiday", Description: "March with the post color guard. Meet at the hall at 9:00 AM."},
		{Title: past.Ceremony, StartsAt: at(-4, 11, 0), EndsAt: at(-4, 12, 0), Timezone: tz, Location: "Riverside Cemetery",
			Category: "ceremony", Description: past.CeremonyText},
	}
	for i := range events {
		if err := db.SaveEvent(ctx, &events[i]); err != nil {
			return err
		}
	}
	if err := demoRSVPs(ctx, db, events[1], events[0], now); err != nil {
		return err
	}
	// The banner points to the dinner until it begins.
	site.Banner = season.Social + " on " + events[1].StartsAt.Format("Monday, January 2") + ": RSVP on the Events page."
	until := events[1].StartsAt
	site.BannerUntil = &until
	site.OfficersChange = "07-01"
	if err := db.UpdateSite(ctx, &site); err != nil {
		return err
	}
	// This year's officers took office on the last July 1; a few of last
	// year's are on the past officers' page.
	y := now.In(loc).Year()
	if now.In(loc).Month() < time.July {
		y--
	}
	term := func(from int) (string, string) { return fmt.Sprintf("%d-07-01", from), fmt.Sprintf("%d-06-30", from+1) }
	cf, ct := term(y)
	pf, pt := term(y - 1)
	officers := []tenantdb.Officer{
		{Name: "Maria Delgado", Role: "Commander", Position: 1, PhotoID: logo.ID, TermFrom: cf, TermTo: ct},
		{Name: "James Whitaker", Role: "First Vice Commander", Position: 2, TermFrom: cf, TermTo: ct},
		{Name: "Denise Okafor", Role: "Adjutant", Position: 3, Email: "adjutant@riversidepost42.example", TermFrom: cf, TermTo: ct},
		{Name: "Robert Lindqvist", Role: "Finance Officer", Position: 4, TermFrom: cf, TermTo: ct},
		{Name: "Rev. Thomas Greene", Role: "Chaplain", Position: 5},
		{Name: "Angela Brooks", Role: "Service Officer", Position: 6, Email: "service@riversidepost42.example", TermFrom: cf, TermTo: ct},
		{Name: "Walter Kowalski", Role: "Commander", Position: 1, TermFrom: pf, TermTo: pt},
		{Name: "Maria Delgado", Role: "First Vice Commander", Position: 2, TermFrom: pf, TermTo: pt},
	}
	for i := range officers {
		if err := db.SaveOfficer(ctx, &officers[i]); err != nil {
			return err
		}
	}
	if err := fillDemoLibrary(ctx, db, now, secondTuesday); err != nil {
		return err
	}
	demoVisits(db, now)
	if err := db.FlushStats(ctx); err != nil {
		return err
	}
	return db.AddMessage(ctx, &tenantdb.Message{Name: "Karen Miller", Email: "karen.miller@example.com", Subject: "Hall rental in October",
		Body: "Hello, is the hall available on Saturday, October 17 for a 60th birthday party of about 80 guests? Thank you!"})
}

// Season is the demo's events for a time of year.
type Season struct {
	Social, SocialText, Ceremony, CeremonyText, Holiday string
}

// DemoSeasons are the seasons of the demo seeded at now: that of its
// coming events, and that of the ceremony it held four days before.
func DemoSeasons(now time.Time) (next, past Season) {
	loc, err := time.LoadLocation(demoZone)
	if err != nil {
		loc = time.UTC
	}
	return inSeason(now.In(loc).AddDate(0, 0, 12)), inSeason(now.In(loc).AddDate(0, 0, -4))
}

// inSeason names the demo's social, ceremony and parade for the month of t,
// so that the demo reads as this time of year whenever it is seeded.
func inSeason(t time.Time) Season {
	switch t.Month() {
	case time.December, time.January:
		return Season{"Holiday dinner for veterans' families", "Ham, turkey and all the trimmings, with a visit from Santa for the children.",
			"Wreaths Across America", "Help lay wreaths on the graves of veterans at Riverside Cemetery. Gloves and wreaths provided.",
			"New Year's Day open house"}
	case time.February, time.March:
		return Season{"Lenten fish fry", "Beer-battered cod, fries, coleslaw and homemade desserts. $14 adults, $7 children.",
			"Four Chaplains Sunday", "Remembering the four chaplains of the USAT Dorchester, who gave their life jackets in 1943.",
			"St. Patrick's Day parade"}
	case time.April, time.May:
		return Season{"Spring pancake breakfast", "All-you-can-eat pancakes, sausage and coffee. $8 adults, $4 children under 12.",
			"Memorial Day ceremony", "Our annual ceremony honoring those who gave all.", "Armed Forces Day parade"}
	case time.June, time.July, time.August:
		return Season{"Summer picnic", "Burgers, brats and sweet corn on the lawn behind the hall; bring a lawn chair.",
			"Flag retirement ceremony", "Bring worn or torn U.S. flags for a dignified retirement. Drop-off box is by the front door all month.",
			"Independence Day parade"}
	case time.September, time.October:
		return Season{"Fall chili cook-off", "Twelve chilis, one trophy. Tasting is $5; proceeds go to the scholarship fund.",
			"POW/MIA Recognition Day", "A vigil and the missing man table, remembering those who never came home.", "Homecoming parade"}
	default: // November
		return Season{"Thanksgiving dinner", "A full turkey dinner for veterans, their families and anyone who would otherwise eat alone.",
			"Veterans Day ceremony", "At the eleventh hour of the eleventh day of the eleventh month, we honor all who served.",
			"Veterans Day parade"}
	}
}

// demoRSVPs answers the dinner and the next meeting for a few members.
func demoRSVPs(ctx context.Context, db *tenantdb.DB, dinner, meeting tenantdb.Event, now time.Time) error {
	guests := []struct {
		name  string
		party int
	}{{"Walter Kowalski", 2}, {"Linda Park", 4}, {"Sam Ortiz", 1}, {"Grace Nwosu", 3}, {"Hank Miller", 2},
		{"Judy Fischer", 5}, {"Tom Reyes", 2}, {"Ellen Brandt", 1}, {"Marcus Hill", 6}, {"Joan Sato", 2}}
	answer := func(e tenantdb.Event, start time.Time, i int, name string, party int) error {
		email := strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.com"
		r := tenantdb.RSVP{Occurrence: start, Name: name, Email: email, PartySize: party,
			Token: fmt.Sprintf("demo-%d-%d-%s", e.ID, i, strings.Repeat("x", 22))}
		_, err := db.AddRSVP(ctx, e, &r, nil)
		return err
	}
	for i, g := range guests {
		if err := answer(dinner, dinner.StartsAt, i, g.name, g.party); err != nil {
			return err
		}
	}
	if next := meeting.Occurrences(now, now.AddDate(0, 2, 0), 1); len(next) > 0 {
		for i, g := range guests[:4] {
			if err := answer(meeting, next[0].Start, i, g.name, 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// demoVisits counts 30 days of plausible visits, more on weekends and
// before events, so the dashboard's chart has something to show.
func demoVisits(db *tenantdb.DB, now time.Time) {
	paths := []string{"/", "/", "/", "/events", "/events", "/about", "/news", "/contact", "/p/hall-rental", "/p/history"}
	for d := 29; d >= 0; d-- {
		day := now.UTC().AddDate(0, 0, -d)
		people := 18 + (29-d)/2 + int(day.Unix()/86400%7)*3
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			people += 12
		}
		for p := range people {
			var v tenantdb.Visitor
			v[0], v[1], v[2] = byte(d), byte(p), byte(p>>8)
			for k := 0; k <= p%3; k++ {
				db.CountVisit(day.Format(tenantdb.DateLayout), paths[(p+k*3)%len(paths)], v)
			}
		}
	}
}

// StarPNG draws the demo emblem: a white five-pointed star on bg.
func StarPNG(size int, bg color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	c := float64(size) / 2
	var pts [10][2]float64
	for i := range pts {
		r := c * 0.85
		if i%2 == 1 {
			r = c * 0.34
		}
		a := -math.Pi/2 + float64(i)*math.Pi/5
		pts[i] = [2]float64{c + r*math.Cos(a), c + r*math.Sin(a)}
	}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			col := bg
			if inPolygon(float64(x)+.5, float64(y)+.5, pts[:]) {
				col = color.RGBA{0xff, 0xff, 0xff, 0xff}
			}
			img.SetRGBA(x, y, col)
		}
	}
	return encodePNG(img)
}

func inPolygon(x, y float64, pts [][2]float64) bool {
	in := false
	for i, j := 0, len(pts)-1; i < len(pts); j, i = i, i+1 {
		xi, yi, xj, yj := pts[i][0], pts[i][1], pts[j][0], pts[j][1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}

// sunsetPNG draws a sky-to-ground gradient with a hall silhouette.
func sunsetPNG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		f := float64(y) / float64(h)
		sky := color.RGBA{uint8(250 - 120*f), uint8(170 - 90*f), uint8(90 + 60*f), 0xff}
		for x := 0; x < w; x++ {
			col := sky
			roof := h*2/3 - (w/2-abs(x-w/2))/6
			if y > roof && x > w/5 && x < w*4/5 || y > h*5/6 {
				col = color.RGBA{0x2b, 0x2d, 0x42, 0xff}
			}
			img.SetRGBA(x, y, col)
		}
	}
	return encodePNG(img)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func encodePNG(img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // encoding an in-memory RGBA image does not fail
	}
	return b.Bytes()
}
