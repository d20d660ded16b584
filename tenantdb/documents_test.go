package tenantdb

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// zipOf builds a ZIP holding files (name, content) in order; the first
// is stored uncompressed, as OpenDocument's mimetype must be.
func zipOf(t *testing.T, files ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i := 0; i+1 < len(files); i += 2 {
		method := zip.Deflate
		if i == 0 {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: files[i], Method: method})
		must(t, err)
		w.Write([]byte(files[i+1]))
	}
	must(t, zw.Close())
	return b.Bytes()
}

func TestSniffDocument(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string // content type, or part of the refusal
		ok   bool
	}{
		{"pdf", []byte(testPDF), "application/pdf", true},
		{"docx", zipOf(t, "[Content_Types].xml", "<Types/>", "word/document.xml", "<w:document/>"), "wordprocessingml.document", true},
		{"xlsx", zipOf(t, "[Content_Types].xml", "<Types/>", "xl/workbook.xml", "<workbook/>"), "spreadsheetml.sheet", true},
		{"odt", zipOf(t, "mimetype", "application/vnd.oasis.opendocument.text", "content.xml", "<office/>"), "opendocument.text", true},
		{"html named pdf", []byte("<!doctype html><html><script>alert(1)</script></html>"), "it looks like text/html", false},
		{"pdf not at the start", []byte("<html>%PDF-1.4</html>"), "it looks like text/html", false},
		{"plain zip", zipOf(t, "a.txt", "hello"), "it looks like application/zip", false},
		{"docm with macros", zipOf(t, "[Content_Types].xml", "<Types/>", "word/document.xml", "<w/>", "word/vbaProject.bin", "x"), "contains macros", false},
		{"odt with basic macros", zipOf(t, "mimetype", "application/vnd.oasis.opendocument.text", "Basic/Standard/Module1.xml", "x"), "contains macros", false},
		{"odg drawing", zipOf(t, "mimetype", "application/vnd.oasis.opendocument.graphics"), "of a kind the library does not take", false},
		{"exe", []byte("MZ\x90\x00\x03\x00\x00\x00"), "it looks like application/", false},
		{"empty", nil, "is empty", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SniffDocument(tc.data)
			if tc.ok {
				if err != nil || !strings.Contains(got, tc.want) {
					t.Fatalf("SniffDocument = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SniffDocument = %q, %v; want a refusal saying %q", got, err, tc.want)
			}
		})
	}
}

