package tenantdb

import (
	"context"
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
