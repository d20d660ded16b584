package site

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// stripPhotos is how many photos the home page's strip shows.
const stripPhotos = 6

// albumStrip is the home page's row of photos from the newest album.
type albumStrip struct {
	Album  tenantdb.Album
	Photos []tenantdb.AlbumPhoto
}

// latestAlbumStrip is the first photos of the newest published public
// album that has any; nil when there is none.
func latestAlbumStrip(ctx context.Context, db *pool.Handle) (*albumStrip, error) {
	albums, err := db.Albums(ctx, true, false, tenantdb.Window{Limit: 5})
	if err != nil {
		return nil, err
	}
	for _, a := range albums {
		if a.Photos == 0 {
			continue
		}
		photos, err := db.AlbumPhotos(ctx, a.ID, stripPhotos)
		if err != nil {
			return nil, err
		}
		return &albumStrip{Album: a, Photos: photos}, nil
	}
	return nil, nil
}

type albumCard struct {
	tenantdb.Album
	Cover *tenantdb.Media
}

// showAlbums: GET /albums, the published albums, newest first, each with
// its cover.
func (s *Handler) showAlbums(c echo.Context) error {
	ctx, db := c.Request().Context(), httpx.DB(c)
	albums, err := db.Albums(ctx, true, viewerIsMember(c), tenantdb.Window{Limit: maxListed})
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(albums))
	for _, a := range albums {
		if a.Cover != "" {
			ids = append(ids, a.Cover)
		}
	}
	covers, err := db.MediaByID(ctx, ids)
	if err != nil {
		return err
	}
	cards := make([]albumCard, len(albums))
	for i, a := range albums {
		cards[i] = albumCard{Album: a}
		if m, ok := covers[a.Cover]; ok {
			cards[i].Cover = &m
		}
	}
	p, err := s.newPage(c, "/albums", "Photos")
	if err != nil {
		return err
	}
	p.Description = "Photo albums of " + p.Site.Name + "."
	p.Data = cards
	return c.Render(http.StatusOK, "site/albums.html", p)
}

type albumData struct {
	Album  tenantdb.Album
	Photos []tenantdb.AlbumPhoto
}

// showAlbum: GET /albums/:slug, an album's photos in order with their
// captions, each linking to its large copy.
func (s *Handler) showAlbum(c echo.Context) error {
	ctx, db := c.Request().Context(), httpx.DB(c)
	a, err := db.PublishedAlbum(ctx, c.Param("slug"), viewerIsMember(c))
	if err != nil {
		return err
	}
	photos, err := db.AlbumPhotos(ctx, a.ID, 0)
	if err != nil {
		return err
	}
	p, err := s.newPage(c, "/albums", a.Title)
	if err != nil {
		return err
	}
	if text := s.md.Summary(a.Description, 160); text != "" {
		p.Description = text
	}
	if a.Cover != "" {
		p.Image = p.BaseURL + "/media/" + a.Cover
	}
	p.Data = albumData{Album: a, Photos: photos}
	return c.Render(http.StatusOK, "site/album.html", p)
}

// showMediaSize: GET /media/:id/:size, the smaller copy of an image
// (small, medium, large), with the headers of showMedia. An image stored
// before copies were made, or not wider than the size, is sent whole.
func (s *Handler) showMediaSize(c echo.Context) error {
	ctx, db := c.Request().Context(), httpx.DB(c)
	id, size := c.Param("id"), c.Param("size")
	known := false
	for _, sz := range tenantdb.Sizes {
		known = known || sz.Name == size
	}
	if !known {
		return fmt.Errorf("media %q in size %q: %w", id, size, tenantdb.ErrNotFound)
	}
	v, data, err := db.MediaVariantData(ctx, id, size)
	if err != nil {
		if _, merr := db.Media(ctx, id); merr == nil {
			return s.showMedia(c)
		}
		return err
	}
	if !tenantdb.MediaTypes[v.ContentType] {
		return fmt.Errorf("media %q of type %q: %w", id, v.ContentType, tenantdb.ErrNotFound)
	}
	h := c.Response().Header()
	etag := `"` + v.SHA256 + `"`
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "same-site")
	if etagMatches(c.Request().Header.Get("If-None-Match"), etag) {
		return c.NoContent(http.StatusNotModified)
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	httpx.ReleaseDB(c)
	return c.Blob(http.StatusOK, v.ContentType, data)
}
