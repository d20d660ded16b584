package tenantdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// MaxAlbumPhotos bounds one album: a big reunion, not a photo archive.
const MaxAlbumPhotos = 500

// Album is a set of photos of the media library, in order, with
// captions: the picnic, the parade. Its page is /albums/<slug>.
type Album struct {
	ID          int64      `json:"id"`
	Slug        string     `json:"slug"`
	Title       string     `json:"title"`
	Description string     `json:"description"` // markdown
	Dated       string     `json:"dated"`       // YYYY-MM-DD
	CoverID     string     `json:"cover_id"`    // chosen cover; "" for the first photo
	Published   bool       `json:"published"`
	Visibility  Visibility `json:"visibility"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	// Cover is the image shown for the album: CoverID, else its first
	// photo, else "". Photos counts them. Both are read, not saved.
	Cover  string `json:"cover"`
	Photos int    `json:"photos"`
}

// Date is Dated as a time (zero if it does not parse).
func (a Album) Date() time.Time {
	t, _ := time.Parse(time.DateOnly, a.Dated)
	return t
}

// Validate checks a; an empty slug is made from the title on save.
func (a *Album) Validate() error {
	if err := checkLen("title", a.Title, 1, 200); err != nil {
		return err
	}
	if a.Slug != "" {
		if err := checkSlug("slug", a.Slug); err != nil {
			return err
		}
	}
	if err := checkDated("dated", a.Dated); err != nil {
		return err
	}
	if err := CheckMarkdown("description", a.Description, 5000); err != nil {
		return err
	}
	return a.Visibility.check("visibility")
}

// AlbumPhoto is one photo of an album: an image of the media library
// with its caption and place.
type AlbumPhoto struct {
	AlbumID  int64  `json:"album_id"`
	Media    Media  `json:"media"`
	Position int    `json:"position"`
	Caption  string `json:"caption"`
}

// Validate checks a photo's caption and place.
func (p *AlbumPhoto) Validate() error {
	if err := checkLen("caption", p.Caption, 0, 500); err != nil {
		return err
	}
	if p.Position < -1_000_000 || p.Position > 1_000_000 {
		return invalid("position", "must be a whole number from -1000000 to 1000000")
	}
	return nil
}

const albumColumns = `id, slug, title, description, dated, cover_id, published, visibility, created_at, updated_at`

// albumSelect reads albumColumns with the effective cover and the count.
const albumSelect = `SELECT a.id, a.slug, a.title, a.description, a.dated, a.cover_id, a.published, a.visibility,
	a.created_at, a.updated_at,
	coalesce(a.cover_id, (SELECT p.media_id FROM album_photos p WHERE p.album_id = a.id ORDER BY p.position, p.media_id LIMIT 1), ''),
	(SELECT count(*) FROM album_photos p WHERE p.album_id = a.id)
	FROM albums a `

func scanAlbum(s scanner) (Album, error) {
	var a Album
	var cover sql.NullString
	var created, updated string
	err := s.Scan(&a.ID, &a.Slug, &a.Title, &a.Description, &a.Dated, &cover, &a.Published, &a.Visibility,
		&created, &updated, &a.Cover, &a.Photos)
	a.CoverID = cover.String
	a.CreatedAt, a.UpdatedAt = sqlitefile.ParseTime(created), sqlitefile.ParseTime(updated)
	return a, err
}

// scanAlbumRow reads albumColumns alone (an import's validation).
func scanAlbumRow(s scanner) (Album, error) {
	var a Album
	var cover sql.NullString
	var created, updated string
	err := s.Scan(&a.ID, &a.Slug, &a.Title, &a.Description, &a.Dated, &cover, &a.Published, &a.Visibility, &created, &updated)
	a.CoverID = cover.String
	a.CreatedAt, a.UpdatedAt = sqlitefile.ParseTime(created), sqlitefile.ParseTime(updated)
	return a, err
}

// Albums returns the albums in w, newest date first: every one for the
// dashboard (publishedOnly false), else the published ones a visitor may
// see (members: the viewer is a member).
func (db *DB) Albums(ctx context.Context, publishedOnly, members bool, w Window) ([]Album, error) {
	return list(ctx, db, albumSelect+`WHERE (NOT ? OR a.published = 1) AND (? OR a.visibility = 'public')
		ORDER BY a.dated DESC, a.id DESC`, w, scanAlbum, publishedOnly, members || !publishedOnly)
}

// Album returns album id, whatever its state.
func (db *DB) Album(ctx context.Context, id int64) (Album, error) {
	a, err := scanAlbum(db.queryRow(ctx, albumSelect+`WHERE a.id = ?`, id))
	return a, notFound(err, "album %d", id)
}

// PublishedAlbum returns the published album slug if the viewer may see
// it; ErrNotFound otherwise.
func (db *DB) PublishedAlbum(ctx context.Context, slug string, members bool) (Album, error) {
	a, err := scanAlbum(db.queryRow(ctx, albumSelect+`WHERE a.slug = ? AND a.published = 1 AND (? OR a.visibility = 'public')`, slug, members))
	return a, notFound(err, "album %q", slug)
}

// SaveAlbum validates and creates (ID 0) or updates a; an empty slug is
// made from the title, and the cover must be an image of the library.
func (db *DB) SaveAlbum(ctx context.Context, a *Album) error {
	if a.Visibility == "" {
		a.Visibility = Public
	}
	if err := a.Validate(); err != nil {
		return err
	}
	now := db.now().UTC()
	return db.write(ctx, func(tx *sql.Tx) error {
		if a.CoverID != "" {
			if err := mediaExists(ctx, tx, "cover_id", a.CoverID); err != nil {
				return err
			}
		}
		if a.Slug == "" {
			slug, err := uniqueSlug(ctx, tx, "albums", Slugify(a.Title), a.ID)
			if err != nil {
				return err
			}
			a.Slug = slug
		}
		a.UpdatedAt = now
		var res sql.Result
		var err error
		if a.ID == 0 {
			a.CreatedAt = now
			res, err = tx.ExecContext(ctx, `INSERT INTO albums (slug, title, description, dated, cover_id, published, visibility, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.Slug, a.Title, a.Description, a.Dated, nullString(a.CoverID), a.Published,
				a.Visibility, sqlitefile.FormatTime(now), sqlitefile.FormatTime(now))
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE albums SET slug = ?, title = ?, description = ?, dated = ?, cover_id = ?,
				published = ?, visibility = ?, updated_at = ? WHERE id = ?`, a.Slug, a.Title, a.Description, a.Dated,
				nullString(a.CoverID), a.Published, a.Visibility, sqlitefile.FormatTime(now), a.ID)
		}
		if sqlitefile.IsUnique(err) {
			return fmt.Errorf("album slug %q: %w", a.Slug, ErrConflict)
		}
		if err != nil {
			return err
		}
		if a.ID == 0 {
			a.ID, err = res.LastInsertId()
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("album %d: %w", a.ID, ErrNotFound)
		}
		return nil
	})
}

// DeleteAlbum deletes album id; its photos stay in the media library.
func (db *DB) DeleteAlbum(ctx context.Context, id int64) error {
	return db.exec(ctx, fmt.Sprintf("album %d", id), `DELETE FROM albums WHERE id = ?`, id)
}

// AlbumPhotos returns the photos of album id in order, at most limit
// (0: all of them, which MaxAlbumPhotos bounds).
func (db *DB) AlbumPhotos(ctx context.Context, id int64, limit int) ([]AlbumPhoto, error) {
	return list(ctx, db, `SELECT p.album_id, p.position, p.caption, m.`+strings.ReplaceAll(mediaColumns, ", ", ", m.")+`
		FROM album_photos p JOIN media m ON m.id = p.media_id WHERE p.album_id = ?
		ORDER BY p.position, m.created_at, m.id`, Window{Limit: limit}, func(s scanner) (AlbumPhoto, error) {
		var p AlbumPhoto
		m, err := scanMediaAfter(s, &p.AlbumID, &p.Position, &p.Caption)
		p.Media = m
		return p, err
	}, id)
}

// AddAlbumPhotos appends images ids of the media library to album id, in
// that order, after its last photo; ids already in it stay where they are.
// All are added or none: an id that is not an image of the library, or
// more photos than MaxAlbumPhotos, refuses the lot.
func (db *DB) AddAlbumPhotos(ctx context.Context, id int64, ids []string) error {
	if len(ids) > MaxAlbumPhotos {
		return invalid("media_ids", "an album holds at most %d photos; %d were sent", MaxAlbumPhotos, len(ids))
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		var n, last int
		err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(max(position), 0) FROM album_photos WHERE album_id = ?`, id).Scan(&n, &last)
		if err != nil {
			return err
		}
		if err := albumExists(ctx, tx, id); err != nil {
			return err
		}
		for _, mid := range ids {
			if err := mediaExists(ctx, tx, "media_ids", mid); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO album_photos (album_id, media_id, position) VALUES (?, ?, ?)
				ON CONFLICT DO NOTHING`, id, mid, last+1)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k > 0 {
				n++
				last++
			}
			if n > MaxAlbumPhotos {
				return invalid("media_ids", "an album holds at most %d photos", MaxAlbumPhotos)
			}
		}
		return nil
	})
}

// albumExists is ErrNotFound when there is no album id.
func albumExists(ctx context.Context, tx *sql.Tx, id int64) error {
	var exists int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM albums WHERE id = ?`, id).Scan(&exists); err != nil {
		return err
	}
	if exists == 0 {
		return fmt.Errorf("album %d: %w", id, ErrNotFound)
	}
	return nil
}

