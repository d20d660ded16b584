package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestAPILibrary: an admin's integration uploads a PDF to the document
// library, lists and deletes it, and lists and deletes an album. A file
// named .pdf that is HTML, a file over the size limit, a bad category or
// visibility, and a request that is not multipart are refused naming
// what is wrong, and change no row.
func TestAPILibrary(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "post42")
	tok := ls.Login(t, "post42", email, password)
	c := ls.Browser()
	api := func(method, path string, body any) webtest.APIResult {
		return ls.Call(t, c, method, ls.SiteURL("post42", path), body, webtest.Bearer(tok)...)
	}
	upload := func(name string, data []byte, fields map[string]string) webtest.APIResult {
		return ls.Upload(t, c, "post42", "/api/documents", name, data, fields, webtest.Bearer(tok)...)
	}
	pdf := []byte("%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n")

	r := upload("May minutes.pdf", pdf, map[string]string{"category": "minutes", "dated": "2026-05-12", "visibility": "members"})
	var d struct {
		ID, Title, Category, Visibility, ContentType string
		Size                                         int64
	}
	r.JSON(t, &d)
	if r.Status != http.StatusCreated || d.Title != "May minutes" || d.Category != "minutes" || d.Visibility != "members" ||
		d.Size != int64(len(pdf)) {
		t.Fatalf("POST /api/documents: %d %s", r.Status, r.Body)
	}
	var docs []map[string]any
	api("GET", "/api/documents", nil).JSON(t, &docs)
	if len(docs) != 1 || docs[0]["id"] != d.ID {
		t.Fatalf("GET /api/documents: %v, want the members-only document too", docs)
	}

	tn, _ := ls.Platform.Catalog.TenantBySlug("post42")
	digest := func() string {
		t.Helper()
		dg, err := ls.Platform.Digest(context.Background(), tn)
		webtest.Must(t, err)
		return dg.Sum()
	}
	for _, tc := range []struct {
		name   string
		do     func() webtest.APIResult
		status int
		field  string
	}{
		{"HTML named .pdf", func() webtest.APIResult {
			return upload("bylaws.pdf", []byte("<html><script>alert(1)</script></html>"), map[string]string{"category": "bylaws", "dated": "2026-01-01"})
		}, 422, "file"},
		{"over the size limit", func() webtest.APIResult {
			return upload("big.pdf", append(append([]byte{}, pdf...), make([]byte, tenantdb.MaxDocumentSize)...), map[string]string{"category": "minutes", "dated": "2026-01-01"})
		}, 413, ""},
		{"unknown category", func() webtest.APIResult {
			return upload("x.pdf", pdf, map[string]string{"category": "secrets", "dated": "2026-01-01"})
		}, 422, "category"},
		{"unknown visibility", func() webtest.APIResult {
			return upload("x.pdf", pdf, map[string]string{"category": "minutes", "dated": "2026-01-01", "visibility": "friends"})
		}, 422, "visibility"},
		{"JSON instead of a file", func() webtest.APIResult { return api("POST", "/api/documents", map[string]any{"title": "x"}) }, 400, ""},
		{"delete of an unknown document", func() webtest.APIResult { return api("DELETE", "/api/documents/nope", nil) }, 404, ""},
		{"delete of an unknown album", func() webtest.APIResult { return api("DELETE", "/api/albums/424242", nil) }, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := digest()
			r := tc.do()
			msg, field := r.ErrField(t)
			if r.Status != tc.status || field != tc.field || msg == "" {
				t.Errorf("%d %.300s, want %d naming field %q", r.Status, r.Body, tc.status, tc.field)
			}
			if digest() != before {
				t.Error("refused, but the chapter's rows changed")
			}
		})
	}

	if r := api("DELETE", "/api/documents/"+d.ID, nil); r.Status != http.StatusNoContent {
		t.Errorf("DELETE the document: %d %s", r.Status, r.Body)
	}
	if r := api("GET", "/api/documents/"+d.ID, nil); r.Status != http.StatusNotFound {
		t.Errorf("a deleted document: %d, want 404", r.Status)
	}

	db := ls.DB("post42").DB
	album := &tenantdb.Album{Title: "Picnic", Dated: "2026-05-01", Visibility: tenantdb.Members}
	webtest.Must(t, db.SaveAlbum(context.Background(), album))
	var albums []map[string]any
	api("GET", "/api/albums", nil).JSON(t, &albums)
	if len(albums) != 1 || albums[0]["slug"] != "picnic" || albums[0]["published"] != false {
		t.Fatalf("GET /api/albums: %v, want the unpublished members-only album", albums)
	}
	if r := api("DELETE", fmt.Sprintf("/api/albums/%d", album.ID), nil); r.Status != http.StatusNoContent {
		t.Errorf("DELETE the album: %d %s", r.Status, r.Body)
	}
	if body := string(api("GET", "/api/albums", nil).Body); strings.TrimSpace(body) != "[]" {
		t.Errorf("albums after the delete: %s", body)
	}
}
