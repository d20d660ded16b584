package tenantdb

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// MaxDocumentSize caps one stored document: a year of newsletters as one
// PDF fits, and it stays within the upload rate limit's burst.
const MaxDocumentSize = 10_000_000

// DocumentTypes are the types the document library takes, found by
// content (SniffDocument), with the extension a download is saved with.
var DocumentTypes = map[string]string{
	"application/pdf": ".pdf",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   ".docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         ".xlsx",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
	"application/vnd.oasis.opendocument.text":                                   ".odt",
	"application/vnd.oasis.opendocument.spreadsheet":                            ".ods",
	"application/vnd.oasis.opendocument.presentation":                           ".odp",
}

// DocumentCategory is one shelf of the library, with a page of its own
// on the public site at /documents/<Name>.
type DocumentCategory struct {
	Name, Title string
}

// DocumentCategories are the library's shelves, in the order the site
// lists them.
var DocumentCategories = []DocumentCategory{
	{"minutes", "Minutes"}, {"bylaws", "Bylaws"}, {"newsletters", "Newsletters"},
	{"forms", "Forms"}, {"other", "Other documents"},
}

// CategoryTitle is the title of category name, "" if there is none.
func CategoryTitle(name string) string {
	for _, c := range DocumentCategories {
		if c.Name == name {
			return c.Title
		}
	}
	return ""
}

// Document is a file of the chapter's library: minutes, bylaws, a
// newsletter, a form. Its bytes live in the tenant's file.
type Document struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Category    string     `json:"category"`
	Dated       string     `json:"dated"` // YYYY-MM-DD
	Description string     `json:"description"`
	Filename    string     `json:"filename"`
	ContentType string     `json:"content_type"`
	Size        int64      `json:"size"`
	SHA256      string     `json:"sha256"`
	Visibility  Visibility `json:"visibility"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Date is Dated as a time (zero if it does not parse).
func (d Document) Date() time.Time {
	t, _ := time.Parse(time.DateOnly, d.Dated)
	return t
}

// Ext is the extension of the document's type: ".pdf", ".docx".
func (d Document) Ext() string { return DocumentTypes[d.ContentType] }

// Validate checks what is said about a document (its bytes are checked
// by SniffDocument).
func (d *Document) Validate() error {
	if err := checkLen("title", d.Title, 1, 200); err != nil {
		return err
	}
	if CategoryTitle(d.Category) == "" {
		return invalid("category", "%q is not one of minutes, bylaws, newsletters, forms, other", d.Category)
	}
	if err := checkDated("dated", d.Dated); err != nil {
		return err
	}
	if err := checkLen("description", d.Description, 0, 1000); err != nil {
		return err
	}
	if err := checkFilename(d.Filename); err != nil {
		return err
	}
	if _, ok := DocumentTypes[d.ContentType]; !ok {
		return invalid("file", "%q is not a document type the library takes", d.ContentType)
	}
	return d.Visibility.check("visibility")
}

// checkDated accepts a calendar date YYYY-MM-DD (required) between the years 1800
// and 2200.
func checkDated(field, v string) error {
	t, err := time.Parse(time.DateOnly, v)
	if err != nil || t.Year() < 1800 || t.Year() > 2200 {
		return invalid(field, "%q is not a date like 2026-05-12", v)
	}
	return nil
}

// checkFilename accepts the name a download is saved under: no path, no
// control characters, no quotes, with the extension of its type.
func checkFilename(name string) error {
	if err := checkLen("filename", name, 1, 200); err != nil {
		return err
	}
	if strings.ContainsAny(name, `/\"`) || strings.ContainsFunc(name, unicode.IsControl) || name[0] == '.' {
		return invalid("filename", "%q is not a plain file name", name)
	}
	return nil
}

