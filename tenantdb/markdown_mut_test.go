package tenantdb

import (
	"strings"
	"testing"
)

// TestCodeSpanScanLimitIsInclusive: a backtick that opens no code span
// scans to its paragraph's end; a paragraph that costs exactly
// MaxCodeSpanScan passes, one character more is refused.
func TestCodeSpanScanLimitIsInclusive(t *testing.T) {
	at := "`" + strings.Repeat("a", MaxCodeSpanScan-1)
	if n, line := codeSpanScan(at); n != MaxCodeSpanScan || line != 0 {
		t.Fatalf("the text costs %d (over from line %d), want exactly %d (none): the test no longer builds what it says", n, line, MaxCodeSpanScan)
	}
	if _, line := codeSpanScan("x\n\n" + at + "a"); line != 3 {
		t.Errorf("a paragraph from line 3 that costs one more: over from line %d, want 3", line)
	}
	if err := CheckMarkdown("body", at, len(at)+1); err != nil {
		t.Errorf("a scan of exactly %d: %v", MaxCodeSpanScan, err)
	}
	if f := field(CheckMarkdown("body", at+"a", len(at)+1)); f != "body" {
		t.Errorf("a scan of %d: refused on %q, want body", MaxCodeSpanScan+1, f)
	}
}

// TestListItemsEndParagraphs: a list item ends the paragraph before it, and
// the checks go on after it; a marker indented 3 spaces still starts one, 4
// do not.
func TestListItemsEndParagraphs(t *testing.T) {
	deep := strings.Repeat(">", MaxMarkdownDepth+1) + " too deep"
	if f := field(CheckMarkdown("body", "Text\n- item\n"+deep, MaxMarkdownChars)); f != "body" {
		t.Errorf("a line too deep after a list item: refused on %q, want body", f)
	}
	// Emphasis pairs are counted per paragraph: 1,500 "*_" on a line make
	// 2,250,000 pairs; two such lines in one paragraph make 9,000,000.
	marks := strings.Repeat("*_", 1500)
	for _, tc := range []struct {
		indent string
		ok     bool
	}{{"", true}, {"   ", true}, {"    ", false}} {
		src := "- " + marks + "\n" + tc.indent + "- " + marks
		err := CheckMarkdown("body", src, MaxMarkdownChars)
		if (err == nil) != tc.ok {
			t.Errorf("a second item indented %d spaces: %v, want accepted %v", len(tc.indent), err, tc.ok)
		}
	}
}

// TestMarkersNeedASpace: '-', '+' and '*' nest only when a space, a tab or
// the line's end follows them; a line of "-+-+" is text.
func TestMarkersNeedASpace(t *testing.T) {
	text := strings.Repeat("-+", MaxMarkdownDepth) + " text"
	if d, _ := markdownPrefix(text); d != 0 {
		t.Errorf("%q nests %d levels, want 0", text, d)
	}
	if err := CheckMarkdown("body", text, MaxMarkdownChars); err != nil {
		t.Errorf("%q: %v", text, err)
	}
	for _, tc := range []struct {
		line  string
		depth int
	}{{"- - x", 2}, {"-\tx", 1}, {"- -", 2}, {"-x", 0}} {
		if d, _ := markdownPrefix(tc.line); d != tc.depth {
			t.Errorf("%q nests %d levels, want %d", tc.line, d, tc.depth)
		}
	}
}

// TestCodeSpanScanCosts: what each run of backticks costs, by hand: the
// characters from it to the next run of its length (else to the
// paragraph's end) and 150 for each line crossed; a run after an odd
// number of backslashes also opens one backtick later, and that opener
// closes nothing.
func TestCodeSpanScanCosts(t *testing.T) {
	for _, tc := range []struct {
		src  string
		cost int
	}{
		{"x`", 1},                    // a run at the paragraph's end
		{"`a\nb", 4 + 150},           // to the end, crossing a line
		{"a\n`b", 2},                 // to the end, on the last line
		{"`a` b", 2 + 3},             // closed by the next run of 1, which runs on to the end
		{"\\`abc", 4},                // one escaped backtick: no second opener
		{"\\``abc", 5 + 4},           // the run of 2, and a run of 1 from the second
		{"\\\\``abc", 5},             // an even number of backslashes escapes nothing
		{"\\```x``y", 7 + 3 + 3},     // run of 3 to the end; the opener of 2 closed at 5; the run of 2 to the end
		{"``a``\n\n`b", 3 + 2 + 2},   // paragraphs apart: the second starts afresh
		{"\\``a``b`", 3 + 5 + 4 + 1}, // the escaped opener of 1 ends at the last run, not at the run of 2
	} {
		if n, _ := codeSpanScan(tc.src); n != tc.cost {
			t.Errorf("codeSpanScan(%q) = %d, want %d", tc.src, n, tc.cost)
		}
	}
}
