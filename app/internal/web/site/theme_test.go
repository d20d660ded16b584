package site

import (
	"regexp"
	"strings"
	"testing"
)

func TestThemeColours(t *testing.T) {
	tests := []struct{ accent, on, link string }{
		{"#1f4e79", "#ffffff", "#1f4e79"},
		{"#ffff00", "#111111", ""}, // yellow: black text on it, a darker yellow for links
		{"#000000", "#ffffff", "#000000"},
	}
	for _, tc := range tests {
		css := themeCSS(tc.accent)
		if !strings.Contains(css, "--on-accent: "+tc.on) {
			t.Errorf("themeCSS(%s) = %s, want on-accent %s", tc.accent, css, tc.on)
		}
		link := regexp.MustCompile(`--link: (#[0-9a-f]{6})`).FindStringSubmatch(css)[1]
		if tc.link != "" && link != tc.link {
			t.Errorf("themeCSS(%s) link %s, want %s", tc.accent, link, tc.link)
		}
		if c := contrast(luminance(parseHex(link)), 1); c < 4.5 {
			t.Errorf("themeCSS(%s): link %s has contrast %.2f on white, want >= 4.5", tc.accent, link, c)
		}
	}
}
