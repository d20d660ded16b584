package platform

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/imaging"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// fillDemoLibrary adds the demo chapter's documents, a small photo album
// and the home page's wide photo, dated around now. The photos are drawn
// here (small, so a demo starts fast) and go through the same cleaning
// and sizing as an upload.
func fillDemoLibrary(ctx context.Context, db *tenantdb.DB, now time.Time, lastMeeting time.Time) error {
	budget := imaging.NewBudget(imaging.DefaultBudget)
	addPhoto := func(name, alt string, img image.Image) (tenantdb.Media, error) {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
			return tenantdb.Media{}, err
		}
		c, err := imaging.CleanSized(ctx, budget, b.Bytes())
		if err != nil {
			return tenantdb.Media{}, err
		}
		m := tenantdb.Media{Name: name, Alt: alt, ContentType: c.ContentType, Width: c.Width, Height: c.Height}
		return m, db.AddMedia(ctx, &m, c.Data, c.Variants...)
	}
	hero, err := addPhoto("hall-panorama.jpg", "The Post 42 hall on River Road, flags flying, at sunset", scene(1200, 450, 0))
	if err != nil {
		return err
	}
	site, err := db.Site(ctx)
	if err != nil {
		return err
	}
	site.HeroID = hero.ID
	if err := db.UpdateSite(ctx, &site); err != nil {
		return err
	}
	album := &tenantdb.Album{Title: "Memorial Day ceremony", Dated: now.AddDate(0, 0, -4).Format(time.DateOnly), Published: true,
		Description: "Riverside Cemetery, with the high school band and the Scouts of Troop 17."}
	if err := db.SaveAlbum(ctx, album); err != nil {
		return err
	}
	captions := []struct{ alt, caption string }{
		{"The color guard at the cemetery gate", "The color guard leads the procession."},
		{"Rows of small flags on the graves", "Troop 17 placed flags on 1,400 graves."},
		{"The band on the lawn", "The Riverside High School band."},
		{"Neighbors gathered under the trees", "More than 300 neighbors came to remember."},
	}
	var ids []string
	for i, c := range captions {
		m, err := addPhoto(fmt.Sprintf("memorial-day-%d.jpg", i+1), c.alt, scene(720, 480, i+1))
		if err != nil {
			return err
		}
		ids = append(ids, m.ID)
	}
	if err := db.AddAlbumPhotos(ctx, album.ID, ids); err != nil {
		return err
	}
	for i, c := range captions {
		if err := db.UpdateAlbumPhoto(ctx, tenantdb.AlbumPhoto{AlbumID: album.ID, Media: tenantdb.Media{ID: ids[i]}, Position: i + 1, Caption: c.caption}); err != nil {
			return err
		}
	}

	month := now.Format("January 2006")
	docs := []struct {
		d     tenantdb.Document
		lines []string
	}{
		{tenantdb.Document{Title: "Minutes of the " + lastMeeting.Format("January") + " membership meeting", Category: "minutes",
			Dated: lastMeeting.Format(time.DateOnly), Filename: "minutes-" + lastMeeting.Format(time.DateOnly) + ".pdf"},
			[]string{"Called to order at 7:02 PM by Commander Maria Delgado.", "42 members present. Minutes of the last meeting approved.",
				"Finance: the pancake breakfast raised $4,200 for the veterans' home.", "Adjourned at 8:15 PM."}},
		{tenantdb.Document{Title: "Bylaws of Riverside Veterans Post 42", Category: "bylaws", Dated: "2019-11-12", Filename: "bylaws.pdf",
			Description: "As amended November 12, 2019."},
			[]string{"Article I. Name: Riverside Veterans Post 42.", "Article II. Purpose: to serve veterans, their families and the community.",
				"Article III. Membership: as set out in the national constitution.", "Article IV. Meetings: the second Tuesday of each month."}},
		{tenantdb.Document{Title: "The Post 42 Dispatch, " + month, Category: "newsletters", Dated: now.AddDate(0, 0, -2).Format(time.DateOnly),
			Filename: "dispatch-" + now.Format("2006-01") + ".pdf"},
			[]string{"Memorial Day: thank you, Riverside.", "Coming up: pancake breakfast, flag retirement ceremony, the parade.",
				"Scholarships: applications are due April 30."}},
		{tenantdb.Document{Title: "Membership application", Category: "forms", Dated: "2024-01-15", Filename: "membership-application.pdf",
			Description: "Print, fill in and bring it to any meeting with a copy of your DD-214."},
			[]string{"Name: ______________________", "Branch and years of service: ______________________", "Signature: ______________________"}},
		{tenantdb.Document{Title: "Treasurer's report, first quarter", Category: "minutes", Dated: now.AddDate(0, -1, 0).Format(time.DateOnly),
			Filename: "treasurer-q1.pdf", Visibility: tenantdb.Members, Description: "For members only."},
			[]string{"Opening balance, income, expenses and closing balance of the quarter."}},
	}
	for _, doc := range docs {
		d := doc.d
		if err := db.AddDocument(ctx, &d, demoPDF(d.Title, doc.lines)); err != nil {
			return err
		}
	}
	return nil
}

// demoPDF is a one-page PDF with a title and lines of text, its
// cross-reference table correct so that any viewer opens it.
func demoPDF(title string, lines []string) []byte {
	esc := strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`)
	var text strings.Builder
	fmt.Fprintf(&text, "BT /F1 18 Tf 72 720 Td (%s) Tj ET\n", esc.Replace(title))
	for i, l := range lines {
		fmt.Fprintf(&text, "BT /F1 12 Tf 72 %d Td (%s) Tj ET\n", 680-22*i, esc.Replace(l))
	}
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", text.Len(), text.String()),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}

// scene draws a w×h picture for the demo: a sky, a lawn, and rows of
// posts (flags, people, trees) that differ with n.
func scene(w, h, n int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	horizon := h * (5 + n%3) / 10
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			f := float64(y) / float64(h)
			c := color.RGBA{uint8(120 + 100*f), uint8(170 + 50*f), uint8(235 - 30*f), 0xff}
			if n == 0 {
				c = color.RGBA{uint8(250 - 120*f), uint8(170 - 90*f), uint8(90 + 60*f), 0xff}
			}
			if y > horizon {
				g := 0.8 + 0.2*math.Sin(float64(x)/17+float64(y)/11)
				c = color.RGBA{uint8(60 * g), uint8((120 + 10*float64(n)) * g), uint8(50 * g), 0xff}
			}
			img.SetRGBA(x, y, c)
		}
	}
	// Posts: flag poles with a red-white-blue flag, or figures.
	for k := 0; k < 6+n; k++ {
		px := w * (k + 1) / (7 + n)
		top := horizon - h/5 + (k%3)*h/30
		for y := top; y < horizon+h/12 && y < h; y++ {
			for x := px; x < px+max(2, w/200); x++ {
				img.SetRGBA(x, y, color.RGBA{0x33, 0x33, 0x33, 0xff})
			}
		}
		for y := top; y < top+h/16; y++ {
			for x := px; x < px+w/25 && x < w; x++ {
				c := color.RGBA{0xb2, 0x22, 0x34, 0xff}
				if (y-top)*6/(h/16+1)%2 == 1 {
					c = color.RGBA{0xff, 0xff, 0xff, 0xff}
				}
				if x < px+w/60 && y < top+h/32 {
					c = color.RGBA{0x3c, 0x3b, 0x6e, 0xff}
				}
				img.SetRGBA(x, y, c)
			}
		}
	}
	return img
}
