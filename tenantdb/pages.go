package tenantdb

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Page is a custom page at /p/<slug>, such as hall rental or history.
type Page struct {
	ID        int64  `json:"id"`
	Title     string `json:"title"`
	Slug      string `json:"slug"`
	Body      string `json:"body"` // markdown
	Published bool   `json:"published"`
	ShowInNav bool   `json:"show_in_nav"`
	Position  int    `json:"position"`
	// Visibility: the menu and the sitemap of a visitor who is not a
	// signed-in member leave a members-only page out.
	Visibility Visibility `json:"visibility"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// Validate checks p; an empty slug is made from the title on save.
func (p *Page) Validate() error {
	if err := checkLen("title", p.Title, 1, 200); err != nil {
		return err
	}
	if p.Slug != "" {
		if err := checkSlug("slug", p.Slug); err != nil {
			return err
		}
	}
	if err := p.Visibility.check("visibility"); err != nil {
		return err
	}
	return CheckMarkdown("body", p.Body, MaxMarkdownChars)
}

const pageColumns = `id, title, slug, body, published, show_in_nav, position, created_at, updated_at, visibility`

func scanPage(s scanner) (Page, error) {
	var p Page
	var created, updated string
	err := s.Scan(&p.ID, &p.Title, &p.Slug, &p.Body, &p.Published, &p.ShowInNav, &p.Position, &created, &updated, &p.Visibility)
	p.CreatedAt, p.UpdatedAt = sqlitefile.ParseTime(created), sqlitefile.ParseTime(updated)
	return p, err
}

// Pages returns the custom pages in menu order, only the published ones if
// publishedOnly.
func (db *DB) Pages(ctx context.Context, publishedOnly bool) ([]Page, error) {
	return db.PagesIn(ctx, publishedOnly, Window{})
}

// PagesIn returns the pages of w, in menu order, only the published ones
// if publishedOnly.
func (db *DB) PagesIn(ctx context.Context, publishedOnly bool, w Window) ([]Page, error) {
	where := ""
	if publishedOnly {
		where = "WHERE published = 1"
	}
	return list(ctx, db, `SELECT `+pageColumns+` FROM pages `+where+` ORDER BY position, title, id`, w, scanPage)
}

// Page returns page id.
func (db *DB) Page(ctx context.Context, id int64) (Page, error) {
	p, err := scanPage(db.queryRow(ctx, `SELECT `+pageColumns+` FROM pages WHERE id = ?`, id))
	return p, notFound(err, "page %d", id)
}

// PublishedPage returns the published page with the given slug.
func (db *DB) PublishedPage(ctx context.Context, slug string) (Page, error) {
	p, err := scanPage(db.queryRow(ctx, `SELECT `+pageColumns+` FROM pages WHERE slug = ? AND published = 1`, slug))
	return p, notFound(err, "page %q", slug)
}

// SavePage validates and creates (ID 0) or updates p.
func (db *DB) SavePage(ctx context.Context, p *Page) error {
	if err := p.Validate(); err != nil {
		return err
	}
	now := db.now().UTC()
	return db.write(ctx, func(tx *sql.Tx) error {
		if p.Slug == "" {
			slug, err := uniqueSlug(ctx, tx, "pages", Slugify(p.Title), p.ID)
			if err != nil {
				return err
			}
			p.Slug = slug
		}
		p.UpdatedAt = now
		var res sql.Result
		var err error
		if p.ID == 0 {
			p.CreatedAt = now
			res, err = tx.ExecContext(ctx, `INSERT INTO pages (title, slug, body, published, show_in_nav, position, created_at, updated_at, visibility)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.Title, p.Slug, p.Body, p.Published, p.ShowInNav, p.Position,
				sqlitefile.FormatTime(now), sqlitefile.FormatTime(now), p.Visibility)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE pages SET title = ?, slug = ?, body = ?, published = ?, show_in_nav = ?,
				position = ?, updated_at = ?, visibility = ? WHERE id = ?`, p.Title, p.Slug, p.Body, p.Published, p.ShowInNav, p.Position,
				sqlitefile.FormatTime(now), p.Visibility, p.ID)
		}
		if sqlitefile.IsUnique(err) {
			return fmt.Errorf("page slug %q: %w", p.Slug, ErrConflict)
		}
		if err != nil {
			return err
		}
		if p.ID == 0 {
			p.ID, err = res.LastInsertId()
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("page %d: %w", p.ID, ErrNotFound)
		}
		return nil
	})
}

// DeletePage deletes page id.
func (db *DB) DeletePage(ctx context.Context, id int64) error {
	return db.exec(ctx, fmt.Sprintf("page %d", id), `DELETE FROM pages WHERE id = ?`, id)
}

// NavPages returns the published pages that the site's menu shows, in menu
// order, without their bodies, with their visibility: the caller leaves the
// members-only ones out of an anonymous visitor's menu.
func (db *DB) NavPages(ctx context.Context) ([]Page, error) {
	rows, err := db.query(ctx, `SELECT id, title, slug, position, visibility FROM pages
		WHERE published = 1 AND show_in_nav = 1 ORDER BY position, title`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []Page
	for rows.Next() {
		p := Page{Published: true, ShowInNav: true}
		if err := rows.Scan(&p.ID, &p.Title, &p.Slug, &p.Position, &p.Visibility); err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}
