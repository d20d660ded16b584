// Package imaging checks uploaded images by their content and re-encodes
// them, so that only pixels are stored: no EXIF, no markup, nothing appended.
package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"strings"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// Uploaded images are checked and then re-encoded, so what the media
// library stores and serves is pixels and nothing else: no EXIF (phones put
// the photo's GPS position there), no comments, nothing appended. Only PNG
// and JPEG are taken, by their content, never by name or declared type.
// The dimensions are read from the header (image.DecodeConfig) before
// anything is decoded, so a small file that claims to be huge costs nothing.
const (
	maxImageSide   = 8192
	maxImagePixels = 40_000_000
)

// markup that must not appear in an image: a file that a browser or a
// plugin could also read as HTML, SVG, XML or script is a polyglot.
var polyglotMarkers = [][]byte{
	[]byte("<script"), []byte("<html"), []byte("<svg"), []byte("<!doctype"), []byte("<?xml"),
	[]byte("<iframe"), []byte("<body"), []byte("<object"), []byte("<embed"), []byte("javascript:"),
}

// TooLargeError is an image over the media size limit (HTTP 413).
type TooLargeError struct{ msg string }

func (e *TooLargeError) Error() string { return e.msg }

func badImage(format string, args ...any) error {
	return &tenantdb.ValidationError{Field: "file", Message: fmt.Sprintf(format, args...)}
}

// Clean returns data re-encoded as a fresh PNG or JPEG with its type
// and dimensions, or why it is refused. The memory its decoding will take
// is estimated from the header first (see Cost): an image that needs more
// than all of budget is refused with a TooLargeError naming its
// dimensions, and the others wait for their share of budget for as long
// as ctx lasts.
func Clean(ctx context.Context, budget *Budget, data []byte) (contentType string, width, height int, out []byte, err error) {
	c, err := clean(ctx, budget, data, false)
	return c.ContentType, c.Width, c.Height, c.Data, err
}

// Cleaned is an uploaded image made safe (see Clean), with its smaller
// copies in tenantdb.Sizes.
type Cleaned struct {
	ContentType   string
	Width, Height int
	Data          []byte
	Variants      []tenantdb.VariantData
}

// CleanSized is Clean that also makes the smaller copies of the image
// that pages offer in srcset: one of each of tenantdb.Sizes narrower than
// it, scaled from the same decoded pixels (by halvings and a bilinear
// step, each from the next larger copy: see scaleTo). Their memory is
// counted in the cost taken from budget.
func CleanSized(ctx context.Context, budget *Budget, data []byte) (Cleaned, error) {
	return clean(ctx, budget, data, true)
}

func clean(ctx context.Context, budget *Budget, data []byte, sized bool) (Cleaned, error) {
	if len(data) == 0 {
		return Cleaned{}, badImage("is empty")
	}
	if len(data) > tenantdb.MaxMediaSize {
		return Cleaned{}, &TooLargeError{fmt.Sprintf("the image is larger than %d MB", tenantdb.MaxMediaSize>>20)}
	}
	sniffed := http.DetectContentType(data)
	if sniffed != "image/png" && sniffed != "image/jpeg" {
		return Cleaned{}, badImage("is not a PNG or JPEG image (it looks like %s)", sniffed)
	}
	lower := bytes.ToLower(data)
	for _, m := range polyglotMarkers {
		if bytes.Contains(lower, m) {
			return Cleaned{}, badImage("contains markup (%s) as well as an image; save it again from an image editor", m)
		}
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || "image/"+format != sniffed {
		return Cleaned{}, badImage("is a damaged or unsupported %s", sniffed)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxImageSide || cfg.Height > maxImageSide ||
		cfg.Width*cfg.Height > maxImagePixels {
		return Cleaned{}, badImage("is %d×%d pixels; at most %d pixels a side and %d megapixels are accepted",
			cfg.Width, cfg.Height, maxImageSide, maxImagePixels/1_000_000)
	}
	cost, why := Cost(data, cfg)
	if sized {
		cost += VariantsCost(cfg, sniffed == "image/jpeg" && jpegOrientation(data) >= 5)
	}
	if cost > budget.size {
		return Cleaned{}, &TooLargeError{fmt.Sprintf(
			"the image is %d×%d pixels (%s); decoding it would take %d MB of memory, and an image may take at most %d MB: save it with fewer pixels%s",
			cfg.Width, cfg.Height, why, mb(cost), mb(budget.size), advice(sniffed, why))}
	}
	if err := budget.acquire(ctx, cost); err != nil {
		return Cleaned{}, fmt.Errorf("waiting to decode an image: %w", err)
	}
	defer budget.release(cost)
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return Cleaned{}, badImage("is a damaged %s: %v", sniffed, err)
	}
	b := &cappedBuffer{max: tenantdb.MaxMediaSize}
	switch sniffed {
	case "image/png":
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		err = enc.Encode(b, img)
	default:
		img = orient(img, jpegOrientation(data))
		for _, q := range []int{90, 80} {
			b.Reset()
			if err = jpeg.Encode(b, img, &jpeg.Options{Quality: q}); !errors.Is(err, errOverCap) {
				break
			}
		}
	}
	if errors.Is(err, errOverCap) {
		return Cleaned{}, &TooLargeError{fmt.Sprintf("the image is larger than %d MB once cleaned; make it smaller", tenantdb.MaxMediaSize>>20)}
	}
	if err != nil {
		return Cleaned{}, err
	}
	bounds := img.Bounds()
	c := Cleaned{ContentType: sniffed, Width: bounds.Dx(), Height: bounds.Dy(), Data: b.Bytes()}
	if sized {
		if c.Variants, err = makeVariants(ctx, img); err != nil {
			return Cleaned{}, err
		}
	}
	return c, nil
}

func mb(n int64) int64 { return (n + 1<<20 - 1) >> 20 }

// advice is what else than fewer pixels would make the image affordable.
func advice(contentType, why string) string {
	switch {
	case contentType == "image/png" && strings.Contains(why, "16 bits"):
		return ", or as 8 bits per channel"
	case contentType == "image/jpeg" && strings.Contains(why, "progressive"):
		return ", or as a baseline (not progressive) JPEG"
	}
	return ""
}

// errOverCap is a cleaned image that outgrew the media size limit.
var errOverCap = errors.New("over the media size limit")

// cappedBuffer is a bytes.Buffer that refuses to grow past max, so that
// an image that re-encodes larger than the media limit stops costing
// memory as soon as it passes it.
type cappedBuffer struct {
	buf bytes.Buffer // not embedded: its WriteByte would pass the cap
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		return 0, errOverCap
	}
	return b.buf.Write(p)
}