func TestDocumentsStoreAndVisibility(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	pub := &Document{Title: "Bylaws 2025", Category: "bylaws", Dated: "2025-01-10", Filename: "bylaws.PDF.exe"}
	must(t, db.AddDocument(ctx, pub, []byte(testPDF)))
	if pub.Filename != "bylaws.PDF.pdf" || pub.ContentType != "application/pdf" || pub.Visibility != "public" {
		t.Errorf("stored as %q, %q, %q", pub.Filename, pub.ContentType, pub.Visibility)
	}
	priv := &Document{Title: "Treasurer's report", Category: "minutes", Dated: "2026-05-12", Visibility: Members}
	must(t, db.AddDocument(ctx, priv, []byte(testPDF)))

	html := &Document{Title: "Not a PDF", Category: "forms", Dated: "2026-01-01", Filename: "form.pdf"}
	err := db.AddDocument(ctx, html, []byte("<html><body>hello</body></html>"))
	if ve, ok := errors.AsType[*ValidationError](err); !ok || ve.Field != "file" {
		t.Errorf("HTML named .pdf: %v, want a refusal of the file", err)
	}
	for _, bad := range []Document{
		{Title: "", Category: "minutes", Dated: "2026-01-01"},
		{Title: "x", Category: "recipes", Dated: "2026-01-01"},
		{Title: "x", Category: "minutes", Dated: "12/05/2026"},
		{Title: "x", Category: "minutes", Dated: "2026-01-01", Visibility: "secret"},
	} {
		if err := db.AddDocument(ctx, &bad, []byte(testPDF)); err == nil {
			t.Errorf("stored %+v", bad)
		}
	}

	all, err := db.Documents(ctx, "", true, Window{})
	must(t, err)
	public, err := db.Documents(ctx, "", false, Window{})
	must(t, err)
	if len(all) != 2 || all[0].ID != priv.ID || len(public) != 1 || public[0].ID != pub.ID {
		t.Errorf("members see %d, the public %d (want 2 newest first, and 1)", len(all), len(public))
	}
	if _, _, err := db.VisibleDocument(ctx, priv.ID, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("a members-only document for the public: %v, want not found", err)
	}
	if _, data, err := db.VisibleDocument(ctx, priv.ID, true); err != nil || string(data) != testPDF {
		t.Errorf("a members-only document for a member: %v", err)
	}
	counts, err := db.DocumentCounts(ctx, false)
	must(t, err)
	if counts["bylaws"] != 1 || counts["minutes"] != 0 {
		t.Errorf("public counts %v", counts)
	}
	priv.Visibility = Public
	priv.Title = "Minutes of May"
	must(t, db.UpdateDocument(ctx, priv))
	if got, _ := db.Documents(ctx, "minutes", false, Window{}); len(got) != 1 || got[0].Title != "Minutes of May" {
		t.Errorf("after making it public: %+v", got)
	}
	sp, err := db.Space(ctx)
	must(t, err)
	if sp.DocumentBytes != 2*int64(len(testPDF)) || sp.DocumentCount != 2 {
		t.Errorf("space counts %d bytes in %d documents", sp.DocumentBytes, sp.DocumentCount)
	}
	must(t, db.DeleteDocument(ctx, pub.ID))
	if err := db.DeleteDocument(ctx, pub.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestAlbums(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	var ids []string
	for i := range 3 {
		m := &Media{Name: "p.jpg", ContentType: "image/jpeg", Width: 1000, Height: 800}
		var vs []VariantData
		if i == 0 {
			vs = []VariantData{{Variant: "small", ContentType: "image/jpeg", Width: 320, Height: 256, Data: []byte("s")},
				{Variant: "medium", ContentType: "image/jpeg", Width: 800, Height: 640, Data: []byte("m")}}
		}
		must(t, db.AddMedia(ctx, m, []byte("jpeg bytes"), vs...))
		ids = append(ids, m.ID)
	}
	if err := db.AddMedia(ctx, &Media{Name: "p.jpg", ContentType: "image/jpeg", Width: 300, Height: 200}, []byte("x"),
		VariantData{Variant: "small", ContentType: "image/jpeg", Width: 320, Height: 200, Data: []byte("s")}); err == nil {
		t.Error("stored a small copy wider than its original")
	}
	if _, data, err := db.MediaVariantData(ctx, ids[0], "medium"); err != nil || string(data) != "m" {
		t.Errorf("medium copy: %q, %v", data, err)
	}
	if _, _, err := db.MediaVariantData(ctx, ids[1], "medium"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a copy never made: %v", err)
	}

	a := &Album{Title: "Summer picnic", Dated: "2026-07-04", Published: true}
	must(t, db.SaveAlbum(ctx, a))
	hidden := &Album{Title: "Members' dinner", Dated: "2026-08-01", Published: true, Visibility: Members}
	must(t, db.SaveAlbum(ctx, hidden))
	draft := &Album{Title: "Draft", Dated: "2026-09-01"}
	must(t, db.SaveAlbum(ctx, draft))
	must(t, db.AddAlbumPhotos(ctx, a.ID, []string{ids[2], ids[0], ids[1], ids[0]}))
	must(t, db.UpdateAlbumPhoto(ctx, AlbumPhoto{AlbumID: a.ID, Media: Media{ID: ids[1]}, Position: -1, Caption: "First"}))
	photos, err := db.AlbumPhotos(ctx, a.ID, 0)
	must(t, err)
	if len(photos) != 3 || photos[0].Media.ID != ids[1] || photos[0].Caption != "First" || photos[1].Media.ID != ids[2] {
		t.Fatalf("photos in order: %+v", photos)
	}
	got, err := db.PublishedAlbum(ctx, "summer-picnic", false)
	must(t, err)
	if got.Cover != ids[1] || got.Photos != 3 {
		t.Errorf("cover %q (want the first photo %q), %d photos", got.Cover, ids[1], got.Photos)
	}
	a.CoverID = ids[0]
	must(t, db.SaveAlbum(ctx, a))
	if got, _ := db.Album(ctx, a.ID); got.Cover != ids[0] {
		t.Errorf("chosen cover %q, want %q", got.Cover, ids[0])
	}
	public, err := db.Albums(ctx, true, false, Window{})
	must(t, err)
	members, err := db.Albums(ctx, true, true, Window{})
	must(t, err)
	every, err := db.Albums(ctx, false, false, Window{})
	must(t, err)
	if len(public) != 1 || len(members) != 2 || len(every) != 3 {
		t.Errorf("public %d, members %d, dashboard %d albums; want 1, 2, 3", len(public), len(members), len(every))
	}
	if _, err := db.PublishedAlbum(ctx, hidden.Slug, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("members' album for the public: %v", err)
	}
	must(t, db.DeleteMedia(ctx, ids[0]))
	if got, _ := db.Album(ctx, a.ID); got.Photos != 2 || got.CoverID != "" {
		t.Errorf("after deleting the cover image: %d photos, cover %q", got.Photos, got.CoverID)
	}
	must(t, db.RemoveAlbumPhoto(ctx, a.ID, ids[1]))
	must(t, db.DeleteAlbum(ctx, a.ID))
	if _, err := db.MediaByID(ctx, []string{ids[1], ids[2]}); err != nil {
		t.Error(err)
	}
}
