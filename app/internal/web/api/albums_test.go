package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// photoJSON is a photo of an album as GET /api/albums/:id/photos shows it.
type photoJSON struct {
	AlbumID  int64  `json:"album_id"`
	MediaID  string `json:"media_id"`
	Position int    `json:"position"`
	Caption  string `json:"caption"`
	Media    struct {
		ID  string `json:"id"`
		Alt string `json:"alt"`
	} `json:"media"`
	Src    string `json:"src"`
	Srcset string `json:"srcset"`
	Sizes  []struct {
		Name  string `json:"name"`
		Width int    `json:"width"`
		URL   string `json:"url"`
	} `json:"sizes"`
}

func mediaIDsOf(ps []photoJSON) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.MediaID
	}
	return out
}

// TestAPIAlbumPhotos: an editor's integration makes an album, adds three
// images of the library to it, captions one, reorders them, and takes one
// out, each answered with the photos in order (with their sizes for
// srcset) and shown so on the public album page. Every refusal (ids that
// are not this chapter's images, an album of another chapter, an order
// that is not exactly the album's photos, too many photos, bad fields) is
// answered naming what is wrong, and changes no row of the chapter.
func TestAPIAlbumPhotos(t *testing.T) {
	ls := webtest.NewEmpty(t)
	ch := newChapter(t, ls, "post42")
	other := newChapter(t, ls, "post7")
	ls.AddAdmin(t, "post42", "editor@post42.example.org", tenantdb.RoleEditor, "a long editor passphrase")
	editor := ls.Login(t, "post42", "editor@post42.example.org", "a long editor passphrase")
	api := func(method, path string, body any) webtest.APIResult {
		t.Helper()
		return ch.apiAs(editor, method, path, body)
	}
	image := func(ch *chapter, w int) string {
		t.Helper()
		r := ch.upload("/api/media", "photo.png", webtest.PNG(w, w*2/3), nil)
		var m struct{ ID string }
		r.JSON(t, &m)
		if r.Status != http.StatusCreated || m.ID == "" {
			t.Fatalf("POST /api/media: %d %s", r.Status, r.Body)
		}
		return m.ID
	}
	m1, m2, m3, m4 := image(ch, 900), image(ch, 400), image(ch, 200), image(ch, 200)
	foreign := image(other, 200)

	r := api("POST", "/api/albums", map[string]any{"title": "Picnic", "published": true})
	var album tenantdb.Album
	r.JSON(t, &album)
	if r.Status != http.StatusCreated || album.Slug != "picnic" || album.Dated == "" {
		t.Fatalf("POST /api/albums: %d %s", r.Status, r.Body)
	}
	photos := fmt.Sprintf("/api/albums/%d/photos", album.ID)
	order := fmt.Sprintf("/api/albums/%d/order", album.ID)
	// Another chapter's album with an id this chapter does not have.
	for _, title := range []string{"One", "Two", "Three"} {
		if r := other.api("POST", "/api/albums", map[string]any{"title": title}); r.Status != http.StatusCreated {
			t.Fatalf("POST /api/albums on post7: %d %s", r.Status, r.Body)
		}
	}
	othersAlbum := fmt.Sprintf("/api/albums/%d", album.ID+2)

	got := func(r webtest.APIResult, what string) []photoJSON {
		t.Helper()
		var ps []photoJSON
		r.JSON(t, &ps)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", what, r.Status, r.Body)
		}
		return ps
	}
	ps := got(api("POST", photos, map[string]any{"media_ids": []string{m1, m2, m3}}), "add three")
	if ids := mediaIDsOf(ps); !slices.Equal(ids, []string{m1, m2, m3}) || ps[0].Position != 1 || ps[2].Position != 3 {
		t.Fatalf("after adding: %v, want %v at places 1-3", ids, []string{m1, m2, m3})
	}
	// The 900-pixel image has a small and a medium copy; the 200-pixel
	// one none, so no srcset.
	if p := ps[0]; len(p.Sizes) != 2 || p.Sizes[0].URL != "/media/"+m1+"/small" || p.Sizes[1].Width != 800 ||
		!strings.Contains(p.Srcset, "/media/"+m1+"/medium 800w") || p.Src != "/media/"+m1 || p.Media.ID != m1 || p.AlbumID != album.ID {
		t.Errorf("photo 1: %+v", p)
	}
	if p := ps[2]; len(p.Sizes) != 0 || p.Srcset != "" {
		t.Errorf("a 200-pixel photo: %+v, want no smaller sizes", p)
	}
	if n := ls.Call(t, ch.c, "GET", ls.SiteURL("post42", ps[0].Sizes[0].URL), nil); n.Status != http.StatusOK {
		t.Errorf("GET %s: %d", ps[0].Sizes[0].URL, n.Status)
	}

	// The album page, now in the page cache, shows them in that order.
	pageShows := func(in ...string) bool {
		t.Helper()
		_, page := ls.Fetch(t, "post42", "/albums/picnic")
		at := 0
		for _, s := range in {
			i := strings.Index(page[at:], s)
			if i < 0 {
				return false
			}
			at += i + len(s)
		}
		return true
	}
	if !pageShows("/media/"+m1, "/media/"+m2, "/media/"+m3) {
		t.Errorf("the album page does not show %s, %s, %s in that order", m1, m2, m3)
	}

	r = api("PATCH", photos+"/"+m2, map[string]any{"caption": "  The grill  ", "media_id": "ignored"})
	var p photoJSON
	r.JSON(t, &p)
	if r.Status != http.StatusOK || p.Caption != "The grill" || p.MediaID != m2 {
		t.Errorf("PATCH the caption: %d %s", r.Status, r.Body)
	}
	ps = got(api("PUT", order, map[string]any{"media_ids": []string{m3, m1, m2}}), "reorder")
	if ids := mediaIDsOf(ps); !slices.Equal(ids, []string{m3, m1, m2}) {
		t.Errorf("after the reorder: %v, want %v", ids, []string{m3, m1, m2})
	}
	ps = got(api("GET", photos, nil), "list")
	if ids := mediaIDsOf(ps); !slices.Equal(ids, []string{m3, m1, m2}) || ps[2].Caption != "The grill" {
		t.Errorf("GET photos: %+v", ps)
	}
	if !pageShows("/media/"+m3, "/media/"+m1, "/media/"+m2, "The grill") {
		t.Errorf("the album page does not show %s, %s, %s in that order with the caption", m3, m1, m2)
	}

	checkRefusals(t, ch, []refusal{
		{"another chapter's image", func() webtest.APIResult {
			return api("POST", photos, map[string]any{"media_ids": []string{m4, foreign}})
		}, 422, "media_ids"},
		{"an id that is no image", func() webtest.APIResult {
			return api("POST", photos, map[string]any{"media_ids": []string{m4, "../../etc/passwd"}})
		}, 422, "media_ids"},
		{"no ids", func() webtest.APIResult { return api("POST", photos, map[string]any{"media_ids": []string{}}) }, 422, "media_ids"},
		{"ids as a string", func() webtest.APIResult { return api("POST", photos, map[string]any{"media_ids": m4}) }, 422, "media_ids"},
		{"more ids than an album holds", func() webtest.APIResult {
			return api("POST", photos, map[string]any{"media_ids": slices.Repeat([]string{m4}, tenantdb.MaxAlbumPhotos+1)})
		}, 422, "media_ids"},
		{"another chapter's album", func() webtest.APIResult {
			return api("POST", othersAlbum+"/photos", map[string]any{"media_ids": []string{m4}})
		}, 404, ""},
		{"an album id that is not a number", func() webtest.APIResult {
			return api("POST", "/api/albums/picnic/photos", map[string]any{"media_ids": []string{m4}})
		}, 404, ""},
		{"an order missing a photo", func() webtest.APIResult {
			return api("PUT", order, map[string]any{"media_ids": []string{m3, m1}})
		}, 422, "media_ids"},
		{"an order naming a photo twice", func() webtest.APIResult {
			return api("PUT", order, map[string]any{"media_ids": []string{m3, m1, m1}})
		}, 422, "media_ids"},
		{"an order with a photo swapped for one not in the album", func() webtest.APIResult {
			return api("PUT", order, map[string]any{"media_ids": []string{m3, m1, m4}})
		}, 422, "media_ids"},
		{"an order with one more", func() webtest.APIResult {
			return api("PUT", order, map[string]any{"media_ids": []string{m3, m1, m2, m4}})
		}, 422, "media_ids"},
		{"an order without media_ids", func() webtest.APIResult { return api("PUT", order, map[string]any{}) }, 422, "media_ids"},
		{"an order of another chapter's album", func() webtest.APIResult {
			return api("PUT", othersAlbum+"/order", map[string]any{"media_ids": []string{}})
		}, 404, ""},
		{"a caption too long", func() webtest.APIResult {
			return api("PATCH", photos+"/"+m1, map[string]any{"caption": strings.Repeat("x", 501)})
		}, 422, "caption"},
		{"a field photos do not have", func() webtest.APIResult {
			return api("PATCH", photos+"/"+m1, map[string]any{"colour": "red"})
		}, 422, "colour"},
		{"a caption of an image not in the album", func() webtest.APIResult {
			return api("PATCH", photos+"/"+m4, map[string]any{"caption": "x"})
		}, 404, ""},
		{"removing an image not in the album", func() webtest.APIResult { return api("DELETE", photos+"/"+m4, nil) }, 404, ""},
		{"photos of another chapter's album", func() webtest.APIResult { return api("DELETE", othersAlbum+"/photos/"+foreign, nil) }, 404, ""},
		{"another chapter's token", func() webtest.APIResult {
			return ch.apiAs(other.tok, "POST", photos, map[string]any{"media_ids": []string{m4}})
		}, 401, ""},
	})

	if r := api("DELETE", photos+"/"+m1, nil); r.Status != http.StatusNoContent {
		t.Errorf("DELETE a photo: %d %s", r.Status, r.Body)
	}
	if ids := mediaIDsOf(got(api("GET", photos, nil), "list")); !slices.Equal(ids, []string{m3, m2}) {
		t.Errorf("after removing %s: %v", m1, ids)
	}
	if r := api("GET", "/api/media/"+m1, nil); r.Status != http.StatusOK {
		t.Errorf("the removed photo left the media library: %d", r.Status)
	}
}