func (b *cappedBuffer) Reset()        { b.buf.Reset() }
func (b *cappedBuffer) Bytes() []byte { return b.buf.Bytes() }

// jpegOrientation reads the EXIF orientation (1-8) of a JPEG, 1 if none:
// re-encoding drops EXIF, so the rotation it asks for is applied to the
// pixels instead, and phone photos stay upright.
func jpegOrientation(data []byte) int {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 1
	}
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			return 1
		}
		marker := data[i+1]
		if marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) {
			i += 2
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan: no more metadata
			return 1
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return 1
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) > 6 && string(seg[:6]) == "Exif\x00\x00" {
			return exifOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 1
}

func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	off := int(bo.Uint32(tiff[4:]))
	if off < 8 || off+2 > len(tiff) {
		return 1
	}
	count := int(bo.Uint16(tiff[off:]))
	for k := 0; k < count; k++ {
		e := off + 2 + 12*k
		if e+12 > len(tiff) {
			return 1
		}
		if bo.Uint16(tiff[e:]) == 0x0112 && bo.Uint16(tiff[e+2:]) == 3 {
			if o := int(bo.Uint16(tiff[e+8:])); o >= 1 && o <= 8 {
				return o
			}
			return 1
		}
	}
	return 1
}

// orient turns src as EXIF orientation o says the camera meant it.
func orient(src image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return src
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	// A JPEG decodes to YCbCr (or Gray): read those without boxing each
	// pixel in a color.Color, which cost as much garbage as the image.
	at := func(x, y int) color.RGBA { return color.RGBAModel.Convert(src.At(x, y)).(color.RGBA) }
	switch s := src.(type) {
	case *image.YCbCr:
		at = func(x, y int) color.RGBA {
			c := s.YCbCrAt(x, y)
			r, g, b := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
			return color.RGBA{r, g, b, 0xff}
		}
	case *image.Gray:
		at = func(x, y int) color.RGBA { g := s.GrayAt(x, y).Y; return color.RGBA{g, g, g, 0xff} }
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch o {
			case 2: // mirrored
				dx, dy = w-1-x, y
			case 3: // upside down
				dx, dy = w-1-x, h-1-y
			case 4: // mirrored upside down
				dx, dy = x, h-1-y
			case 5: // transposed
				dx, dy = y, x
			case 6: // turned a quarter counter-clockwise: turn it clockwise
				dx, dy = h-1-y, x
			case 7: // transversed
				dx, dy = h-1-y, w-1-x
			case 8: // turned a quarter clockwise: turn it back
				dx, dy = y, w-1-x
			}
			dst.SetRGBA(dx, dy, at(b.Min.X+x, b.Min.Y+y))
		}
	}
	return dst
}
