package imaging_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color/palette"
	"image/jpeg"
	"image/png"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/imaging"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

func cost(t *testing.T, data []byte) int64 {
	t.Helper()
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := imaging.Cost(data, cfg)
	return c
}

func encoded(t *testing.T, img image.Image, asJPEG bool) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	if asJPEG {
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	} else {
		err = png.Encode(&b, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestCostCoversWhatDecodingAllocates checks the estimate that the budget
// charges against what the standard decoders really allocate, for each
// kind of image whose decoder allocates differently, plus the turned copy
// of a photo that EXIF says to turn.
func TestCostCoversWhatDecodingAllocates(t *testing.T) {
	const w, h = 400, 300
	gray := image.NewGray(image.Rect(0, 0, w, h))
	pal := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
	for i := range gray.Pix {
		gray.Pix[i], pal.Pix[i] = uint8(i*7), uint8(i*13)
	}
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i * 5)
	}
	cases := []struct {
		name   string
		data   []byte
		turned bool
	}{
		{"png 8 bits", encoded(t, rgba, false), false},
		{"png 16 bits", webtest.PNG16(w, h), false},
		{"png palette", encoded(t, pal, false), false},
		{"png gray", encoded(t, gray, false), false},
		{"jpeg 4:2:0", encoded(t, rgba, true), false},
		{"jpeg gray", encoded(t, gray, true), false},
		{"jpeg turned by EXIF", webtest.WithExif(encoded(t, rgba, true), 6), true},
		{"progressive jpeg", webtest.ProgressiveJPEG(w, h), false},
		{"progressive, turned", webtest.WithExif(webtest.ProgressiveJPEG(w, h), 8), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := image.Decode(bytes.NewReader(tc.data))
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			got := int64(after.TotalAlloc - before.TotalAlloc)
			if tc.turned {
				got += 4 * w * h // the upright RGBA copy
			}
			// The overhead is for the re-encoding; the rest must cover the decode.
			if want := cost(t, tc.data) - imaging.EncodeOverhead; got > want {
				t.Errorf("decoding allocated %d bytes, more than the %d its cost says (without the encoding's)", got, want)
			}
		})
	}
}

// TestCleanRefusesImagesOverTheBudget: small files that decode to 40
// megapixels at 8 bytes a pixel (16-bit PNG) or 15 (progressive JPEG,
// whose coefficients are kept) are refused from their header, naming
// their dimensions, without taking any of the budget.
func TestCleanRefusesImagesOverTheBudget(t *testing.T) {
	budget := imaging.NewBudget(imaging.DefaultBudget)
	for name, data := range map[string][]byte{
		"png 16 bits":      webtest.PNG16(6000, 6666),
		"progressive jpeg": webtest.ProgressiveJPEG(6000, 6666),
	} {
		t.Run(name, func(t *testing.T) {
			_, _, _, _, err := imaging.Clean(context.Background(), budget, data)
			var tle *imaging.TooLargeError
			if !errors.As(err, &tle) || !strings.Contains(err.Error(), "6000×6666") {
				t.Fatalf("got %v, want a TooLargeError naming 6000×6666", err)
			}
			if held, peak, _ := budget.Usage(); held != 0 || peak != 0 {
				t.Errorf("a refused image took %d bytes of the budget (peak %d), want none", held, peak)
			}
		})
	}
}

// TestCleanSharesTheBudget runs four decodes at once in a budget that
// fits one: each takes its cost, they never hold more than the budget
// together, and all is given back.
func TestCleanSharesTheBudget(t *testing.T) {
	data := webtest.PNG(64, 64)
	c := cost(t, data)
	budget := imaging.NewBudget(c + c/2)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, _, _, _, errs[i] = imaging.Clean(context.Background(), budget, data)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("decode %d: %v", i, err)
		}
	}
	if held, peak, _ := budget.Usage(); held != 0 || peak != c {
		t.Errorf("held %d, peak %d after four decodes of cost %d in a budget of %d; want 0 and %d", held, peak, c, budget.Size(), c)
	}
}

// TestCleanDecodesNothingForAGoneRequest: a decode whose request has
// ended takes none of the budget and decodes nothing.
func TestCleanDecodesNothingForAGoneRequest(t *testing.T) {
	budget := imaging.NewBudget(imaging.DefaultBudget)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, _, _, err := imaging.Clean(ctx, budget, webtest.PNG(10, 10))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if held, peak, _ := budget.Usage(); held != 0 || peak != 0 {
		t.Errorf("held %d, peak %d; want nothing taken", held, peak)
	}
}
