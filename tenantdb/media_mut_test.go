package tenantdb

import (
	"context"
	"errors"
	"testing"
)

// TestMediaValidateTakesSizesUpTo65536: an image's recorded size runs
// from 0 to 65536 on each side (WebP's and PNG's practical bounds), and
// a side out of that range names the size field.
func TestMediaValidateTakesSizesUpTo65536(t *testing.T) {
	for _, wh := range [][2]int{{0, 0}, {1 << 16, 1 << 16}, {1, 1 << 16}, {1 << 16, 1}} {
		m := Media{Name: "p.png", ContentType: "image/png", Width: wh[0], Height: wh[1]}
		if err := m.Validate(); err != nil {
			t.Errorf("%d×%d: %v", wh[0], wh[1], err)
		}
	}
	for _, wh := range [][2]int{{-1, 1}, {1, -1}, {1<<16 + 1, 1}, {1, 1<<16 + 1}} {
		m := Media{Name: "p.png", ContentType: "image/png", Width: wh[0], Height: wh[1]}
		if f := field(m.Validate()); f != "width" {
			t.Errorf("%d×%d: field %q, want width", wh[0], wh[1], f)
		}
	}
}

// TestAddMediaTakesFilesOfExactlyTheLimit: an image and each smaller copy
// may be 1 byte to MaxMediaSize; an empty one or one byte more is refused
// and nothing is stored.
func TestAddMediaTakesFilesOfExactlyTheLimit(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	full := make([]byte, MaxMediaSize)
	add := func(data, copyData []byte) error {
		m := &Media{Name: "p.jpg", ContentType: "image/jpeg", Width: 1000, Height: 800}
		return db.AddMedia(ctx, m, data, VariantData{Variant: "small", ContentType: "image/jpeg", Width: 320, Height: 256, Data: copyData})
	}
	must(t, add(full, full))
	must(t, add([]byte("x"), []byte("y")))
	for _, tc := range []struct {
		name       string
		data, copy []byte
	}{
		{"an empty image", nil, []byte("y")},
		{"an image over the limit", make([]byte, MaxMediaSize+1), []byte("y")},
		{"an empty copy", []byte("x"), nil},
		{"a copy over the limit", []byte("x"), make([]byte, MaxMediaSize+1)},
	} {
		if f := field(add(tc.data, tc.copy)); f != "file" {
			t.Errorf("%s: field %q, want file", tc.name, f)
		}
	}
	if ms, err := db.MediaList(ctx); err != nil || len(ms) != 2 {
		t.Errorf("%d images stored, %v; want the 2 accepted", len(ms), err)
	}
}

// TestVariantIsExactlyItsSizeAndSmaller: a copy is exactly its size's
// width and narrower than the original, 1 pixel high at least and no
// higher than the original; SizesOf lists exactly the sizes narrower
// than an image, and a stored copy is described as stored.
func TestVariantIsExactlyItsSizeAndSmaller(t *testing.T) {
	small := Sizes[0]
	orig := Media{Width: small.Width + 1, Height: 100}
	for _, tc := range []struct {
		name   string
		width  int
		height int
		orig   Media
		ok     bool
	}{
		{"one pixel narrower, as high", small.Width, 100, orig, true},
		{"one pixel high", small.Width, 1, orig, true},
		{"as wide as the original", small.Width, 100, Media{Width: small.Width, Height: 100}, false},
		{"no height", small.Width, 0, orig, false},
		{"higher than the original", small.Width, 101, orig, false},
		{"not its size's width", small.Width - 1, 100, orig, false},
	} {
		v := MediaVariant{Variant: small.Name, ContentType: "image/jpeg", Width: tc.width, Height: tc.height}
		err := v.Validate(tc.orig)
		if (err == nil) != tc.ok || (err != nil && field(err) != "variant") {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	for _, w := range []int{small.Width, small.Width + 1} {
		got := SizesOf(w)
		if want := w > small.Width; (len(got) > 0) != want {
			t.Errorf("SizesOf(%d) = %v", w, got)
		}
	}
	if n := len(SizesOf(1 << 16)); n != len(Sizes) {
		t.Errorf("SizesOf(65536): %d sizes, want all %d", n, len(Sizes))
	}

	ctx := context.Background()
	db := openTenant(t)
	m := &Media{Name: "p.jpg", ContentType: "image/jpeg", Width: small.Width + 1, Height: 100}
	must(t, db.AddMedia(ctx, m, []byte("x"), VariantData{Variant: small.Name, ContentType: "image/webp", Width: small.Width, Height: 99, Data: []byte("yz")}))
	v, err := db.MediaVariant(ctx, m.ID, small.Name)
	if err != nil || v.MediaID != m.ID || v.ContentType != "image/webp" || v.Width != small.Width || v.Height != 99 || v.Size != 2 || v.SHA256 != sha256Hex([]byte("yz")) {
		t.Errorf("stored copy: %+v, %v", v, err)
	}
	if _, err := db.MediaVariant(ctx, m.ID, "large"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a copy never made: %v", err)
	}
}

// TestMediaByIDReturnsThoseThatExist: one query answers the descriptions
// of the ids that exist, keyed by id; unknown ids are left out and no ids
// ask nothing.
func TestMediaByIDReturnsThoseThatExist(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	ids := addImages(t, db, 3)
	got, err := db.MediaByID(ctx, []string{ids[2], "nosuchimage", ids[0]})
	if err != nil || len(got) != 2 || got[ids[0]].ID != ids[0] || got[ids[2]].Name != "p.jpg" {
		t.Errorf("MediaByID: %+v, %v", got, err)
	}
	if got, err := db.MediaByID(ctx, nil); err != nil || got == nil || len(got) != 0 {
		t.Errorf("no ids: %+v, %v", got, err)
	}
}
