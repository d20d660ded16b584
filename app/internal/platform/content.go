package platform

import (
	"context"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// Content is one kind of numbered content (posts, events, officers,
// pages) as the API and dashboard see it. Its functions take the database
// first, so that they can be tenantdb's method expressions.
type Content[T any] struct {
	List   func(db *tenantdb.DB, ctx context.Context, w tenantdb.Window) ([]T, error)
	Get    func(db *tenantdb.DB, ctx context.Context, id int64) (T, error)
	Save   func(db *tenantdb.DB, ctx context.Context, v *T) error
	Delete func(db *tenantdb.DB, ctx context.Context, id int64) error
	// Keep copies the read-only fields of from into v.
	Keep func(v *T, from T)
	// Defaults fills in what a new item leaves empty.
	Defaults func(ctx context.Context, db *tenantdb.DB, v *T) error
}

var Posts = Content[tenantdb.Post]{
	List: func(db *tenantdb.DB, ctx context.Context, w tenantdb.Window) ([]tenantdb.Post, error) {
		ps, _, err := db.Posts(ctx, tenantdb.PostQuery{Limit: w.Limit, Offset: w.Offset})
		return ps, err
	},
	Get:    (*tenantdb.DB).Post,
	Save:   (*tenantdb.DB).SavePost,
	Delete: (*tenantdb.DB).DeletePost,
	Keep: func(v *tenantdb.Post, from tenantdb.Post) {
		v.ID, v.CreatedAt, v.UpdatedAt = from.ID, from.CreatedAt, from.UpdatedAt
	},
}

var Events = Content[tenantdb.Event]{
	List:   (*tenantdb.DB).EventsIn,
	Get:    (*tenantdb.DB).Event,
	Save:   (*tenantdb.DB).SaveEvent,
	Delete: (*tenantdb.DB).DeleteEvent,
	Keep: func(v *tenantdb.Event, from tenantdb.Event) {
		v.ID, v.CreatedAt, v.UpdatedAt = from.ID, from.CreatedAt, from.UpdatedAt
	},
	Defaults: func(ctx context.Context, db *tenantdb.DB, e *tenantdb.Event) error {
		if e.Timezone != "" {
			return nil
		}
		site, err := db.Site(ctx)
		e.Timezone = site.Timezone
		return err
	},
}

var Officers = Content[tenantdb.Officer]{
	List:   (*tenantdb.DB).OfficersIn,
	Get:    (*tenantdb.DB).Officer,
	Save:   (*tenantdb.DB).SaveOfficer,
	Delete: (*tenantdb.DB).DeleteOfficer,
	Keep: func(v *tenantdb.Officer, from tenantdb.Officer) {
		v.ID, v.CreatedAt, v.UpdatedAt = from.ID, from.CreatedAt, from.UpdatedAt
	},
}

var Pages = Content[tenantdb.Page]{
	List: func(db *tenantdb.DB, ctx context.Context, w tenantdb.Window) ([]tenantdb.Page, error) {
		return db.PagesIn(ctx, false, w)
	},
	Get:    (*tenantdb.DB).Page,
	Save:   (*tenantdb.DB).SavePage,
	Delete: (*tenantdb.DB).DeletePage,
	Keep: func(v *tenantdb.Page, from tenantdb.Page) {
		v.ID, v.CreatedAt, v.UpdatedAt = from.ID, from.CreatedAt, from.UpdatedAt
	},
}
