package httpx

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// Every list that the API and the dashboard answer is cut into pages:
// ?limit= items (at most MaxPageSize, more is taken as the most) from
// ?page= (1-based). A page that is not the last says where the next one
// is (the API in a Link header, the dashboard in a link).
const (
	MaxPageSize = 100
	// maxPage keeps page×limit far from overflowing an offset.
	maxPage = 1_000_000
)

// Paging is the page of a list a request asks for.
type Paging struct {
	Page, Limit int
	url         url.URL // the request's path and query, for the next page's link
}

// ParsePaging reads ?page= and ?limit= (default MaxPageSize); a value
// that is not a positive whole number is a ValidationError (422) naming
// the parameter.
func ParsePaging(c echo.Context) (Paging, error) {
	p := Paging{Page: 1, Limit: MaxPageSize, url: *c.Request().URL}
	for _, q := range []struct {
		name string
		v    *int
		max  int
	}{{"page", &p.Page, maxPage}, {"limit", &p.Limit, MaxPageSize}} {
		raw := c.QueryParam(q.name)
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return p, &tenantdb.ValidationError{Field: q.name, Message: fmt.Sprintf("must be a whole number from 1, not %q", raw)}
		}
		if q.name == "page" && n > q.max {
			return p, &tenantdb.ValidationError{Field: q.name, Message: fmt.Sprintf("must be at most %d", q.max)}
		}
		*q.v = min(n, q.max)
	}
	return p, nil
}

// Window is what to ask storage for: one item more than the page, which
// tells whether there is a next page (see Cut).
func (p Paging) Window() tenantdb.Window {
	return tenantdb.Window{Offset: (p.Page - 1) * p.Limit, Limit: p.Limit + 1}
}

// Cut returns the page's items of a list read through p.Window, and the
// link to the next page ("" on the last).
func Cut[T any](p Paging, items []T) ([]T, string) {
	if len(items) <= p.Limit {
		return items, ""
	}
	return items[:p.Limit], p.link(p.Page + 1)
}

// Prev is the link to the page before p ("" on the first).
func (p Paging) Prev() string {
	if p.Page <= 1 {
		return ""
	}
	return p.link(p.Page - 1)
}

func (p Paging) link(page int) string {
	u := p.url
	q := u.Query()
	q.Set("page", strconv.Itoa(page))
	if q.Get("limit") != "" {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	u.RawQuery = q.Encode()
	return u.RequestURI()
}
