package tenantdb

import (
	"strings"
	"testing"
)

// TestSlugify checks the slugs made of titles: ASCII letters and digits,
// single dashes between words, none at either end, at most 80 characters,
// and "item" when nothing is left.
func TestSlugify(t *testing.T) {
	for _, tc := range []struct{ title, want string }{
		{"Memorial Day 2026!", "memorial-day-2026"},
		{"  Fish  --  fry  ", "fish-fry"},
		{"!!!", "item"},
		{"", "item"},
		{"Été à Paris", "t-paris"}, // letters outside ASCII are dropped
		{strings.Repeat("a", 100), strings.Repeat("a", 80)},
		{"  " + strings.Repeat("a", 100), strings.Repeat("a", 80)}, // leading blanks make no dash that costs a character
		{strings.Repeat("ab ", 40), strings.TrimSuffix(strings.Repeat("ab-", 27), "-")}, // cut at 80, then trimmed
	} {
		got := Slugify(tc.title)
		if got != tc.want {
			t.Errorf("Slugify(%q) = %q, want %q", tc.title, got, tc.want)
		}
		if err := checkSlug("slug", got); err != nil {
			t.Errorf("Slugify(%q) = %q, not a valid slug: %v", tc.title, got, err)
		}
	}
}
