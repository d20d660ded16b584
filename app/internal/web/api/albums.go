package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/render"
	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// Albums in the API, for any admin (owners and editors), as on the
// dashboard: the albums themselves, and their photos, which are images
// of the media library, each addressed by its media id within the album.
// Every change is one transaction: a refused request changes nothing.

// albumContent is the album as a content item of the API. An album made
// by the API is a draft unless it says "published": true, and is dated
// today (UTC) unless it says otherwise.
func albumContent(now func() time.Time) platform.Content[tenantdb.Album] {
	return platform.Content[tenantdb.Album]{
		List: func(db *tenantdb.DB, ctx context.Context, w tenantdb.Window) ([]tenantdb.Album, error) {
			return db.Albums(ctx, false, true, w)
		},
		Get:    (*tenantdb.DB).Album,
		Save:   (*tenantdb.DB).SaveAlbum,
		Delete: (*tenantdb.DB).DeleteAlbum,
		Keep: func(v *tenantdb.Album, from tenantdb.Album) {
			v.ID, v.CreatedAt, v.UpdatedAt, v.Cover, v.Photos = from.ID, from.CreatedAt, from.UpdatedAt, from.Cover, from.Photos
		},
		Defaults: func(ctx context.Context, db *tenantdb.DB, v *tenantdb.Album) error {
			if v.Dated == "" {
				v.Dated = now().UTC().Format(tenantdb.DateLayout)
			}
			return nil
		},
	}
}

func (h *handler) albumRoutes(g *echo.Group, a *auth.Auth, room echo.MiddlewareFunc) {
	albums := albumContent(h.p.Now)
	g.GET("/api/albums", apiList(albums), a.RequireAdmin)
	g.POST("/api/albums", apiCreate(albums), a.RequireAdmin, room)
	g.GET("/api/albums/:id", apiGet(albums), a.RequireAdmin)
	g.PATCH("/api/albums/:id", apiUpdate(albums), a.RequireAdmin, room)
	g.DELETE("/api/albums/:id", apiDelete(albums), a.RequireAdmin)
	g.GET("/api/albums/:id/photos", h.apiAlbumPhotos, a.RequireAdmin)
	g.POST("/api/albums/:id/photos", apiAddAlbumPhotos, a.RequireAdmin, room)
	g.PUT("/api/albums/:id/order", apiOrderAlbumPhotos, a.RequireAdmin)
	g.PATCH("/api/albums/:id/photos/:media", h.apiUpdateAlbumPhoto, a.RequireAdmin, room)
	g.DELETE("/api/albums/:id/photos/:media", h.apiRemoveAlbumPhoto, a.RequireAdmin)
}

// albumPhoto is a photo of an album as the API shows it: its place and
// caption, the image, and the addresses of its sizes, as the site's
// pages offer them in srcset.
type albumPhoto struct {
	AlbumID  int64          `json:"album_id"`
	MediaID  string         `json:"media_id"`
	Position int            `json:"position"`
	Caption  string         `json:"caption"`
	Media    tenantdb.Media `json:"media"`
	Src      string         `json:"src"`    // the original
	Srcset   string         `json:"srcset"` // "" for an image with no smaller copies
	Sizes    []photoSize    `json:"sizes"`  // the smaller copies, narrowest first
}

// photoSize is one smaller copy of a photo.
type photoSize struct {
	Name  string `json:"name"`
	Width int    `json:"width"`
	URL   string `json:"url"`
}

func newAlbumPhoto(p tenantdb.AlbumPhoto) albumPhoto {
	out := albumPhoto{AlbumID: p.AlbumID, MediaID: p.Media.ID, Position: p.Position, Caption: p.Caption, Media: p.Media,
		Src: "/media/" + p.Media.ID, Srcset: render.Srcset(p.Media), Sizes: []photoSize{}}
	for _, s := range tenantdb.SizesOf(p.Media.Width) {
		out.Sizes = append(out.Sizes, photoSize{Name: s.Name, Width: s.Width, URL: render.Sized(p.Media, s.Name)})
	}
	return out
}

