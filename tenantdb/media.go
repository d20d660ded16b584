package tenantdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
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

// scanMediaAfter scans the values pre and then the media columns.
func scanMediaAfter(s scanner, pre ...any) (Media, error) {
	var m Media
	var created string
	err := s.Scan(append(pre, &m.ID, &m.Name, &m.Alt, &m.ContentType, &m.Size, &m.Width, &m.Height, &m.SHA256, &created)...)
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
// checked, with its smaller copies (variants, made by the caller from the
// same pixels), in one transaction. It fills in m's id, size, hash and
// time.
func (db *DB) AddMedia(ctx context.Context, m *Media, data []byte, variants ...VariantData) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if len(data) == 0 || len(data) > MaxMediaSize {
		return invalid("file", "must be 1 byte to %d MB", MaxMediaSize>>20)
	}
	rows := make([]MediaVariant, len(variants))
	for i, v := range variants {
		rows[i] = MediaVariant{Variant: v.Variant, ContentType: v.ContentType, Width: v.Width, Height: v.Height,
			Size: int64(len(v.Data)), SHA256: sha256Hex(v.Data)}
		if err := rows[i].Validate(*m); err != nil {
			return err
		}
		if len(v.Data) == 0 || len(v.Data) > MaxMediaSize {
			return invalid("file", "a %s copy must be 1 byte to %d MB", v.Variant, MaxMediaSize>>20)
		}
	}
	m.ID = newID(20)
	m.Size = int64(len(data))
	m.SHA256 = sha256Hex(data)
	m.CreatedAt = db.now().UTC()
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO media (`+mediaColumns+`, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, m.Name, m.Alt, m.ContentType, m.Size, m.Width, m.Height, m.SHA256, sqlitefile.FormatTime(m.CreatedAt), data)
		if err != nil {
			return err
		}
		for i, v := range rows {
			_, err := tx.ExecContext(ctx, `INSERT INTO media_variants (`+variantColumns+`, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				m.ID, v.Variant, v.ContentType, v.Size, v.Width, v.Height, v.SHA256, variants[i].Data)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Sizes are the smaller copies made of every image wider than them, by
// name and width: a phone's page asks for the small or medium one with
// srcset, and the original is only sent where it is needed.
var Sizes = []Size{{"small", 320}, {"medium", 800}, {"large", 1600}}

// Size is one of Sizes.
type Size struct {
	Name  string
	Width int
}

// sizeWidth is the width of the size called name, 0 if there is none.
func sizeWidth(name string) int {
	for _, s := range Sizes {
		if s.Name == name {
			return s.Width
		}
	}
	return 0
}

// SizesOf are the Sizes an image of width w has copies in: those
// narrower than it.
func SizesOf(w int) []Size {
	var out []Size
	for _, s := range Sizes {
		if s.Width < w {
			out = append(out, s)
		}
	}
	return out
}

// VariantData is a smaller copy of an image to store with it.
type VariantData struct {
	Variant       string // a name of Sizes
	ContentType   string
	Width, Height int
	Data          []byte
}

// MediaVariant describes a stored smaller copy of image MediaID.
type MediaVariant struct {
	MediaID     string
	Variant     string
	ContentType string
	Size        int64
	Width       int
	Height      int
	SHA256      string
}

// Validate checks v as a copy of m: a known size, exactly its width and
// narrower than m, an image type.
func (v *MediaVariant) Validate(m Media) error {
	w := sizeWidth(v.Variant)
	if w == 0 {
		return invalid("variant", "%q is not one of small, medium, large", v.Variant)
	}
	if !MediaTypes[v.ContentType] {
		return invalid("variant", "%q is not an allowed image type", v.ContentType)
	}
	if v.Width != w || w >= m.Width || v.Height < 1 || v.Height > m.Height {
		return invalid("variant", "a %s copy is %d pixels wide and smaller than the original (%d×%d), not %d×%d",
			v.Variant, w, m.Width, m.Height, v.Width, v.Height)
	}
	return nil
}

const variantColumns = `media_id, variant, content_type, size, width, height, sha256`

func scanVariant(s scanner, extra ...any) (MediaVariant, error) {
	var v MediaVariant
	err := s.Scan(append([]any{&v.MediaID, &v.Variant, &v.ContentType, &v.Size, &v.Width, &v.Height, &v.SHA256}, extra...)...)
	return v, err
}

// MediaVariantData returns the copy of image id in size variant with its
// bytes; ErrNotFound when the image has no such copy (it is narrower, or
// was stored before copies were made).
func (db *DB) MediaVariantData(ctx context.Context, id, variant string) (MediaVariant, []byte, error) {
	var data []byte
	v, err := scanVariant(db.queryRow(ctx, `SELECT `+variantColumns+`, data FROM media_variants WHERE media_id = ? AND variant = ?`, id, variant), &data)
	return v, data, notFound(err, "media %q in size %q", id, variant)
}

// MediaVariant returns the description of the copy of image id in size
// variant.
func (db *DB) MediaVariant(ctx context.Context, id, variant string) (MediaVariant, error) {
	v, err := scanVariant(db.queryRow(ctx, `SELECT `+variantColumns+` FROM media_variants WHERE media_id = ? AND variant = ?`, id, variant))
	return v, notFound(err, "media %q in size %q", id, variant)
}

// MediaByID returns the descriptions of the images ids that exist, by
// id, in one query: a list page shows many.
func (db *DB) MediaByID(ctx context.Context, ids []string) (map[string]Media, error) {
	out := make(map[string]Media, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	// One statement text whatever the count: the ids go as a JSON array.
	arr, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	ms, err := list(ctx, db, `SELECT `+mediaColumns+` FROM media WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`, Window{},
		func(s scanner) (Media, error) { return scanMedia(s) }, string(arr))
	for _, m := range ms {
		out[m.ID] = m
	}
	return out, err
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
