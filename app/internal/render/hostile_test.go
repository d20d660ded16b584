package render

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// hostileShapes are markdown texts of about n bytes in each shape that
// could make a markdown renderer do more than linear work: deep nesting,
// many blocks, delimiters and brackets that never close, wide tables,
// link definitions, and plain prose to compare with.
func hostileShapes(n int) []struct{ name, src string } {
	rep := func(s string) string { return strings.Repeat(s, max(n/len(s), 1)) }
	lines := func(f func(i int) string) string {
		var b strings.Builder
		for i := 0; b.Len() < n; i++ {
			b.WriteString(f(i))
		}
		return b.String()
	}
	return []struct{ name, src string }{
		{"nested-lists-one-line", rep("+ ") + "a"},
		{"nested-ordered-one-line", rep("1. ") + "a"},
		{"nested-mixed-bullets-one-line", rep("* - ") + "a"},
		{"nested-quotes", rep(">") + "a"},
		{"quotes-and-lists-one-line", rep("> + ") + "a"},
		{"list-in-quote-lines", rep("> - ")},
		{"indent-staircase", lines(func(i int) string { return strings.Repeat("  ", i%300) + "- a\n" })},
		{"empty-list-items", rep("-\n")},
		{"list-items", rep("- a\n")},
		{"task-items", rep("- [ ] a\n")},
		{"quote-lines", rep("> a\n")},
		{"headings", rep("# a\n")},
		{"code-fences", rep("```\n")},
		{"emphasis-open", rep("*a")},
		{"emphasis-mixed", rep("*_")},
		{"emphasis-mixed-lines", rep("*~\n")},
		{"emphasis-kinds-never-matching", rep("_  ~")},
		{"strikethrough-open", rep("~a")},
		{"brackets-open", rep("[")},
		{"links", rep("[a](b) ")},
		{"link-dest-open", rep("[a](b")},
		{"link-angle-open", rep("[a](<")},
		{"link-open-lines", rep("[a](\n")},
		{"link-title-open", rep("[a](b \"")},
		{"images-open", rep("![")},
		{"escaped-backticks-lines", rep("\\```2)\n")},
		{"backtick-runs", lines(func(i int) string { return strings.Repeat("`", i%50+1) + "a" })},
		{"table-rows", "|a|b|\n|-|-|\n" + rep("|a|b|\n")},
		{"table-wide-header", strings.Repeat("|a", n/8) + "|\n" + strings.Repeat("|-", n/8) + "|\n" + strings.Repeat("|\n", n/4)},
		{"link-definitions", lines(func(i int) string { return fmt.Sprintf("[r%d]: /u\n[r%d] ", i, i) })},
		{"autolinks", rep("www.a ")},
		{"html-tags", rep("<a>")},
		{"entities", rep("&amp;")},
		{"smart-quotes", rep("\"'")},
		{"quote-run", "a" + rep("\"")},
		{"apostrophe-run", "a" + rep("'")},
		{"tilde-run", "a" + rep("~")},
		{"hard-breaks", rep("a  \n")},
		{"prose", rep("The quick brown fox jumps over the lazy dog. ")},
	}
}

// BenchmarkHostileMarkdown renders each hostile shape at the largest
// body a post may have (100,000 characters) through Markdown.HTML, as the
// site does: shapes over the limits take the plain-text path. Memo off, so
// every iteration converts.
//
//	go test ./app/internal/render -run '^$' -bench HostileMarkdown -benchtime 3x
func BenchmarkHostileMarkdown(b *testing.B) {
	m := NewMarkdown(0, discardLog)
	for _, s := range hostileShapes(tenantdb.MaxMarkdownChars) {
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(int64(len(s.src)))
			for b.Loop() {
				m.HTML(s.src)
			}
		})
	}
}