// TestAPIAlbumHoldsAtMostMaxPhotos: adding photos past
// tenantdb.MaxAlbumPhotos is refused whole, naming media_ids, and adds
// none.
func TestAPIAlbumHoldsAtMostMaxPhotos(t *testing.T) {
	ls := webtest.NewEmpty(t)
	ch := newChapter(t, ls, "big")
	db := ls.DB("big").DB
	ids := make([]string, tenantdb.MaxAlbumPhotos+2)
	for i := range ids {
		m := &tenantdb.Media{Name: "p.png", ContentType: "image/png", Width: 10, Height: 10}
		webtest.Must(t, db.AddMedia(context.Background(), m, webtest.PNG(10, 10)))
		ids[i] = m.ID
	}
	r := ch.api("POST", "/api/albums", map[string]any{"title": "Reunion"})
	var album tenantdb.Album
	r.JSON(t, &album)
	photos := fmt.Sprintf("/api/albums/%d/photos", album.ID)
	if r := ch.api("POST", photos, map[string]any{"media_ids": ids[:tenantdb.MaxAlbumPhotos-1]}); r.Status != http.StatusOK {
		t.Fatalf("adding %d photos: %d %.300s", tenantdb.MaxAlbumPhotos-1, r.Status, r.Body)
	}
	checkRefusals(t, ch, []refusal{
		{"two more than the last place", func() webtest.APIResult {
			return ch.api("POST", photos, map[string]any{"media_ids": ids[tenantdb.MaxAlbumPhotos-1:]})
		}, 422, "media_ids"},
	})
	if r := ch.api("POST", photos, map[string]any{"media_ids": ids[tenantdb.MaxAlbumPhotos-1 : tenantdb.MaxAlbumPhotos]}); r.Status != http.StatusOK {
		t.Errorf("the last place: %d %.300s", r.Status, r.Body)
	}
}
