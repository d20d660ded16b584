package tenantdb

import "testing"

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
