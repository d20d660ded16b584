package site

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// TestPageCacheStoresOnlyWholeOKPages: the cache keeps what a handler
// rendered only when it finished without error with a 200 and a body. A
// page whose render failed after its first bytes went out (a template
// error half way), an empty 200, and a refusal written straight to the
// underlying writer (so echo's Response still says 200) are each rendered
// again at the next request, never served from the cache. The handlers
// are the test's own, behind the real cache middleware, over loopback
// HTTP, for a real tenant file in a real pool.
func TestPageCacheStoresOnlyWholeOKPages(t *testing.T) {
	ctx := context.Background()
	dir, id := t.TempDir(), tenantdb.NewTenantID()
	db, err := tenantdb.Create(ctx, dir, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	p := pool.New(dir, 4, time.Minute)
	defer p.Close()

	s := &Handler{cache: newPageCache(1 << 20), now: time.Now}
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h, err := p.Acquire(c.Request().Context(), id)
			if err != nil {
				return err
			}
			defer h.Release()
			req := &httpx.Request{Tenant: catalog.Tenant{ID: id, Status: "active"}, DB: h, BaseURL: "http://demo.test"}
			c.SetRequest(c.Request().WithContext(httpx.WithRequest(c.Request().Context(), req)))
			return next(c)
		}
	})
	renders := map[string]int{}
	page := func(path string, first, later func(c echo.Context) error) {
		e.GET(path, func(c echo.Context) error {
			renders[path]++
			if renders[path] == 1 {
				return first(c)
			}
			return later(c)
		}, s.cachePage())
	}
	whole := func(c echo.Context) error { return c.HTML(http.StatusOK, "<p>the whole page</p>") }
	page("/whole", whole, whole)
	page("/half", func(c echo.Context) error {
		if err := c.HTML(http.StatusOK, "<p>the first half"); err != nil {
			return err
		}
		return errors.New("template failed half way")
	}, whole)
	empty := func(c echo.Context) error { return c.HTML(http.StatusOK, "") }
	page("/empty", empty, empty)
	page("/raw-refusal", func(c echo.Context) error {
		w := c.Response().Writer // past echo's Response: its Status stays 200
		w.WriteHeader(http.StatusNotFound)
		_, err := io.WriteString(w, "<p>not here</p>")
		return err
	}, whole)

	srv := httptest.NewServer(e)
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, string(body)
	}

	for _, tc := range []struct {
		path          string
		second        string
		renders       int // after two requests
		secondFromHit bool
	}{
		{"/whole", "<p>the whole page</p>", 1, true},
		{"/half", "<p>the whole page</p>", 2, false},
		{"/empty", "", 2, false},
		{"/raw-refusal", "<p>the whole page</p>", 2, false},
	} {
		get(tc.path)
		hits := s.cache.Hits()
		status, body := get(tc.path)
		if status != http.StatusOK || body != tc.second {
			t.Errorf("%s, second request: %d %q, want 200 %q", tc.path, status, body, tc.second)
		}
		if renders[tc.path] != tc.renders || (s.cache.Hits() == hits+1) != tc.secondFromHit {
			t.Errorf("%s: rendered %d times, second from the cache %v; want %d, %v",
				tc.path, renders[tc.path], s.cache.Hits() == hits+1, tc.renders, tc.secondFromHit)
		}
	}
}
