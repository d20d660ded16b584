package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestUploadsStopAtTheQuotaAndDeletingMakesRoom uploads images that do not
// compress until the API answers 507: the file then holds no more than its
// quota plus a few pages of SQLite's own, the refused upload stored
// nothing, saves of content are refused once the file reaches the quota
// (deletions are not), and
// deleting an image makes room for the next upload at once, though the
// file on disk does not shrink.
func TestUploadsStopAtTheQuotaAndDeletingMakesRoom(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "full")
	tok := ls.Login(t, "full", email, password)
	c := ls.Browser()
	img := noisePNG(300, 300) // ~360 KB stored
	base := ls.Space(t, "full").Used()
	quota := base + 1_500_000
	ls.SetQuota(t, "full", quota)

	var ids []string
	var refused webtest.APIResult
	for i := 0; i < 12 && refused.Status == 0; i++ {
		r := ls.Upload(t, c, "full", "/api/media", "noise.png", img, nil, webtest.Bearer(tok)...)
		switch r.Status {
		case http.StatusCreated:
			var m tenantdb.Media
			r.JSON(t, &m)
			ids = append(ids, m.ID)
		case http.StatusInsufficientStorage:
			refused = r
		default:
			t.Fatalf("upload %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	if refused.Status != http.StatusInsufficientStorage {
		t.Fatalf("%d uploads of %d bytes under a quota of %d bytes were all stored", len(ids), len(img), quota)
	}
	msg, _ := refused.ErrField(t)
	for _, want := range []string{"not enough storage left", "MB of", "needs", "images", "Delete images"} {
		if !strings.Contains(msg, want) {
			t.Errorf("507 message %q does not say %q", msg, want)
		}
	}
	sp := ls.Space(t, "full")
	margin := 4 * sp.PageSize
	if sp.Pages*sp.PageSize > quota+margin {
		t.Errorf("the file grew to %d bytes, over its quota %d + %d", sp.Pages*sp.PageSize, quota, margin)
	}
	if sp.MediaCount != int64(len(ids)) {
		t.Errorf("%d images stored, %d uploads accepted: the refused one left a trace", sp.MediaCount, len(ids))
	}

	t.Run("saves are refused once full and deletions are not", func(t *testing.T) {
		// The room left is less than an image: saves of bounded size
		// still fit until the file reaches the quota.
		ls.SetQuota(t, "full", sp.Used())
		defer ls.SetQuota(t, "full", quota)
		r := ls.Call(t, c, "PATCH", ls.SiteURL("full", "/api/site"), map[string]any{"tagline": "More"}, webtest.Bearer(tok)...)
		if msg, _ := r.ErrField(t); r.Status != http.StatusInsufficientStorage || !strings.Contains(msg, "storage is full") {
			t.Errorf("PATCH /api/site when full: %d %s, want 507", r.Status, r.Body)
		}
		r = ls.Call(t, c, "POST", ls.SiteURL("full", "/api/posts"), map[string]any{"title": "One more"}, webtest.Bearer(tok)...)
		if r.Status != http.StatusInsufficientStorage {
			t.Errorf("POST /api/posts when full: %d %s, want 507", r.Status, r.Body)
		}
		if r := ls.Call(t, c, "DELETE", ls.SiteURL("full", "/api/media/"+ids[0]), nil, webtest.Bearer(tok)...); r.Status != http.StatusNoContent {
			t.Fatalf("DELETE media when full: %d %s", r.Status, r.Body)
		}
	})

	t.Run("deleting makes room", func(t *testing.T) {
		fileBefore := ls.Space(t, "full").Pages
		r := ls.Upload(t, c, "full", "/api/media", "noise.png", img, nil, webtest.Bearer(tok)...)
		if r.Status != http.StatusCreated {
			t.Fatalf("upload after a deletion: %d %s, want 201", r.Status, r.Body)
		}
		if after := ls.Space(t, "full"); after.Pages > fileBefore+4 {
			t.Errorf("the upload grew the file from %d to %d pages instead of reusing the deleted image's", fileBefore, after.Pages)
		}
	})
}

// TestUploadRateLimitPerTenant sends uploads in a row on a stopped clock:
// the 31st gets 429 with Retry-After while another chapter still uploads,
// and goes through once the clock has moved on by that much; a chapter
// that sent over 10 MB within a minute gets 429 too.
func TestUploadRateLimitPerTenant(t *testing.T) {
	ls := webtest.NewEmpty(t)
	c := ls.Browser()
	token := map[string]string{}
	for _, slug := range []string{"busy", "quiet", "heavy"} {
		email, password := ls.NewTenant(t, slug)
		token[slug] = ls.Login(t, slug, email, password)
	}
	clock := webtest.NewClock(time.Now())
	ls.Platform.Now = clock.Now // no refill while the test runs, however slow
	upload := func(slug string, data []byte) webtest.APIResult {
		t.Helper()
		return ls.Upload(t, c, slug, "/api/media", "image.png", data, nil, webtest.Bearer(token[slug])...)
	}
	small := webtest.PNG(4, 4)
	for i := 0; i < 30; i++ {
		if r := upload("busy", small); r.Status != http.StatusCreated {
			t.Fatalf("upload %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	r := upload("busy", small)
	msg, _ := r.ErrField(t)
	if r.Status != http.StatusTooManyRequests || !strings.Contains(msg, "too many uploads") {
		t.Errorf("31st upload: %d %s, want 429", r.Status, r.Body)
	}
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("31st upload: Retry-After %q", r.Header.Get("Retry-After"))
	}
	if r := upload("quiet", small); r.Status != http.StatusCreated {
		t.Errorf("another chapter's upload: %d %s", r.Status, r.Body)
	}
	clock.Advance(time.Duration(secs) * time.Second)
	if r := upload("busy", small); r.Status != http.StatusCreated {
		t.Errorf("upload after Retry-After: %d %s", r.Status, r.Body)
	}

	big := noisePNG(1200, 1200) // 4.3 MB: two fit in 10 MB, three do not
	for i := 0; i < 2; i++ {
		if r := upload("heavy", big); r.Status != http.StatusCreated {
			t.Fatalf("big upload %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	r = upload("heavy", big)
	if msg, _ := r.ErrField(t); r.Status != http.StatusTooManyRequests || !strings.Contains(msg, "a minute") || r.Header.Get("Retry-After") == "" {
		t.Errorf("third 4 MB upload within a minute: %d %s (Retry-After %q), want 429", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
}