// albumPhotosOf is the photos of album id in order, as the API shows
// them; ErrNotFound if there is no such album.
func albumPhotosOf(c echo.Context, id int64) ([]albumPhoto, error) {
	ctx, db := c.Request().Context(), httpx.DB(c)
	if _, err := db.Album(ctx, id); err != nil {
		return nil, err
	}
	ps, err := db.AlbumPhotos(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	out := make([]albumPhoto, len(ps))
	for i, p := range ps {
		out[i] = newAlbumPhoto(p)
	}
	return out, nil
}

// apiAlbumPhotos: GET /api/albums/:id/photos, every photo in order (an
// album holds at most tenantdb.MaxAlbumPhotos, so there are no pages).
func (h *handler) apiAlbumPhotos(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	ps, err := albumPhotosOf(c, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ps)
}

// changePhotos answers a request whose body is {"media_ids": [...]} by
// change (of the album's id, with the ids) and then every photo of the
// album, in order. Without ids (none at all, or an empty list unless
// emptyOK) it is refused with missing.
func changePhotos(missing string, emptyOK bool, change func(db *tenantdb.DB, ctx context.Context, id int64, ids []string) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := httpx.IDParam(c)
		if err != nil {
			return err
		}
		var in struct {
			MediaIDs []string `json:"media_ids"`
		}
		if err := httpx.BindJSON(c, &in); err != nil {
			return err
		}
		if in.MediaIDs == nil || !emptyOK && len(in.MediaIDs) == 0 {
			return &tenantdb.ValidationError{Field: "media_ids", Message: missing}
		}
		if err := change(httpx.DB(c).DB, c.Request().Context(), id, in.MediaIDs); err != nil {
			return err
		}
		ps, err := albumPhotosOf(c, id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, ps)
	}
}

// apiAddAlbumPhotos: POST /api/albums/:id/photos {"media_ids": [...]}
// appends images of the media library after the album's last photo, in
// that order (one already in the album keeps its place). All or none: no
// ids, an id that is not an image of this chapter's library, or going past
// tenantdb.MaxAlbumPhotos, is 422 and adds nothing. Answers with every
// photo of the album.
var apiAddAlbumPhotos = changePhotos("name the images of the media library to add", false, (*tenantdb.DB).AddAlbumPhotos)

// apiOrderAlbumPhotos: PUT /api/albums/:id/order {"media_ids": [...]}
// puts the photos in that order: every photo of the album once, and
// nothing else, or 422 naming the first id at fault and nothing changes.
// Answers with the photos in their new order.
var apiOrderAlbumPhotos = changePhotos("list every photo of the album once, in the order wanted", true, (*tenantdb.DB).OrderAlbumPhotos)

// albumPhotoParam is photo :media of album :id.
func albumPhotoParam(c echo.Context) (albumPhoto, error) {
	id, err := httpx.IDParam(c)
	if err != nil {
		return albumPhoto{}, err
	}
	ps, err := albumPhotosOf(c, id)
	if err != nil {
		return albumPhoto{}, err
	}
	for _, p := range ps {
		if p.MediaID == c.Param("media") {
			return p, nil
		}
	}
	return albumPhoto{}, fmt.Errorf("photo %q of album %d: %w", c.Param("media"), id, tenantdb.ErrNotFound)
}

// apiUpdateAlbumPhoto: PATCH /api/albums/:id/photos/:media {"caption",
// "position"} changes the fields sent, as the dashboard's form does (the
// caption trimmed; a place is any whole number, lower first, and PUT
// .../order sets them all). The other fields are read-only.
func (h *handler) apiUpdateAlbumPhoto(c echo.Context) error {
	p, err := albumPhotoParam(c)
	if err != nil {
		return err
	}
	in := p
	if err := httpx.BindJSON(c, &in); err != nil {
		return err
	}
	in.Caption = strings.TrimSpace(in.Caption) // as the dashboard's form
	tp := tenantdb.AlbumPhoto{AlbumID: p.AlbumID, Media: p.Media, Position: in.Position, Caption: in.Caption}
	if err := httpx.DB(c).UpdateAlbumPhoto(c.Request().Context(), tp); err != nil {
		return err
	}
	p.Position, p.Caption = in.Position, in.Caption
	return c.JSON(http.StatusOK, p)
}

// apiRemoveAlbumPhoto: DELETE /api/albums/:id/photos/:media takes the
// photo out of the album; the image stays in the media library.
func (h *handler) apiRemoveAlbumPhoto(c echo.Context) error {
	id, err := httpx.IDParam(c)
	if err != nil {
		return err
	}
	if err := httpx.DB(c).RemoveAlbumPhoto(c.Request().Context(), id, c.Param("media")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