// OrderAlbumPhotos puts the photos of album id in the order of ids (media
// ids), which must name each of its photos once and nothing else; their
// places become 1, 2, 3... A list that is not exactly the album's photos
// is refused, naming the first id missing, repeated or foreign, and
// nothing changes.
func (db *DB) OrderAlbumPhotos(ctx context.Context, id int64, ids []string) error {
	if len(ids) > MaxAlbumPhotos {
		return invalid("media_ids", "an album holds at most %d photos; %d were sent", MaxAlbumPhotos, len(ids))
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		if err := albumExists(ctx, tx, id); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT media_id FROM album_photos WHERE album_id = ?`, id)
		if err != nil {
			return err
		}
		in := make(map[string]bool) // photo -> named in ids yet
		for rows.Next() {
			var mid string
			if err := rows.Scan(&mid); err != nil {
				rows.Close()
				return err
			}
			in[mid] = false
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, mid := range ids {
			named, ok := in[mid]
			switch {
			case !ok:
				return invalid("media_ids", "%q is not a photo of this album", mid)
			case named:
				return invalid("media_ids", "%q is listed twice", mid)
			}
			in[mid] = true
		}
		for mid, named := range in {
			if !named {
				return invalid("media_ids", "photo %q is missing: list every photo of the album once", mid)
			}
		}
		for i, mid := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE album_photos SET position = ? WHERE album_id = ? AND media_id = ?`, i+1, id, mid); err != nil {
				return err
			}
		}
		return nil
	})
}

