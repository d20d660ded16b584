package imaging_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/imaging"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// TestCleanSizedMakesTheSmallerCopies checks each copy's size, type and
// that it decodes to what it says, for a photo, a photo EXIF turns, a
// transparent PNG and an image smaller than every size.
func TestCleanSizedMakesTheSmallerCopies(t *testing.T) {
	alpha := image.NewNRGBA(image.Rect(0, 0, 500, 250))
	for i := range alpha.Pix {
		alpha.Pix[i] = uint8(i)
	}
	alpha.SetNRGBA(0, 0, color.NRGBA{0, 0, 0, 0})
	var alphaPNG bytes.Buffer
	png.Encode(&alphaPNG, alpha)
	cases := []struct {
		name string
		data []byte
		want []string // "variant type w×h"
	}{
		{"photo", webtest.JPEG(2000, 1000), []string{"small image/jpeg 320×160", "medium image/jpeg 800×400", "large image/jpeg 1600×800"}},
		{"turned by EXIF", webtest.WithExif(webtest.JPEG(2000, 1000), 6), []string{"small image/jpeg 320×640", "medium image/jpeg 800×1600"}},
		{"transparent png", alphaPNG.Bytes(), []string{"small image/png 320×160"}},
		{"small image", webtest.PNG(300, 200), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := imaging.CleanSized(context.Background(), imaging.NewBudget(imaging.DefaultBudget), tc.data)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range c.Variants {
				cfg, format, err := image.DecodeConfig(bytes.NewReader(v.Data))
				if err != nil || "image/"+format != v.ContentType || cfg.Width != v.Width || cfg.Height != v.Height {
					t.Errorf("%s copy says %s %d×%d, decodes as %s %d×%d (%v)", v.Variant, v.ContentType, v.Width, v.Height, format, cfg.Width, cfg.Height, err)
				}
				if v.ContentType == "image/jpeg" && len(v.Data) >= len(c.Data) {
					t.Errorf("%s copy is %d bytes, the original %d", v.Variant, len(v.Data), len(c.Data))
				}
				got = append(got, v.Variant+" "+v.ContentType+" "+itoa(v.Width)+"×"+itoa(v.Height))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("copies %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("copy %d is %s, want %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func itoa(n int) string {
	var b []byte
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// TestCleanSizedCountsTheCopiesInTheBudget: an image whose decoding
// alone fits a budget, but not with its copies, is refused before
// anything is decoded.
func TestCleanSizedCountsTheCopiesInTheBudget(t *testing.T) {
	data := webtest.JPEG(4000, 3000)
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	decode, _ := imaging.Cost(data, cfg)
	budget := imaging.NewBudget(decode + imaging.VariantsCost(cfg, false)/2)
	if _, _, _, _, err := imaging.Clean(context.Background(), budget, data); err != nil {
		t.Fatalf("Clean within the budget: %v", err)
	}
	_, err = imaging.CleanSized(context.Background(), budget, data)
	if !errors.As(err, new(*imaging.TooLargeError)) {
		t.Fatalf("CleanSized over the budget: %v, want a TooLargeError", err)
	}
	if _, peak, _ := budget.Usage(); peak > decode {
		t.Errorf("the refused image took %d bytes of the budget", peak)
	}
}
