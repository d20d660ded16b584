package site

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// newsPerPage is how many posts one page of /news lists.
const newsPerPage = 10

type newsData struct {
	Posts      []postItem
	Page       int
	Prev, Next string // links to the neighbouring pages, "" at either end
}

// showNews lists published posts, newest first, newsPerPage at a time.
// ?page=N picks a page: page 1 has no parameter (its canonical URL is
// /news), and anything that is not a page that exists (0, -1, "x", 1.5,
// past the last page, or ?page=1 spelled out) is a 404, so that every list
// has exactly one URL and crawlers are not sent round in circles.
func (s *Handler) showNews(c echo.Context) error {
	page := 1
	if q := c.Request().URL.Query(); q.Has("page") {
		n, err := strconv.Atoi(q.Get("page"))
		if err != nil || n < 2 || q.Get("page") != strconv.Itoa(n) || len(q["page"]) > 1 {
			return echo.ErrNotFound
		}
		page = n
	}
	member, err := s.isMember(c)
	if err != nil {
		return err
	}
	posts, total, err := httpx.DB(c).Posts(c.Request().Context(), tenantdb.PostQuery{
		PublishedOnly: true, PublicOnly: !member, Limit: newsPerPage, Offset: (page - 1) * newsPerPage,
	})
	if err != nil {
		return err
	}
	if page > 1 && len(posts) == 0 {
		return echo.ErrNotFound
	}
	title := "News"
	if page > 1 {
		title = fmt.Sprintf("News, page %d", page)
	}
	p, err := s.newPage(c, "/news", title)
	if err != nil {
		return err
	}
	items, err := postItems(c.Request().Context(), httpx.DB(c), s.md, posts)
	if err != nil {
		return err
	}
	d := newsData{Posts: items, Page: page}
	if page == 2 {
		d.Prev = "/news"
	} else if page > 2 {
		d.Prev = fmt.Sprintf("/news?page=%d", page-1)
	}
	if page*newsPerPage < total {
		d.Next = fmt.Sprintf("/news?page=%d", page+1)
	}
	if page > 1 {
		p.Canonical = fmt.Sprintf("%s/news?page=%d", p.BaseURL, page)
	}
	p.Description = "News from " + p.Site.Name + "."
	p.Data = d
	return c.Render(http.StatusOK, "site/news.html", p)
}

type postData struct {
	Post  tenantdb.Post
	Image *tenantdb.Media
}

func (s *Handler) showPost(c echo.Context) error {
	post, err := httpx.DB(c).PublishedPost(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	p, err := s.newPage(c, "/news", post.Title)
	if err != nil {
		return err
	}
	if !post.Visibility.VisibleTo(p.Member != nil) {
		return echo.ErrNotFound
	}
	p.OGType = "article"
	if text := s.md.Summary(post.Body, 160); text != "" {
		p.Description = text
	}
	d := postData{Post: post}
	if post.ImageID != "" {
		m, err := httpx.DB(c).Media(c.Request().Context(), post.ImageID)
		if err != nil {
			return err
		}
		d.Image = &m
		p.Image = p.BaseURL + "/media/" + post.ImageID
	}
	p.Data = d
	return c.Render(http.StatusOK, "site/post.html", p)
}
