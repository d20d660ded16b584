package imaging

import (
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"slices"

	"golang.org/x/image/draw"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// variantQuality is the JPEG quality of the smaller copies: they are
// looked at on screens, at the size they were made for.
const variantQuality = 82

// variantDims is the size of the copy of a w×h image at width vw.
func variantDims(w, h, vw int) (int, int) {
	return vw, max(1, (h*vw+w/2)/w)
}

// VariantsCost is the memory that making the copies of an image of cfg
// (turned a quarter when turned, as EXIF asks) holds at the peak: every
// copy's pixels (4 bytes each, kept until the smallest is made from
// them) and its encoded bytes (at most 4 bytes a pixel, far less in
// practice).
func VariantsCost(cfg image.Config, turned bool) int64 {
	w, h := cfg.Width, cfg.Height
	if turned {
		w, h = h, w
	}
	var cost int64
	sizes := tenantdb.SizesOf(w)
	for _, s := range sizes {
		vw, vh := variantDims(w, h, s.Width)
		cost += 8 * int64(vw) * int64(vh)
	}
	if len(sizes) > 0 && w > 2*sizes[len(sizes)-1].Width {
		// The halvings of the original on the way to the largest copy:
		// a quarter of its pixels, a sixteenth, ... at 4 bytes each.
		cost += (4*int64(w)*int64(h) + 2) / 3
	}
	return cost
}

// scaleTo is src scaled to w×h: halved while it is more than twice as
// wide as w, then scaled the rest of the way, each step bilinear over
// the 2×2 pixels around each new pixel's centre (x/image/draw's
// ApproxBiLinear). Each step costs a pass over the pixels it makes, so a
// copy costs about a third of the original's pixels, whatever its size;
// over at most a halving, the bilinear step misses no source pixel. A
// kernel scaler (Catmull-Rom) costs its support, widened by the ratio,
// for every pixel of the original: under the race detector, three times
// the decoding of an 8-megapixel photo, for no difference visible at
// these sizes.
func scaleTo(src image.Image, w, h int) *image.RGBA {
	for src.Bounds().Dx() > 2*w {
		b := src.Bounds()
		half := image.NewRGBA(image.Rect(0, 0, max(1, b.Dx()/2), max(1, b.Dy()/2)))
		draw.ApproxBiLinear.Scale(half, half.Bounds(), src, b, draw.Src, nil)
		src = half
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	return dst
}

// makeVariants scales img down to each of tenantdb.Sizes narrower than
// it, the largest first and each next from the one before (scaleTo), and encodes
// them: JPEG for an opaque image, PNG for one with transparency. It stops
// with ctx's error once the request is gone.
func makeVariants(ctx context.Context, img image.Image) ([]tenantdb.VariantData, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	sizes := slices.Clone(tenantdb.SizesOf(w))
	slices.Reverse(sizes)
	opaque := isOpaque(img)
	src := img
	var out []tenantdb.VariantData
	for _, s := range sizes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		vw, vh := variantDims(w, h, s.Width)
		dst := scaleTo(src, vw, vh)
		var buf cappedBuffer
		buf.max = tenantdb.MaxMediaSize
		v := tenantdb.VariantData{Variant: s.Name, Width: vw, Height: vh}
		var err error
		if opaque {
			v.ContentType = "image/jpeg"
			err = jpeg.Encode(&buf, dst, &jpeg.Options{Quality: variantQuality})
		} else {
			v.ContentType = "image/png"
			err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, dst)
		}
		if err != nil {
			return nil, err
		}
		v.Data = buf.Bytes()
		out = append(out, v)
		src = dst
	}
	slices.Reverse(out) // small first, as tenantdb.Sizes
	return out, nil
}

// isOpaque says whether img has no transparent pixel, by its Opaque
// method where it has one (every decoded image type does).
func isOpaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}