// BenchmarkHostileMarkdownUnbounded is what the same shapes cost goldmark
// and the sanitiser without the budget, at 25,000, 50,000 and 100,000
// bytes, to show which grow faster than their length. Run one size at a
// time with -benchtime 1x ('HostileMarkdownUnbounded/100000' takes a
// minute). table-wide-header runs only at 4,000 bytes: its cells grow
// with the square of its length, and at 12,500 bytes it took 1.4 GB.
func BenchmarkHostileMarkdownUnbounded(b *testing.B) {
	for _, n := range []int{4000, 25000, 50000, 100000} {
		for _, s := range hostileShapes(n) {
			if (s.name == "table-wide-header") != (n == 4000) {
				continue
			}
			b.Run(fmt.Sprintf("%d/%s", n, s.name), func(b *testing.B) {
				b.SetBytes(int64(len(s.src)))
				var buf bytes.Buffer
				for b.Loop() {
					buf.Reset()
					if err := md.Convert([]byte(s.src), &buf); err != nil {
						b.Fatal(err)
					}
					sanitizer.SanitizeBytes(buf.Bytes())
				}
			})
		}
	}
}

// TestMarkdownOverBudgetIsPlainText shows text the limits refuse as
// escaped paragraphs instead of parsing it: nothing in it becomes markup
// (the script stays text), whatever its shape.
func TestMarkdownOverBudgetIsPlainText(t *testing.T) {
	m := NewMarkdown(1<<20, discardLog)
	deep := strings.Repeat("+ ", 30) + "a"
	src := "<script>alert(1)</script> & **bold**\n\n" + deep + "\r\n\r\n\n[x](javascript:alert(1))"
	want := "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; **bold**</p>\n<p>" + deep + "</p>\n<p>[x](javascript:alert(1))</p>\n"
	if got := string(m.HTML(src)); got != want {
		t.Errorf("HTML(over budget) = %q, want %q", got, want)
	}
	for _, s := range hostileShapes(tenantdb.MaxMarkdownChars) {
		if tenantdb.CheckMarkdown("body", s.src, tenantdb.MaxMarkdownChars) == nil {
			continue
		}
		if got := string(m.HTML(s.src)); got != string(plainText(s.src)) {
			t.Errorf("%s: not shown as plain text: %.80q", s.name, got)
		}
	}
	long := strings.Repeat("a", tenantdb.MaxMarkdownChars+10)
	if got := string(m.HTML(long)); got != "<p>"+long[:tenantdb.MaxMarkdownChars]+"</p>\n<p>…</p>\n" {
		t.Errorf("HTML(too long) = %.40q... of %d bytes, want it cut at the limit", got, len(got))
	}
}

// TestMarkdownWithinLimitsIsMarkdown renders text at the limits as
// markdown, not as plain text.
func TestMarkdownWithinLimitsIsMarkdown(t *testing.T) {
	m := NewMarkdown(0, discardLog)
	src := strings.Repeat("> ", 10) + strings.Repeat("- ", 10) + "*deep*"
	got := string(m.HTML(src))
	if strings.Count(got, "<blockquote>") != 10 || strings.Count(got, "<ul>") != 10 || !strings.Contains(got, "<em>deep</em>") {
		t.Errorf("HTML(%q) = %q, want 10 quotes, 10 lists and emphasis", src, got)
	}
}

// TestMarkdownRemembersLargestResults converts a text within the limits
// once, however large its HTML (50,000 empty list items make half a
// megabyte), and keeps what is used again while other texts come and go.
func TestMarkdownRemembersLargestResults(t *testing.T) {
	var conversions atomic.Int64
	m := NewMarkdown(10<<20, discardLog)
	m.Observe(func(context.Context) { conversions.Add(1) })
	big := strings.Repeat("-\n", tenantdb.MaxMarkdownChars/2)
	if err := tenantdb.CheckMarkdown("body", big, tenantdb.MaxMarkdownChars); err != nil {
		t.Fatal(err)
	}
	// The memo used to keep entries up to a 16th of its budget, its key
	// (the text) included.
	if n := len(m.HTML(big)) + len(big); n < (10<<20)*4/5/16 {
		t.Fatalf("the big text and its HTML are %d bytes, want more than the old memo kept", n)
	}
	m.HTML(big)
	m.Summary(big, 160)
	if n := conversions.Load(); n != 1 {
		t.Errorf("the big text was converted %d times, want 1", n)
	}
	// Many other texts, the big one used again between them: it stays.
	for i := range 200 {
		m.HTML(fmt.Sprintf("post %d %s", i, strings.Repeat("x", 20000)))
		m.HTML(big)
	}
	if n := conversions.Load(); n != 201 {
		t.Errorf("%d conversions, want 201 (the big text once, each other text once)", n)
	}
}

