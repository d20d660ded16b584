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
	ch := newChapter(t, ls, "post42")
	api := ch.api
	upload := func(name string, data []byte, fields map[string]string) webtest.APIResult {
		return ch.upload("/api/documents", name, data, fields)
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

	checkRefusals(t, ch, []refusal{
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
		ch.refuses("JSON instead of a file", ch.tok, "POST", "/api/documents", map[string]any{"title": "x"}, 400, ""),
		ch.refuses("delete of an unknown document", ch.tok, "DELETE", "/api/documents/nope", nil, 404, ""),
		ch.refuses("delete of an unknown album", ch.tok, "DELETE", "/api/albums/424242", nil, 404, ""),
	})

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
