package webtest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// Images for the upload tests: real PNG and JPEG files, and hostile variants.

// PNG is a w×h PNG image.
func PNG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), 0x80, 0xff})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// JPEG is a w×h JPEG image.
func JPEG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 3), 0x40, uint8(y * 3), 0xff})
		}
	}
	var b bytes.Buffer
	jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	return b.Bytes()
}

// WithExif inserts an EXIF segment with an orientation and a GPS latitude
// tag after a JPEG's SOI marker, as a phone camera writes it.
func WithExif(jpg []byte, orientation uint16) []byte {
	var tiff bytes.Buffer
	le := binary.LittleEndian
	tiff.WriteString("II")
	binary.Write(&tiff, le, uint16(42))
	binary.Write(&tiff, le, uint32(8))
	binary.Write(&tiff, le, uint16(2)) // two entries
	// Orientation, SHORT, 1, value.
	binary.Write(&tiff, le, []uint16{0x0112, 3})
	binary.Write(&tiff, le, uint32(1))
	binary.Write(&tiff, le, []uint16{orientation, 0})
	// GPSInfo IFD pointer (its content is not needed to be found by a reader of the file).
	binary.Write(&tiff, le, []uint16{0x8825, 4})
	binary.Write(&tiff, le, uint32(1))
	binary.Write(&tiff, le, uint32(0))
	binary.Write(&tiff, le, uint32(0)) // no next IFD
	tiff.WriteString("GPS 48.8584N 2.2945E")
	seg := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// PNGClaiming is a 1×1 PNG whose header claims w×h, with a valid CRC.
func PNGClaiming(w, h uint32) []byte {
	data := PNG(1, 1)
	ihdr := data[8+8 : 8+8+13]
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	crc := crc32.ChecksumIEEE(data[8+4 : 8+8+13])
	binary.BigEndian.PutUint32(data[8+8+13:], crc)
	return data
}

// Truncated is the first half of b.
func Truncated(b []byte) []byte { return b[:len(b)/2] }

func JPEGWithComment(jpg []byte, comment string) []byte {
	out := []byte{0xFF, 0xD8, 0xFF, 0xFE, byte((len(comment) + 2) >> 8), byte(len(comment) + 2)}
	out = append(out, comment...)
	return append(out, jpg[2:]...)
}

// PNG16 is a valid w×h PNG of 16 bits per channel (RGBA, all transparent
// black), small however large w×h is: its zlib stream is written by hand
// as one literal zero and then back-references, so that making a
// 40-megapixel image costs the test nothing, while decoding it costs the
// server 8 bytes a pixel.
func PNG16(w, h int) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&out, binary.BigEndian, uint32(len(data)))
		body := append([]byte(typ), data...)
		out.Write(body)
		binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(body))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 16, 6 // 16 bits, RGBA; compression, filter, interlace 0
	chunk("IHDR", ihdr)

	total := int64(h) * int64(1+8*w) // each row: filter byte 0, then zeros
	var bw bitWriter
	bw.bytes = append(bw.bytes, 0x78, 0x01) // zlib, no dictionary
	bw.bits(1, 1)                           // BFINAL
	bw.bits(1, 2)                           // fixed Huffman codes
	bw.code(0x30, 8)                        // literal 0
	for n := (total - 1) / 258; n > 0; n-- {
		bw.code(0xC5, 8) // length 258 (code 285)
		bw.code(0, 5)    // distance 1
	}
	for n := (total - 1) % 258; n > 0; n-- {
		bw.code(0x30, 8)
	}
	bw.code(0, 7) // end of block
	bw.flush()
	adler := uint32(total%65521)<<16 | 1 // zeros: a stays 1, b grows by 1 a byte
	bw.bytes = binary.BigEndian.AppendUint32(bw.bytes, adler)
	chunk("IDAT", bw.bytes)
	chunk("IEND", nil)
	return out.Bytes()
}

// ProgressiveJPEG is a valid w×h progressive JPEG (three components at
// full resolution, 4:4:4, mid grey), small however large w×h is: it has
// one DC scan in which every block is a one-bit "no change". The
// standard decoder keeps every DCT coefficient of a progressive JPEG
// between scans, 12 bytes a pixel here besides the image's 3.
func ProgressiveJPEG(w, h int) []byte {
	var out bytes.Buffer
	seg := func(marker byte, data []byte) {
		out.Write([]byte{0xFF, marker})
		binary.Write(&out, binary.BigEndian, uint16(len(data)+2))
		out.Write(data)
	}
	out.Write([]byte{0xFF, 0xD8})
	seg(0xDB, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...)) // quantisation table 0, all ones
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3}
	for id := byte(1); id <= 3; id++ {
		sof = append(sof, id, 0x11, 0)
	}
	seg(0xC2, sof)                                      // progressive frame
	dht := append([]byte{0x00, 1}, make([]byte, 15)...) // DC table 0: one code of length 1...
	seg(0xC4, append(dht, 0))                           // ...for category 0 (no change)
	seg(0xDA, []byte{3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 0, 0})
	blocks := int64((w+7)/8) * int64((h+7)/8) * 3
	data := make([]byte, (blocks+7)/8)
	if r := blocks % 8; r != 0 {
		data[len(data)-1] = 0xFF >> r // pad the last byte with 1 bits
	}
	out.Write(data)
	out.Write([]byte{0xFF, 0xD9})
	return out.Bytes()
}

// bitWriter writes a deflate stream: values least significant bit first,
// Huffman codes most significant bit first.
type bitWriter struct {
	bytes []byte
	acc   uint64
	n     uint
}

func (b *bitWriter) bits(v uint64, n uint) {
	b.acc |= v << b.n
	b.n += n
	for b.n >= 8 {
		b.bytes = append(b.bytes, byte(b.acc))
		b.acc >>= 8
		b.n -= 8
	}
}

func (b *bitWriter) code(c uint64, n uint) {
	var r uint64
	for i := uint(0); i < n; i++ {
		r = r<<1 | c>>i&1
	}
	b.bits(r, n)
}

func (b *bitWriter) flush() {
	if b.n > 0 {
		b.bytes = append(b.bytes, byte(b.acc))
		b.acc, b.n = 0, 0
	}
}
