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
	if n, _ := codeSpanScan(at); n != MaxCodeSpanScan {
		t.Fatalf("the text costs %d, want exactly %d: the test no longer builds what it says", n, MaxCodeSpanScan)
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
