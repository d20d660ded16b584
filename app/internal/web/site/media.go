package site

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/render"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// pageCSP is the Content-Security-Policy of every HTML page of a site: no
// script at all, styles only from our own stylesheets (the theme colour
// comes from /theme.css, not an inline <style>), images from the site or
// other https sites (markdown may show them), forms posting only here,
// and no framing by other sites.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'; " +
	"base-uri 'none'; frame-ancestors 'none'"

// publicHeaders sets the security headers of a tenant's public site.
func publicHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		setPageHeaders(c.Response().Header())
		return next(c)
	}
}

// setPageHeaders sets the security headers of a page. The values are
// slices made once, as a cache hit sets them on every request: a header's
// values are only ever replaced (Set) or appended to (Add, which copies a
// full slice), never written in place, so sharing them is safe.
func setPageHeaders(h http.Header) {
	h["Content-Security-Policy"] = pageCSPValue
	h["X-Content-Type-Options"] = nosniffValue
	h["Referrer-Policy"] = referrerValue
	h["X-Frame-Options"] = denyValue
}

var (
	pageCSPValue  = []string{pageCSP}
	nosniffValue  = []string{"nosniff"}
	referrerValue = []string{"strict-origin-when-cross-origin"}
	denyValue     = []string{"DENY"}
)

// showMedia serves an image of the tenant's media library. Its bytes never
// change under an id, so the sha256 is a strong ETag; the policy headers
// keep a browser from treating it as anything but an image.
func (s *Handler) showMedia(c echo.Context) error {
	ctx := c.Request().Context()
	db := httpx.DB(c)
	id := c.Param("id")
	m, err := db.Media(ctx, id)
	if err != nil {
		return err
	}
	if !tenantdb.MediaTypes[m.ContentType] {
		return fmt.Errorf("media %q of type %q: %w", id, m.ContentType, tenantdb.ErrNotFound)
	}
	h := c.Response().Header()
	etag := `"` + m.SHA256 + `"`
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "same-site")
	if etagMatches(c.Request().Header.Get("If-None-Match"), etag) {
		return c.NoContent(http.StatusNotModified)
	}
	m, data, err := db.MediaData(ctx, id)
	if err != nil {
		return err
	}
	if `"`+m.SHA256+`"` != etag { // replaced between the two reads
		h.Set("ETag", `"`+m.SHA256+`"`)
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	httpx.ReleaseDB(c) // a slow client must not hold the chapter's slot while 5 MB go out
	return c.Blob(http.StatusOK, m.ContentType, data)
}

// etagMatches implements If-None-Match's weak comparison against etag.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

// showTheme serves the tenant's colours as CSS variables. The layout links
// it with the accent in the query, so a browser may keep it for a long
// time: a new colour is a new URL.
func (s *Handler) showTheme(c echo.Context) error {
	site, err := httpx.DB(c).Site(c.Request().Context())
	if err != nil {
		return err
	}
	accent := render.SafeColor(site.AccentColor)
	h := c.Response().Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if c.QueryParam("v") == strings.TrimPrefix(accent, "#") {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	css := themeCSS(accent)
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", []byte(css))
}

// themeCSS derives the site's colours from its accent: the header text is
// white or black, whichever reads better on the accent, and links use the
// accent darkened until it has a 4.5:1 contrast on white (WCAG AA).
func themeCSS(accent string) string {
	r, g, b := parseHex(accent)
	on := "#ffffff"
	if contrast(luminance(r, g, b), 1) < 4.5 {
		on = "#111111"
	}
	lr, lg, lb := r, g, b
	for i := 0; i < 40 && contrast(luminance(lr, lg, lb), 1) < 4.5; i++ {
		lr, lg, lb = lr*0.9, lg*0.9, lb*0.9
	}
	link := fmt.Sprintf("#%02x%02x%02x", int(math.Round(lr)), int(math.Round(lg)), int(math.Round(lb)))
	return fmt.Sprintf(":root { --accent: %s; --on-accent: %s; --link: %s; }\n", accent, on, link)
}

func parseHex(c string) (r, g, b float64) {
	v, _ := strconv.ParseUint(strings.TrimPrefix(c, "#"), 16, 32)
	return float64(v >> 16 & 0xff), float64(v >> 8 & 0xff), float64(v & 0xff)
}

// luminance is WCAG 2's relative luminance of an sRGB colour.
func luminance(r, g, b float64) float64 {
	lin := func(c float64) float64 {
		c /= 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

func contrast(l1, l2 float64) float64 {
	if l1 < l2 {
		l1, l2 = l2, l1
	}
	return (l1 + 0.05) / (l2 + 0.05)
}
