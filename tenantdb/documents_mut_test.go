package tenantdb

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestCategoryTitleNamesEachShelf: each category has its own title, and a
// name that is not a category has none.
func TestCategoryTitleNamesEachShelf(t *testing.T) {
	for _, c := range DocumentCategories {
		if got := CategoryTitle(c.Name); got != c.Title {
			t.Errorf("CategoryTitle(%q) = %q, want %q", c.Name, got, c.Title)
		}
	}
	if got := CategoryTitle("recipes"); got != "" {
		t.Errorf("CategoryTitle(recipes) = %q, want none", got)
	}
}

// TestDocumentValidateChecksEveryField: each field is refused on its own
// name, whatever passed before it, and the dates' and names' limits are
// inclusive.
func TestDocumentValidateChecksEveryField(t *testing.T) {
	ok := Document{Title: "Bylaws", Category: "bylaws", Dated: "2026-01-10", Description: "As amended",
		Filename: "Bylaws (2026).pdf", ContentType: "application/pdf", Visibility: Public}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a sound document: %v", err)
	}
	for _, dated := range []string{"1800-01-01", "2200-12-31"} {
		d := ok
		d.Dated = dated
		if err := d.Validate(); err != nil {
			t.Errorf("dated %s: %v", dated, err)
		}
	}
	for _, tc := range []struct {
		change func(*Document)
		field  string
	}{
		{func(d *Document) { d.Title = "" }, "title"},
		{func(d *Document) { d.Category = "recipes" }, "category"},
		{func(d *Document) { d.Dated = "1799-12-31" }, "dated"},
		{func(d *Document) { d.Dated = "2201-01-01" }, "dated"},
		{func(d *Document) { d.Description = strings.Repeat("x", 1001) }, "description"},
		{func(d *Document) { d.Filename = "" }, "filename"},
		{func(d *Document) { d.Filename = "minutes/may.pdf" }, "filename"},
		{func(d *Document) { d.Filename = `minutes\may.pdf` }, "filename"},
		{func(d *Document) { d.Filename = `"may".pdf` }, "filename"},
		{func(d *Document) { d.Filename = "may\x00.pdf" }, "filename"},
		{func(d *Document) { d.Filename = ".htaccess" }, "filename"},
		{func(d *Document) { d.ContentType = "text/html" }, "file"},
		{func(d *Document) { d.Visibility = "secret" }, "visibility"},
	} {
		d := ok
		tc.change(&d)
		if f := field(d.Validate()); f != tc.field {
			t.Errorf("%+v: refused on %q, want %q", d, f, tc.field)
		}
	}
}

// TestDocumentFilenameKeepsAPlainName: the uploaded name loses its path,
// its extension and what is not a letter, digit, dash, underscore, dot or
// space (other blanks become spaces); an empty result takes the title's
// slug; at most 150 characters before the extension.
func TestDocumentFilenameKeepsAPlainName(t *testing.T) {
	for _, tc := range []struct{ uploaded, title, want string }{
		{`C:\Users\pat\My Report (final).DOCX`, "x", "My Report final.docx"},
		{"/tmp/a/minutes_2026-05.v2.doc", "x", "minutes_2026-05.v2.docx"},
		{"Tab\there\nnewline.pdf", "x", "Tab here newline.docx"},
		{"Café-Ünïcode №5.pdf", "x", "Café-Ünïcode 5.docx"},
		{"...", "Annual Report", "annual-report.docx"},
		{"()", "Annual Report", "annual-report.docx"},
		{"", "Annual Report", "annual-report.docx"},
		{strings.Repeat("é", 151) + ".pdf", "x", strings.Repeat("é", 150) + ".docx"},
	} {
		if got := DocumentFilename(tc.uploaded, tc.title, ".docx"); got != tc.want {
			t.Errorf("DocumentFilename(%q, %q) = %q, want %q", tc.uploaded, tc.title, got, tc.want)
		}
	}
}

// TestAddDocumentKeepsAFilenameOfItsType: a name with the extension of
// what the file is stays as it was uploaded; one without gets it.
func TestAddDocumentKeepsAFilenameOfItsType(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	d := &Document{Title: "Minutes", Category: "minutes", Dated: "2026-05-12", Filename: "Minutes (May) 2026.pdf"}
	must(t, db.AddDocument(ctx, d, []byte(testPDF)))
	got, err := db.Document(ctx, d.ID)
	must(t, err)
	if got.Filename != "Minutes (May) 2026.pdf" {
		t.Errorf("stored as %q, want the uploaded name", got.Filename)
	}
	d = &Document{Title: "Annual Report", Category: "other", Dated: "2026-05-12"}
	must(t, db.AddDocument(ctx, d, []byte(testPDF)))
	if d.Filename != "annual-report.pdf" {
		t.Errorf("no name: stored as %q, want annual-report.pdf", d.Filename)
	}
}