// UpdateAlbumPhoto saves the caption and place of photo mediaID of album
// id.
func (db *DB) UpdateAlbumPhoto(ctx context.Context, p AlbumPhoto) error {
	if err := p.Validate(); err != nil {
		return err
	}
	return db.exec(ctx, fmt.Sprintf("photo %q of album %d", p.Media.ID, p.AlbumID),
		`UPDATE album_photos SET caption = ?, position = ? WHERE album_id = ? AND media_id = ?`,
		p.Caption, p.Position, p.AlbumID, p.Media.ID)
}

// RemoveAlbumPhoto takes photo mediaID out of album id; the image stays
// in the media library.
func (db *DB) RemoveAlbumPhoto(ctx context.Context, id int64, mediaID string) error {
	return db.exec(ctx, fmt.Sprintf("photo %q of album %d", mediaID, id),
		`DELETE FROM album_photos WHERE album_id = ? AND media_id = ?`, id, mediaID)
}

// albumPhotoRow is a row of album_photos as an import validates it.
type albumPhotoRow struct {
	rowid int64
	p     AlbumPhoto
}

func scanAlbumPhotoRow(s scanner) (albumPhotoRow, error) {
	var r albumPhotoRow
	err := s.Scan(&r.rowid, &r.p.AlbumID, &r.p.Media.ID, &r.p.Position, &r.p.Caption)
	return r, err
}

// Shelves says whether the public site has documents and albums to show
// a visitor who is not a member, for its menu.
func (db *DB) Shelves(ctx context.Context) (documents, albums bool, err error) {
	err = db.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM documents WHERE visibility = 'public'),
		EXISTS (SELECT 1 FROM albums WHERE published = 1 AND visibility = 'public')`).Scan(&documents, &albums)
	return documents, albums, err
}
