package tenantdb

import (
	"strings"
	"testing"
)

// TestMarkdownLimitsAreInclusive checks two of the markdown shape limits
// at exactly their value (accepted) and one past it (refused, naming the
// limit): the cells of tables (100 columns: the header and delimiter
// rows count 200, each body row 100) and the unlinked closing brackets of
// a paragraph times its lines (1,000 lines of 10), the characters links
// make the renderer scan; and that numbered list markers of any digits
// count as nesting.
func TestMarkdownLimitsAreInclusive(t *testing.T) {
	table := func(bodyRows int) string {
		row := strings.Repeat("| x ", 100) + "|\n"
		return row + strings.Repeat("| - ", 100) + "|\n" + strings.Repeat(row, bodyRows)
	}
	brackets := func(extra int) string {
		line := strings.Repeat("]", 10)
		return strings.Repeat(line+"\n", 999) + line + strings.Repeat("]", extra) + "\n"
	}
	for _, tc := range []struct {
		name, src, want string
	}{
		{"exactly MaxTableCells", table((MaxTableCells - 200) / 100), ""},
		{"a row past MaxTableCells", table((MaxTableCells-200)/100 + 1), "table"},
		{"exactly MaxBracketLines", brackets(0), ""},
		{"a bracket past MaxBracketLines", brackets(1), "brackets"},
		// One word of 50,000 characters holding 200 "](": 200 × 50,000
		// characters to scan, exactly MaxLinkScan.
		{"exactly MaxLinkScan", strings.Repeat("](", 200) + strings.Repeat("a", 50_000-400), ""},
		{"a character past MaxLinkScan", strings.Repeat("](", 200) + strings.Repeat("a", 50_000-400+1), "links"},
		// List markers of every digit nest: 21 levels are one too many.
		{"0. markers", strings.Repeat("0. ", MaxMarkdownDepth+1) + "x", "levels deep"},
		{"9. markers", strings.Repeat("9. ", MaxMarkdownDepth+1) + "x", "levels deep"},
		{"10) markers", strings.Repeat("10) ", MaxMarkdownDepth+1) + "x", "levels deep"},
		{"19. markers", strings.Repeat("19. ", MaxMarkdownDepth+1) + "x", "levels deep"},
		{"20 levels of 9.", strings.Repeat("9. ", MaxMarkdownDepth) + "x", ""},
		// An 11-digit number is no list marker (CommonMark allows 9 digits).
		{"11-digit numbers", strings.Repeat("12345678901. ", MaxMarkdownDepth+1) + "x", ""},
		{"a line of digits only", "2026", ""},
	} {
		err := CheckMarkdown("body", tc.src, MaxMarkdownChars)
		if tc.want == "" && err != nil {
			t.Errorf("%s: refused: %v", tc.name, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want a refusal about %s", tc.name, err, tc.want)
		}
	}
}

// TestThematicBreaksNestNothing: a line of three or more of one of -, *
// and _ (with spaces) is a thematic break, not three list markers.
func TestThematicBreaksNestNothing(t *testing.T) {
	for _, tc := range []struct {
		line  string
		depth int
	}{
		{"* * *", 0}, {"---", 0}, {"_ _ _ _", 0}, {"  - - -", 0},
		{"* *", 2},   // two marks: a list in a list
		{"* - *", 3}, // mixed marks: lists
	} {
		if depth, _ := markdownPrefix(tc.line); depth != tc.depth {
			t.Errorf("markdownPrefix(%q) depth %d, want %d", tc.line, depth, tc.depth)
		}
	}
}
