package site

import (
	"math"
	"strings"
	"testing"
)

// TestLuminanceAndContrastMatchWCAG checks the colour arithmetic against
// figures published with WCAG 2 and by the tools that implement it, not
// against the formula itself: white on black is 21:1, the primaries'
// luminances are the formula's weights, and #767676 is the lightest grey
// that passes AA on white (4.54:1) while #777777 fails it (4.48:1).
func TestLuminanceAndContrastMatchWCAG(t *testing.T) {
	lum := func(hex string) float64 { return luminance(parseHex(hex)) }
	near := func(got, want, tol float64) bool { return math.Abs(got-want) <= tol }
	for _, tc := range []struct {
		hex  string
		want float64
	}{
		{"#ffffff", 1}, {"#000000", 0},
		{"#ff0000", 0.2126}, {"#00ff00", 0.7152}, {"#0000ff", 0.0722},
		{"#808080", 0.2159}, // mid grey: the power curve, not a straight line
		{"#0a0a0a", 0.0030}, // the linear segment near black (10/255 <= 0.03928)
		{"#0b0b0b", 0.0033}, // just above it: the power curve
	} {
		if got := lum(tc.hex); !near(got, tc.want, 0.00005) {
			t.Errorf("luminance(%s) = %.5f, want %.4f", tc.hex, got, tc.want)
		}
	}
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"#ffffff", "#000000", 21}, {"#000000", "#ffffff", 21}, // the order of the two does not matter
		{"#767676", "#ffffff", 4.54}, {"#777777", "#ffffff", 4.48},
		{"#ffffff", "#ffffff", 1},
	} {
		if got := contrast(lum(tc.a), lum(tc.b)); !near(got, tc.want, 0.005) {
			t.Errorf("contrast(%s, %s) = %.3f, want %.2f", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestParseHex reads each channel from its own two digits.
func TestParseHex(t *testing.T) {
	r, g, b := parseHex("#123456")
	if r != 0x12 || g != 0x34 || b != 0x56 {
		t.Errorf("parseHex(#123456) = %v %v %v", r, g, b)
	}
}

// TestThemeLinkDarkensOnlyAsFarAsNeeded checks the link colour: kept when
// the accent already reads at 4.5:1 on white, else darkened in 10% steps
// to the first that does, and the text on the accent: white on a dark
// accent, near-black on a light one.
func TestThemeLinkDarkensOnlyAsFarAsNeeded(t *testing.T) {
	for _, tc := range []struct{ accent, on, link string }{
		{"#767676", "#ffffff", "#767676"}, // passes as it is (4.54)
		{"#777777", "#111111", "#6b6b6b"}, // 4.48: one step, 119*0.9 = 107.1
		{"#ffffff", "#111111", "#6e6e6e"}, // white: eight steps, 255*0.9^8 = 109.8
		{"#ff0000", "#111111", "#e60000"}, // red (4.0): one step, 229.5 rounds up
		{"#1f4e79", "#ffffff", "#1f4e79"},
	} {
		css := themeCSS(tc.accent)
		want := ":root { --accent: " + tc.accent + "; --on-accent: " + tc.on + "; --link: " + tc.link + "; }\n"
		if css != want {
			t.Errorf("themeCSS(%s) =\n%s want\n%s", tc.accent, strings.TrimSpace(css), strings.TrimSpace(want))
		}
	}
}