// TestSniffDocumentLimits: a file of exactly MaxDocumentSize is taken and
// one byte more is refused, saying the limit; a ZIP of 20,000 entries is
// read and one of 20,001 refused; a first entry named mimetype is read as
// OpenDocument's only while it is shorter than 100 bytes.
func TestSniffDocumentLimits(t *testing.T) {
	pdf := make([]byte, MaxDocumentSize)
	copy(pdf, testPDF)
	if ct, err := SniffDocument(pdf); err != nil || ct != "application/pdf" {
		t.Errorf("a PDF of exactly %d bytes: %q, %v", MaxDocumentSize, ct, err)
	}
	_, err := SniffDocument(append(pdf, ' '))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("larger than %d MB", MaxDocumentSize/1_000_000)) {
		t.Errorf("one byte more: %v, want a refusal naming %d MB", err, MaxDocumentSize/1_000_000)
	}

	docx := func(entries int) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for i := range entries {
			name := fmt.Sprintf("word/media/%d.xml", i)
			switch i {
			case 0:
				name = "[Content_Types].xml"
			case 1:
				name = "word/document.xml"
			}
			if _, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store}); err != nil {
				t.Fatal(err)
			}
		}
		must(t, zw.Close())
		return b.Bytes()
	}
	if ct, err := SniffDocument(docx(20_000)); err != nil || !strings.Contains(ct, "wordprocessingml") {
		t.Errorf("a docx of 20,000 entries: %q, %v", ct, err)
	}
	if _, err := SniffDocument(docx(20_001)); err == nil || !strings.Contains(err.Error(), "damaged ZIP") {
		t.Errorf("a docx of 20,001 entries: %v, want a refusal", err)
	}

	long := "application/vnd.oasis.opendocument.text"
	long += strings.Repeat(" ", 100-len(long))
	_, err = SniffDocument(zipOf(t, "mimetype", long, "content.xml", "<office/>"))
	if err == nil || !strings.Contains(err.Error(), "is not a PDF or an office document") {
		t.Errorf("a mimetype entry of 100 bytes: %v, want it not read as OpenDocument", err)
	}
	_, err = SniffDocument(zipOf(t, "mimetype", long[:99], "content.xml", "<office/>"))
	if err == nil || !strings.Contains(err.Error(), "OpenDocument file of a kind") {
		t.Errorf("a mimetype entry of 99 bytes: %v, want it read (and its kind refused)", err)
	}
}

// TestOrderAlbumPhotos: the photos take the order given; a list that is
// not exactly the album's photos, or of more than an album holds, or for
// an album that does not exist, is refused naming what is wrong, and the
// order stays as it was.
func TestOrderAlbumPhotos(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	ids := addImages(t, db, 4)
	a := &Album{Title: "Parade", Dated: "2026-07-04"}
	must(t, db.SaveAlbum(ctx, a))
	must(t, db.AddAlbumPhotos(ctx, a.ID, ids[:3]))
	order := func() string { return albumPlaces(t, db, a.ID) }
	must(t, db.OrderAlbumPhotos(ctx, a.ID, []string{ids[2], ids[0], ids[1]}))
	want := fmt.Sprintf("%s@1 %s@2 %s@3", ids[2], ids[0], ids[1])
	if got := order(); got != want {
		t.Fatalf("after ordering:\n got %s\nwant %s", got, want)
	}
	tooMany := make([]string, MaxAlbumPhotos+1)
	for i := range tooMany {
		tooMany[i] = ids[0]
	}
	for _, tc := range []struct {
		ids  []string
		says string
	}{
		{[]string{ids[2], ids[0]}, fmt.Sprintf("photo %q is missing", ids[1])},
		{[]string{ids[2], ids[0], ids[1], ids[3]}, fmt.Sprintf("%q is not a photo of this album", ids[3])},
		{[]string{ids[2], ids[0], ids[0], ids[1]}, fmt.Sprintf("%q is listed twice", ids[0])},
		{nil, "is missing"},
		{tooMany, fmt.Sprintf("at most %d photos; %d were sent", MaxAlbumPhotos, MaxAlbumPhotos+1)},
	} {
		err := db.OrderAlbumPhotos(ctx, a.ID, tc.ids)
		if f := field(err); f != "media_ids" || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("order %v: %v, want a refusal of media_ids saying %q", tc.ids, err, tc.says)
		}
		if got := order(); got != want {
			t.Errorf("order %v changed the album to %s", tc.ids, got)
		}
	}
	if err := db.OrderAlbumPhotos(ctx, a.ID+1, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("ordering an album that does not exist: %v, want not found", err)
	}
	if err := db.AddAlbumPhotos(ctx, a.ID+1, ids[3:]); !errors.Is(err, ErrNotFound) {
		t.Errorf("adding to an album that does not exist: %v, want not found", err)
	}
}

// TestEventCapacityTakesItsLimit: a capacity of exactly MaxCapacity is
// taken, one more is refused; every event is listed by its start.
func TestEventCapacityTakesItsLimit(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	e := rsvpEvent(t, db, MaxCapacity)
	e.Capacity = MaxCapacity + 1
	if f := field(e.Validate()); f != "capacity" {
		t.Errorf("capacity %d: refused on %q, want capacity", e.Capacity, f)
	}
	e.Capacity = -1
	if f := field(e.Validate()); f != "capacity" {
		t.Errorf("capacity -1: refused on %q, want capacity", f)
	}
	all, err := db.Events(ctx)
	must(t, err)
	if len(all) != 1 || all[0].ID != e.ID || all[0].Capacity != MaxCapacity {
		t.Errorf("Events = %+v, want the one event with capacity %d", all, MaxCapacity)
	}
}