// DocumentFilename is the name a document is downloaded as: the uploaded
// file's base name (else the title) with the extension of what its
// content is, whatever extension it came with.
func DocumentFilename(uploaded, title, ext string) string {
	base := path.Base(strings.ReplaceAll(uploaded, `\`, "/"))
	base = strings.TrimSuffix(base, path.Ext(base))
	base = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == ' ' || r == '.':
			return r
		case unicode.IsSpace(r):
			return ' '
		}
		return -1
	}, base)
	base = strings.Trim(strings.TrimSpace(base), ".")
	if base == "" {
		base = Slugify(title)
	}
	if r := []rune(base); len(r) > 150 {
		base = string(r[:150])
	}
	return base + ext
}

// SniffDocument finds what data is by its content, never its name: a
// PDF, an Office Open XML (docx, xlsx, pptx) or OpenDocument (odt, ods,
// odp) file. Anything else is refused with what it looks like (a file
// named .pdf that is HTML says text/html), and so is an office file with
// macros. Only a ZIP's directory is read, never its compressed entries,
// so a zip bomb costs nothing.
func SniffDocument(data []byte) (string, error) {
	if len(data) == 0 {
		return "", invalid("file", "is empty")
	}
	if len(data) > MaxDocumentSize {
		return "", invalid("file", "is larger than %d MB", MaxDocumentSize/1_000_000)
	}
	notDoc := func() error {
		return invalid("file", "is not a PDF or an office document (it looks like %s); save it as PDF, or as .docx, .xlsx, .pptx, .odt, .ods or .odp",
			strings.SplitN(http.DetectContentType(data), ";", 2)[0])
	}
	if bytes.HasPrefix(data, []byte("%PDF-")) {
		return "application/pdf", nil
	}
	if !bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return "", notDoc()
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(zr.File) == 0 || len(zr.File) > 20_000 {
		return "", invalid("file", "is a damaged ZIP or office file")
	}
	names := make(map[string]bool, len(zr.File))
	for _, f := range zr.File {
		n := strings.ToLower(f.Name)
		names[n] = true
		if strings.HasSuffix(n, "vbaproject.bin") || strings.HasPrefix(n, "basic/") || strings.HasPrefix(n, "scripts/") {
			return "", invalid("file", "contains macros; save it again without them (as .docx, .xlsx or PDF)")
		}
	}
	if f := zr.File[0]; f.Name == "mimetype" && f.Method == zip.Store && f.UncompressedSize64 < 100 {
		rc, err := f.Open()
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(rc, 100))
			rc.Close()
			ct := string(b)
			if _, ok := DocumentTypes[ct]; ok && strings.HasPrefix(ct, "application/vnd.oasis.") {
				return ct, nil
			}
		}
		return "", invalid("file", "is an OpenDocument file of a kind the library does not take (text, spreadsheet and presentation only)")
	}
	if names["[content_types].xml"] {
		switch {
		case names["word/document.xml"]:
			return "application/vnd.openxmlformats-officedocument.wordprocessingml.document", nil
		case names["xl/workbook.xml"]:
			return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", nil
		case names["ppt/presentation.xml"]:
			return "application/vnd.openxmlformats-officedocument.presentationml.presentation", nil
		}
	}
	return "", notDoc()
}

const documentColumns = `id, title, category, dated, description, filename, content_type, size, sha256, visibility, created_at, updated_at`

func scanDocument(s scanner, extra ...any) (Document, error) {
	var d Document
	var created, updated string
	err := s.Scan(append([]any{&d.ID, &d.Title, &d.Category, &d.Dated, &d.Description, &d.Filename, &d.ContentType,
		&d.Size, &d.SHA256, &d.Visibility, &created, &updated}, extra...)...)
	d.CreatedAt, d.UpdatedAt = sqlitefile.ParseTime(created), sqlitefile.ParseTime(updated)
	return d, err
}

func scanDocumentRow(s scanner) (Document, error) { return scanDocument(s) }

// Documents returns the documents of category ("" for all) in w, newest
// date first; only the public ones unless members (the viewer is a
// member or an admin).
func (db *DB) Documents(ctx context.Context, category string, members bool, w Window) ([]Document, error) {
	return list(ctx, db, `SELECT `+documentColumns+` FROM documents
		WHERE (? = '' OR category = ?) AND (? OR visibility = 'public')
		ORDER BY dated DESC, title, id`, w, scanDocumentRow, category, category, members)
}

// DocumentCounts counts the documents of each category, only the public
// ones unless members.
func (db *DB) DocumentCounts(ctx context.Context, members bool) (map[string]int, error) {
	rows, err := db.query(ctx, `SELECT category, count(*) FROM documents WHERE (? OR visibility = 'public') GROUP BY category`, members)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var c string
		var n int
		if err := rows.Scan(&c, &n); err != nil {
			return nil, err
		}
		out[c] = n
	}
	return out, rows.Err()
}

// Document returns the description of document id, whatever its
// visibility.
func (db *DB) Document(ctx context.Context, id string) (Document, error) {
	d, err := scanDocument(db.queryRow(ctx, `SELECT `+documentColumns+` FROM documents WHERE id = ?`, id))
	return d, notFound(err, "document %q", id)
}

// VisibleDocument returns document id with its bytes if the viewer may
// see it (members: the viewer is a member); ErrNotFound otherwise, so a
// members-only document's existence is not told.
func (db *DB) VisibleDocument(ctx context.Context, id string, members bool) (Document, []byte, error) {
	var data []byte
	d, err := scanDocument(db.queryRow(ctx, `SELECT `+documentColumns+`, data FROM documents
		WHERE id = ? AND (? OR visibility = 'public')`, id, members), &data)
	return d, data, notFound(err, "document %q", id)
}

// AddDocument checks data by its content (SniffDocument), sets d's type
// from it and stores the document. It fills in d's id, type, size, hash,
// times, and a file name with the right extension when d has none.
func (db *DB) AddDocument(ctx context.Context, d *Document, data []byte) error {
	ct, err := SniffDocument(data)
	if err != nil {
		return err
	}
	d.ContentType = ct
	if d.Filename == "" || path.Ext(d.Filename) != DocumentTypes[ct] {
		d.Filename = DocumentFilename(d.Filename, d.Title, DocumentTypes[ct])
	}
	if d.Visibility == "" {
		d.Visibility = Public
	}
	if err := d.Validate(); err != nil {
		return err
	}
	d.ID = newID(20)
	d.Size = int64(len(data))
	d.SHA256 = sha256Hex(data)
	d.CreatedAt = db.now().UTC()
	d.UpdatedAt = d.CreatedAt
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO documents (`+documentColumns+`, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.Title, d.Category, d.Dated, d.Description, d.Filename, d.ContentType, d.Size, d.SHA256, d.Visibility,
			sqlitefile.FormatTime(d.CreatedAt), sqlitefile.FormatTime(d.UpdatedAt), data)
		return err
	})
}

// UpdateDocument saves what is said about document d.ID (title, category,
// date, description, visibility); its file stays.
func (db *DB) UpdateDocument(ctx context.Context, d *Document) error {
	old, err := db.Document(ctx, d.ID)
	if err != nil {
		return err
	}
	d.Filename, d.ContentType, d.Size, d.SHA256, d.CreatedAt = old.Filename, old.ContentType, old.Size, old.SHA256, old.CreatedAt
	if err := d.Validate(); err != nil {
		return err
	}
	d.UpdatedAt = db.now().UTC()
	return db.exec(ctx, fmt.Sprintf("document %q", d.ID), `UPDATE documents SET title = ?, category = ?, dated = ?,
		description = ?, visibility = ?, updated_at = ? WHERE id = ?`,
		d.Title, d.Category, d.Dated, d.Description, d.Visibility, sqlitefile.FormatTime(d.UpdatedAt), d.ID)
}

// DeleteDocument deletes document id.
func (db *DB) DeleteDocument(ctx context.Context, id string) error {
	return db.exec(ctx, fmt.Sprintf("document %q", id), `DELETE FROM documents WHERE id = ?`, id)
}
