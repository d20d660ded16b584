package web_test

import (
	"bytes"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// Large bodies wait on disk for their requests within a budget shared by
// all: an upload that would pass it is refused with 503 and Retry-After
// (and leaves no file), not written to a disk every chapter shares.
func TestLargeBodiesPastTheDiskBudgetAreRefused(t *testing.T) {
	ts := webtest.New(t, func(c *web.Config) { c.BodyDiskBytes = 128 << 10 })
	email, pw := ts.NewTenant(t, "alpha")
	token := ts.Login(t, "alpha", email, pw)
	r := ts.Upload(t, ts.Browser(), "alpha", "/api/media", "big.png", bytes.Repeat([]byte{1}, 200<<10), nil, webtest.Bearer(token)...)
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Errorf("an upload past the bodies' disk budget: %d Retry-After %q %s, want 503 with Retry-After", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	if files := webtest.Files(t, filepath.Join(ts.Dir, "tmp")); len(files) != 0 {
		t.Errorf("the refused body left %v in DATA/tmp", files)
	}
	// Within the budget, the same route still works up to its own checks.
	r = ts.Upload(t, ts.Browser(), "alpha", "/api/media", "small.png", bytes.Repeat([]byte{1}, 100<<10), nil, webtest.Bearer(token)...)
	if r.Status != http.StatusUnprocessableEntity {
		t.Errorf("an upload within the budget (not an image): %d %s, want 422", r.Status, r.Body)
	}
}
