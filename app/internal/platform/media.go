package platform

import (
	"context"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/chapterhouse/chapterhouse/app/internal/imaging"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// MediaName is the name to show for an upload: the one typed, else the
// file's base name, with the extension of what it now is.
func MediaName(typed, filename, contentType string) string {
	name := strings.TrimSpace(typed)
	if name == "" {
		name = path.Base(strings.ReplaceAll(filename, `\`, "/"))
		name = strings.TrimSuffix(name, path.Ext(name))
		ext := ".png"
		if contentType == "image/jpeg" {
			ext = ".jpg"
		}
		name = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, name)
		if name == "" || name == "." || name == "/" {
			name = "image"
		}
		if utf8.RuneCountInString(name) > 150 {
			name = string([]rune(name)[:150])
		}
		name += ext
	}
	return name
}

// Upload is an image sent for the media library.
type Upload struct {
	Name     string // as typed; default the file's base name
	Filename string // the client's file name
	Alt      string
	Data     []byte
}

// AddImage checks and re-encodes u's image (within p.Images, the memory
// all decodes share, waiting for its share while ctx lasts) and stores it
// in db's media library. The tenant's upload limits are counted first,
// then its quota is checked before the image is decoded and again, with
// its final size, before it is stored.
func (p *Platform) AddImage(ctx context.Context, db *tenantdb.DB, u Upload) (tenantdb.Media, error) {
	if err := p.takeUpload(db.ID, len(u.Data)); err != nil {
		return tenantdb.Media{}, err
	}
	if err := p.CheckRoom(ctx, db, 0); err != nil {
		return tenantdb.Media{}, err
	}
	c, err := imaging.CleanSized(ctx, p.Images, u.Data)
	if err != nil {
		return tenantdb.Media{}, err
	}
	m := tenantdb.Media{
		Name:        MediaName(u.Name, u.Filename, c.ContentType),
		Alt:         strings.TrimSpace(u.Alt),
		ContentType: c.ContentType,
		Width:       c.Width,
		Height:      c.Height,
	}
	need := int64(len(c.Data))
	for _, v := range c.Variants {
		need += int64(len(v.Data))
	}
	unlock := p.lockRoom(db.ID)
	defer unlock()
	if err := p.CheckRoom(ctx, db, need); err != nil {
		return tenantdb.Media{}, err
	}
	err = db.AddMedia(ctx, &m, c.Data, c.Variants...)
	return m, err
}

// DocumentUpload is a file sent for the document library.
type DocumentUpload struct {
	Document tenantdb.Document // what is said about it; Filename is the client's
	Data     []byte
}

// AddDocument stores u in db's document library: counted against the
// tenant's upload limits first, checked by its content (never its name)
// and against the tenant's quota with its size.
func (p *Platform) AddDocument(ctx context.Context, db *tenantdb.DB, u DocumentUpload) (tenantdb.Document, error) {
	d := u.Document
	if err := p.takeUpload(db.ID, len(u.Data)); err != nil {
		return d, err
	}
	if _, err := tenantdb.SniffDocument(u.Data); err != nil {
		return d, err
	}
	unlock := p.lockRoom(db.ID)
	defer unlock()
	if err := p.CheckRoom(ctx, db, int64(len(u.Data))); err != nil {
		return d, err
	}
	err := db.AddDocument(ctx, &d, u.Data)
	return d, err
}
