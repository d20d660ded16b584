package tenantdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// MaxMediaSize caps one stored image.
const MaxMediaSize = 5 << 20

// MediaTypes are the content types the media library stores and serves.
var MediaTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// Media is an image in the tenant's media library; its bytes live in the
// tenant's file too.
type Media struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Alt         string    `json:"alt"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	SHA256      string    `json:"sha256"`
	CreatedAt   time.Time `json:"created_at"`
}

// Validate checks what is said about an image: an allowed type, its name
// and alt text, and dimensions (the bytes are checked where they are).
func (m *Media) Validate() error {
	if !MediaTypes[m.ContentType] {
		return invalid("file", "%q is not an allowed image type (PNG, JPEG, GIF, WebP)", m.ContentType)
	}
	if err := checkLen("name", m.Name, 1, 200); err != nil {
		return err
	}
	if err := checkLen("alt", m.Alt, 0, 500); err != nil {
		return err
	}
	if m.Width < 0 || m.Height < 0 || m.Width > 1<<16 || m.Height > 1<<16 {
		return invalid("width", "%d×%d is not a size an image can have", m.Width, m.Height)
	}
	return nil
}

const mediaColumns = `id, name, alt, content_type, size, width, height, sha256, created_at`

func scanMedia(s scanner, extra ...any) (Media, error) {
	var m Media
	var created string
	err := s.Scan(append([]any{&m.ID, &m.Name, &m.Alt, &m.ContentType, &m.Size, &m.Width, &m.Height, &m.SHA256, &created}, extra...)...)
	m.CreatedAt = sqlitefile.ParseTime(created)
	return m, err
}

// MediaList returns the media library, newest first, without the bytes.
func (db *DB) MediaList(ctx context.Context) ([]Media, error) { return db.MediaIn(ctx, Window{}) }

// MediaIn returns the images of w, newest first, without the bytes.
func (db *DB) MediaIn(ctx context.Context, w Window) ([]Media, error) {
	return list(ctx, db, `SELECT `+mediaColumns+` FROM media ORDER BY created_at DESC, id`, w,
		func(s scanner) (Media, error) { return scanMedia(s) })
}

// Media returns the description of image id.
func (db *DB) Media(ctx context.Context, id string) (Media, error) {
	m, err := scanMedia(db.queryRow(ctx, `SELECT `+mediaColumns+` FROM media WHERE id = ?`, id))
	return m, notFound(err, "media %q", id)
}

// MediaData returns image id with its bytes.
func (db *DB) MediaData(ctx context.Context, id string) (Media, []byte, error) {
	var data []byte
	m, err := scanMedia(db.queryRow(ctx, `SELECT `+mediaColumns+`, data FROM media WHERE id = ?`, id), &data)
	return m, data, notFound(err, "media %q", id)
}

// AddMedia stores an image whose type and dimensions the caller has
// checked. It fills in m's id, size, hash and time.
func (db *DB) AddMedia(ctx context.Context, m *Media, data []byte) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if len(data) == 0 || len(data) > MaxMediaSize {
		return invalid("file", "must be 1 byte to %d MB", MaxMediaSize>>20)
	}
	sum := sha256.Sum256(data)
	m.ID = newID(20)
	m.Size = int64(len(data))
	m.SHA256 = hex.EncodeToString(sum[:])
	m.CreatedAt = db.now().UTC()
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO media (`+mediaColumns+`, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, m.Name, m.Alt, m.ContentType, m.Size, m.Width, m.Height, m.SHA256, sqlitefile.FormatTime(m.CreatedAt), data)
		return err
	})
}

// UpdateMediaAlt changes the name and alt text of image id.
func (db *DB) UpdateMediaAlt(ctx context.Context, id, name, alt string) error {
	if err := checkLen("name", name, 1, 200); err != nil {
		return err
	}
	if err := checkLen("alt", alt, 0, 500); err != nil {
		return err
	}
	return db.exec(ctx, fmt.Sprintf("media %q", id), `UPDATE media SET name = ?, alt = ? WHERE id = ?`, name, alt, id)
}

// DeleteMedia deletes image id; posts, officers and the logo that showed it
// lose their image.
func (db *DB) DeleteMedia(ctx context.Context, id string) error {
	return db.exec(ctx, fmt.Sprintf("media %q", id), `DELETE FROM media WHERE id = ?`, id)
}
