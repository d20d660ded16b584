package httpx

import (
	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
)

// NeedsRoom guards a route that saves content of bounded size (a post, a
// page, the settings): once the tenant's storage is full it answers 507
// with what uses the room, before the request is read. Deletions do not
// use it: they are how room is made. Uploads check the room themselves,
// knowing their size (platform.AddImage).
func NeedsRoom(p *platform.Platform) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := p.CheckRoom(c.Request().Context(), DB(c).DB, 0); err != nil {
				return err
			}
			return next(c)
		}
	}
}