// TestMarkdownContextDone converts nothing once the context is done.
func TestMarkdownContextDone(t *testing.T) {
	m := NewMarkdown(1<<20, discardLog)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if h, err := m.HTMLContext(ctx, "*a*"); err == nil || h != "" {
		t.Errorf("HTMLContext(done) = %q, %v, want an error", h, err)
	}
	if s, err := m.SummaryContext(ctx, "*a*", 10); err == nil || s != "" {
		t.Errorf("SummaryContext(done) = %q, %v, want an error", s, err)
	}
}

// BenchmarkSearchHostileMarkdown looks for shapes the limits miss: each
// iteration times one random pattern of markdown syntax (1 to 4 lines of
// 1 to 6 tokens, some repeated up to 30 times), repeated to 20,000
// characters, if tenantdb.CheckMarkdown accepts it; at the end it logs
// the slowest, timed again at 80,000 characters. One that takes far more
// than 4 times as long there grows faster than its length: a class to
// bound. Each -benchtime iteration is one pattern (seeded, so a run can
// be repeated):
//
//	go test ./app/internal/render -run '^$' -bench SearchHostileMarkdown -benchtime 30000x
func BenchmarkSearchHostileMarkdown(b *testing.B) {
	toks := []string{"-", "+", "*", "_", ">", "[", "]", "(", ")", "<", "!", "`", "~", "|", ":", "#", "1.", "2)", " ",
		"  ", "    ", "\t", "a", "&", "\"", "'", "\\", "=", "www.", "http://", "@", "x.org", "[^", "<!--", "-->", "<div>",
		"```", "~~~", "[ ]", "[x]", "](", "![", "]:", "**", "__", "~~", "<b>", "</b>", "[a]", "(b)", "|-|", "1. ", "- ",
		"> ", "***", "&amp;", "&#", "{", "}", "<http://a.b>", "<a@b.c>", "$", "^", "'s"}
	r := rand.New(rand.NewSource(1))
	pattern := func() string {
		var p strings.Builder
		for range 1 + r.Intn(4) {
			for range 1 + r.Intn(6) {
				tok := toks[r.Intn(len(toks))]
				if r.Intn(5) == 0 {
					tok = strings.Repeat(tok, 2+r.Intn(30))
				}
				p.WriteString(tok)
			}
			if r.Intn(3) > 0 {
				p.WriteString("\n")
			}
		}
		return p.String()
	}
	convert := func(src string) time.Duration {
		start := time.Now()
		var buf bytes.Buffer
		if err := md.Convert([]byte(src), &buf); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	type found struct {
		d   time.Duration
		pat string
	}
	var slow []found
	for b.Loop() {
		pat := pattern()
		src := strings.Repeat(pat, 20000/len(pat)+1)
		if tenantdb.CheckMarkdown("body", src, tenantdb.MaxMarkdownChars) == nil {
			slow = append(slow, found{convert(src), pat})
		}
	}
	b.StopTimer()
	sort.Slice(slow, func(i, j int) bool { return slow[i].d > slow[j].d })
	for _, f := range slow[:min(10, len(slow))] {
		src := strings.Repeat(f.pat, 80000/len(f.pat)+1)
		if tenantdb.CheckMarkdown("body", src, tenantdb.MaxMarkdownChars) != nil {
			b.Logf("%q: %v at 20,000 characters; refused at 80,000", f.pat, f.d)
			continue
		}
		b.Logf("%q: %v at 20,000 characters, %v at 80,000", f.pat, f.d, convert(src))
	}
}
