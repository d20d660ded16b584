package site

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/render"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// stripPhotos is how many photos the home page's strip shows.
const stripPhotos = 6

// albumStrip is the home page's row of photos from the newest album,
// its list made once (it is kept in the site memo).
type albumStrip struct {
	Album  tenantdb.Album
	Photos []picture
	HTML   template.HTML // the <li> of each photo
	// Section is the strip's whole <section>, as the home page shows it:
	// executed once by stripSection, with html/template's own escaping.
	Section template.HTML
}

// stripSection is the home page's album strip. The home page template
// prints it as made: the home page's render runs none of its actions.
var stripSection = template.Must(template.New("strip").Parse(`<section class="strip" aria-labelledby="photos">
    <h2 id="photos">Photos: <a href="/albums/{{.Album.Slug}}">{{.Album.Title}}</a></h2>
    <ul class="thumbs">{{.HTML}}
    </ul>
    <p><a href="/albums">All photos</a></p>
  </section>`))

// picture is an image as a page shows it: its <img> tag, made once in
// Go (html/template would look up and escape its seven attributes on
// every render: on the home page, a tenth of the uncached render's cost).
// Src and Srcset are our own paths around an id of [a-z2-7]; the alt
// text is HTML-escaped.
type picture struct {
	ID            string
	Src, Srcset   string
	Alt           string
	Width, Height int
}

// newPicture is image m shown from its copy size (the original when it
// has none), offering every size in srcset.
func newPicture(m tenantdb.Media, size string) picture {
	return picture{ID: m.ID, Src: render.Sized(m, size), Srcset: render.Srcset(m), Alt: m.Alt, Width: m.Width, Height: m.Height}
}

// Tag is the picture's <img> with class and sizes (the width it is shown
// at, for srcset), lazy-loaded when lazy.
func (p picture) Tag(class, sizes string, lazy bool) template.HTML {
	var b strings.Builder
	b.Grow(160 + len(p.Srcset) + len(p.Alt))
	b.WriteString(`<img`)
	if class != "" {
		b.WriteString(` class="` + html.EscapeString(class) + `"`)
	}
	b.WriteString(` src="` + html.EscapeString(p.Src) + `"`)
	if p.Srcset != "" {
		b.WriteString(` srcset="` + html.EscapeString(p.Srcset) + `" sizes="` + html.EscapeString(sizes) + `"`)
	}
	b.WriteString(` alt="` + html.EscapeString(p.Alt) + `" width="` + strconv.Itoa(p.Width) + `" height="` + strconv.Itoa(p.Height) + `"`)
	if lazy {
		b.WriteString(` loading="lazy"`)
	}
	b.WriteString(`>`)
	return template.HTML(b.String())
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
		strip := &albumStrip{Album: a, Photos: make([]picture, len(photos))}
		var b strings.Builder
		for i, p := range photos {
			pic := newPicture(p.Media, "small")
			if p.Caption != "" {
				pic.Alt = p.Caption
			}
			strip.Photos[i] = pic
			fmt.Fprintf(&b, "\n      <li><a href=\"/albums/%s#photo-%s\">%s</a></li>", a.Slug, html.EscapeString(pic.ID),
				pic.Tag("", "(max-width: 40rem) 45vw, 11rem", true))
		}
		strip.HTML = template.HTML(b.String())
		var sec strings.Builder
		if err := stripSection.Execute(&sec, strip); err != nil {
			return nil, fmt.Errorf("the album strip: %w", err)
		}
		strip.Section = template.HTML(sec.String())
		return strip, nil
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
	albums, err := db.Albums(ctx, true, s.viewerIsMember(c), tenantdb.Window{Limit: maxListed})
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
	a, err := db.PublishedAlbum(ctx, c.Param("slug"), s.viewerIsMember(c))
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
