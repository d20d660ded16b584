package tenantdb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Post is a news item. Body is markdown.
type Post struct {
	ID          int64      `json:"id"`
	Title       string     `json:"title"`
	Slug        string     `json:"slug"`
	Body        string     `json:"body"`
	Published   bool       `json:"published"`
	PublishedAt *time.Time `json:"published_at"`
	ImageID     string     `json:"image_id"`
	Visibility  Visibility `json:"visibility"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Validate checks p; an empty slug is made from the title on save.
func (p *Post) Validate() error {
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

const postColumns = `id, title, slug, body, published, published_at, image_id, created_at, updated_at, visibility`

func scanPost(s scanner) (Post, error) {
	var p Post
	var publishedAt, image sql.NullString
	var created, updated string
	err := s.Scan(&p.ID, &p.Title, &p.Slug, &p.Body, &p.Published, &publishedAt, &image, &created, &updated, &p.Visibility)
	p.PublishedAt = sqlitefile.ParseNullTime(publishedAt)
	p.ImageID = image.String
	p.CreatedAt, p.UpdatedAt = sqlitefile.ParseTime(created), sqlitefile.ParseTime(updated)
	return p, err
}

// PostQuery selects posts: all of them, or only the published ones, newest
// first, one page at a time. PublicOnly leaves out the members-only posts
// (a visitor who is not a signed-in member: the count leaves them out too).
// WithoutBody leaves Body empty, for lists of links (a sitemap) that would
// otherwise read every body.
type PostQuery struct {
	PublishedOnly bool
	PublicOnly    bool
	WithoutBody   bool
	Limit, Offset int
}

// Posts returns one page of posts and how many match in all.
func (db *DB) Posts(ctx context.Context, q PostQuery) ([]Post, int, error) {
	var conds []string
	if q.PublishedOnly {
		conds = append(conds, "published = 1")
	}
	if q.PublicOnly {
		conds = append(conds, publicOnlyCond)
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	var total int
	if err := db.queryRow(ctx, `SELECT count(*) FROM posts `+where).Scan(&total); err != nil {
		return nil, 0, err
	}
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	columns := postColumns
	if q.WithoutBody {
		columns = strings.Replace(columns, "body", "'' AS body", 1)
	}
	rows, err := db.query(ctx, `SELECT `+columns+` FROM posts `+where+`
		ORDER BY published_at IS NULL DESC, published_at DESC, id DESC LIMIT ? OFFSET ?`, q.Limit, q.Offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var ps []Post
	for rows.Next() {
		p, err := scanPost(rows)
		if err != nil {
			return nil, 0, err
		}
		ps = append(ps, p)
	}
	return ps, total, rows.Err()
}

// Post returns post id.
func (db *DB) Post(ctx context.Context, id int64) (Post, error) {
	p, err := scanPost(db.queryRow(ctx, `SELECT `+postColumns+` FROM posts WHERE id = ?`, id))
	return p, notFound(err, "post %d", id)
}

// PublishedPost returns the published post with the given slug.
func (db *DB) PublishedPost(ctx context.Context, slug string) (Post, error) {
	p, err := scanPost(db.queryRow(ctx, `SELECT `+postColumns+` FROM posts WHERE slug = ? AND published = 1`, slug))
	return p, notFound(err, "post %q", slug)
}

// SavePost validates and creates (ID 0) or updates p. A post published
// without a date is dated now; an empty slug is made from the title.
func (db *DB) SavePost(ctx context.Context, p *Post) error {
	if err := p.Validate(); err != nil {
		return err
	}
	now := db.now().UTC()
	if p.Published && p.PublishedAt == nil {
		p.PublishedAt = &now
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		if p.ImageID != "" {
			if err := mediaExists(ctx, tx, "image_id", p.ImageID); err != nil {
				return err
			}
		}
		if p.Slug == "" {
			slug, err := uniqueSlug(ctx, tx, "posts", Slugify(p.Title), p.ID)
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
			res, err = tx.ExecContext(ctx, `INSERT INTO posts (title, slug, body, published, published_at, image_id, created_at, updated_at, visibility)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.Title, p.Slug, p.Body, p.Published, sqlitefile.NullTime(p.PublishedAt),
				nullString(p.ImageID), sqlitefile.FormatTime(now), sqlitefile.FormatTime(now), p.Visibility)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE posts SET title = ?, slug = ?, body = ?, published = ?, published_at = ?,
				image_id = ?, updated_at = ?, visibility = ? WHERE id = ?`, p.Title, p.Slug, p.Body, p.Published, sqlitefile.NullTime(p.PublishedAt),
				nullString(p.ImageID), sqlitefile.FormatTime(now), p.Visibility, p.ID)
		}
		if sqlitefile.IsUnique(err) {
			return fmt.Errorf("post slug %q: %w", p.Slug, ErrConflict)
		}
		if err != nil {
			return err
		}
		if p.ID == 0 {
			p.ID, err = res.LastInsertId()
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("post %d: %w", p.ID, ErrNotFound)
		}
		return nil
	})
}

// DeletePost deletes post id.
func (db *DB) DeletePost(ctx context.Context, id int64) error {
	return db.exec(ctx, fmt.Sprintf("post %d", id), `DELETE FROM posts WHERE id = ?`, id)
}

// LatestPosts returns the n newest published posts (for a home page: no
// count of them all), without the members-only ones if publicOnly. n is part of the statement's text rather than a
// parameter: with a bound LIMIT, SQLite prepared the statement a second
// time on its first run on every fresh connection (seen in CPU profiles of
// BenchmarkColdPath). Callers pass constants, so the texts are few.
func (db *DB) LatestPosts(ctx context.Context, n int, publicOnly bool) ([]Post, error) {
	where := "published = 1"
	if publicOnly {
		where += " AND " + publicOnlyCond
	}
	rows, err := db.query(ctx, `SELECT `+postColumns+` FROM posts WHERE `+where+`
		ORDER BY published_at IS NULL DESC, published_at DESC, id DESC LIMIT `+strconv.Itoa(max(n, 0)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []Post
	for rows.Next() {
		p, err := scanPost(rows)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}
