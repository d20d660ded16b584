package imaging

import (
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"runtime"
	"sync"

	"golang.org/x/sync/semaphore"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// DefaultBudget is the memory that all image decodes of a process may
// hold at once, and so also the most one image may need: 256 MB is a
// 40-megapixel 8-bit PNG with room to spare, or a dozen phone photos.
const DefaultBudget = 256 << 20

// EncodeOverhead is what re-encoding a decoded image costs: the cleaned
// copy (at most tenantdb.MaxMediaSize, in a buffer that may have doubled
// on the way) and the compressor's state.
const EncodeOverhead = 2*tenantdb.MaxMediaSize + 1<<20

// decodeOverhead is what a decoder holds besides the image: its Huffman
// tables or inflate window, buffered reader and (PNG) two rows, which
// Cost adds.
const decodeOverhead = 256 << 10

// Budget is the memory that image decodes may hold at once, shared by
// every upload of every tenant, so that concurrent uploads wait for each
// other instead of adding up. A decode takes its estimated cost (Cost)
// before it starts and gives it back when its cleaned copy is made.
type Budget struct {
	sem  *semaphore.Weighted
	size int64

	mu         sync.Mutex
	held, peak int64
	waits      int64
}

// NewBudget is a budget of size bytes.
func NewBudget(size int64) *Budget {
	return &Budget{sem: semaphore.NewWeighted(size), size: size}
}

// Size is the budget's total, also the most one image may cost.
func (b *Budget) Size() int64 { return b.size }

// Usage reports the bytes held now, the most ever held at once, and how
// many decodes had to wait for others to finish.
func (b *Budget) Usage() (held, peak, waits int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held, b.peak, b.waits
}

// acquire takes n, waiting while ctx lasts; a request already gone
// takes nothing, even from a free budget.
func (b *Budget) acquire(ctx context.Context, n int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !b.sem.TryAcquire(n) {
		b.mu.Lock()
		b.waits++
		b.mu.Unlock()
		if err := b.sem.Acquire(ctx, n); err != nil {
			return err
		}
	}
	b.mu.Lock()
	b.held += n
	b.peak = max(b.peak, b.held)
	b.mu.Unlock()
	return nil
}

// release gives n back. After a large decode it first collects the
// garbage that decode left (runtime.GC, some milliseconds against the
// decode's seconds): otherwise the heap only shrinks when the collector's
// pacer gets to it, and the next decode's pixels come on top of the last
// one's, which in a measure of four 40-megapixel PNGs made the process
// twice the budget.
func (b *Budget) release(n int64) {
	if n >= b.size/8 {
		runtime.GC()
	}
	b.mu.Lock()
	b.held -= n
	b.mu.Unlock()
	b.sem.Release(n)
}

// Cost estimates, from the header alone, the bytes that decoding data
// (whose image.DecodeConfig is cfg) and re-encoding it will hold at the
// peak, and says in words what makes it cost that. The estimate follows
// what the standard library's decoders allocate:
//
//   - PNG: 8 bytes a pixel at 16 bits per channel (RGBA64/NRGBA64), 1 for
//     a palette, else 4 (RGBA/NRGBA, or gray that a tRNS chunk turns into
//     NRGBA); an interlaced PNG holds its largest pass (half the pixels)
//     besides the image.
//   - JPEG: one byte a sample of each component at its sampling factor,
//     padded to whole MCUs (1.5 bytes a pixel for 4:2:0 YCbCr, 3 for
//     4:4:4, 4 for CMYK); a progressive JPEG also keeps every DCT
//     coefficient between scans (an int32 a sample: 4 times that again);
//     an Adobe RGB or CMYK JPEG is converted into a second image of 4
//     bytes a pixel, and so is a photo that EXIF says to turn.
func Cost(data []byte, cfg image.Config) (int64, string) {
	px := int64(cfg.Width) * int64(cfg.Height)
	if len(data) >= 29 && string(data[1:4]) == "PNG" {
		depth, colorType, interlaced := data[24], data[25], data[28] == 1
		per, why := int64(4), "8 bits per channel"
		switch {
		case depth == 16:
			per, why = 8, "16 bits per channel"
		case colorType == 3:
			per, why = 1, "a palette"
		}
		cost := px * per
		if interlaced {
			cost += cost / 2
			why += ", interlaced"
		}
		cost += 2 * int64(cfg.Width) * per // the current and previous rows
		return cost + decodeOverhead + EncodeOverhead, why
	}
	j := readJPEGHeader(data)
	mcuW, mcuH := int64(8*j.hmax), int64(8*j.vmax)
	mxx, myy := (int64(cfg.Width)+mcuW-1)/mcuW, (int64(cfg.Height)+mcuH-1)/mcuH
	var samples int64
	for _, c := range j.comps {
		samples += mxx * myy * int64(c.h*c.v) * 64
	}
	cost, why := samples, fmt.Sprintf("%d components", len(j.comps))
	if j.progressive {
		cost += 4 * samples
		why = "progressive, " + why
	}
	if j.adobe || len(j.comps) == 4 {
		cost += 4 * px
	}
	if o := jpegOrientation(data); o >= 2 && o <= 8 {
		cost += 4 * px
		why += ", turned by EXIF"
	}
	return cost + decodeOverhead + EncodeOverhead, why
}

type jpegHeader struct {
	progressive, adobe bool
	hmax, vmax         int
	comps              []struct{ h, v int }
}

// readJPEGHeader reads a JPEG's frame header (SOFn) and whether it has an
// Adobe APP14 segment. What it cannot read is taken at its worst: three
// components at full resolution, progressive.
func readJPEGHeader(data []byte) jpegHeader {
	worst := jpegHeader{progressive: true, adobe: true, hmax: 1, vmax: 1, comps: make([]struct{ h, v int }, 4)}
	for k := range worst.comps {
		worst.comps[k].h, worst.comps[k].v = 1, 1
	}
	var j jpegHeader
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			return worst
		}
		marker := data[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		if marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) {
			i += 2
			continue
		}
		if marker == 0xDA || marker == 0xD9 {
			return worst // a scan before any frame header
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return worst
		}
		seg := data[i+4 : i+2+n]
		switch {
		case marker == 0xEE && len(seg) >= 5 && string(seg[:5]) == "Adobe":
			j.adobe = true
		case marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
			if len(seg) < 6 || int(seg[5]) < 1 || int(seg[5]) > 4 || len(seg) < 6+3*int(seg[5]) {
				return worst
			}
			j.progressive = marker == 0xC2 || marker == 0xC6 || marker == 0xCA || marker == 0xCE
			j.hmax, j.vmax = 1, 1
			for k := range int(seg[5]) {
				hv := seg[6+3*k+1]
				h, v := max(1, int(hv>>4)), max(1, int(hv&0x0F))
				j.comps = append(j.comps, struct{ h, v int }{h, v})
				j.hmax, j.vmax = max(j.hmax, h), max(j.vmax, v)
			}
			return j
		}
		i += 2 + n
	}
	return worst
}
