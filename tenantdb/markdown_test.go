package tenantdb

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestMarkdownShapeLimits refuses markdown whose shape would make it cost
// far more to render than its length (deep nesting, huge tables, long runs
// of links on a line) on the field it is in, for every markdown field of
// posts, pages, events and the site, and lets through what real chapter
// posts look like, up to each limit.
func TestMarkdownShapeLimits(t *testing.T) {
	r := strings.Repeat
	table := func(cols, rows int) string {
		row := r("| a ", cols) + "|\n"
		return row + r("|---", cols) + "|\n" + r(row, rows)
	}
	shapes := []struct {
		name, src string
		ok        bool
	}{
		{"a real post", "# Fish fry\n\n**All welcome**, see [the menu](/p/menu).\n\n- fish\n- chips\n  1. large\n  2. small\n\n> quoted\n> > twice\n", true},
		{"lists and quotes at the depth limit", r("> ", 10) + r("- ", 10) + "a\n", true},
		{"lists and quotes past the depth limit", r("> ", 10) + r("- ", 11) + "a\n", false},
		{"list markers on one line", r("+ ", 50000), false},
		{"ordered markers on one line", r("1. ", 30000), false},
		{"nested quotes", r(">", 21), false},
		{"indentation at the depth limit", r("    ", 20) + "code\n", true},
		{"indentation past the depth limit", r("    ", 20) + " - a\n", false},
		{"indentation inside a quote past the depth limit", "> " + r("    ", 20) + "- a\n", false},
		{"a long thematic break", r("- ", 40) + "\n", true},
		{"a long thematic break of stars", r("* ", 40) + "\n", true},
		{"mixed bullets on one line", r("* - ", 20) + "\n", false},
		{"a run of 1000 quotes", "a" + r(`"`, 1000), true},
		{"a run of 1001 quotes", "a" + r(`"`, 1001), false},
		{"many runs of 40 tildes", r(r("~", 40)+"\n", 600), true},
		{"many runs of 40 apostrophes", r(r("'", 40)+"\n", 700), false},
		{"quotes alternating", r(`"'`, 40000), true},
		{"code spans", r("Run `make` and `go test`, or ``a ` b``. ", 2000), true},
		{"one stray backtick in each paragraph", r("It's ` here.\n"+r("a ", 4000)+"\n\n", 12), true},
		{"escaped backticks before runs", r("\\```2)\n", 5000), false},
		{"backticks that start no code span", func() string {
			var b strings.Builder
			for k := 1; k <= 400; k++ {
				b.WriteString(r("`", k) + " a\n")
			}
			return b.String()
		}(), false},
		{"a table at the cell limit", table(10, 998), true},
		{"a table past the cell limit", table(10, 999), false},
		{"a wide header over many short rows", table(2500, 0) + r("|\n", 10), false},
		{"two tables under the limit each, over it together", table(10, 600) + "\n" + table(10, 600), false},
		{"many links, one a line", r("[a](b)\n", 10000), true},
		{"many links on one line", r("[a](b) ", 14000), true},
		{"400 links on one line, no spaces", r("[a](https://example.org/a)", 400), true},
		{"many unclosed links on one line", r("[a](b", 20000), false},
		{"unclosed links ending lines", r("[a](\n", 20000), false},
		{"a link a line, 3000 lines", r("- [a](https://example.org/a)\n", 3000), true},
		{"unclosed links in paragraphs of 100 lines", r(r("[a](\n", 100)+"\n", 190), true},
		{"brackets in one paragraph", r("[a]\n", 20000), false},
		{"a long task list", r("- [ ] a\n", 12000), true},
		{"mixed emphasis marks over many lines", r("*~\n", 3000), false},
		{"emphasis in paragraphs of 50 lines", r(r("Some *emphasis* and __strong__ words ~here~.\n", 50)+"\n", 40), true},
		{"emphasis on one long line", r("*a* _b_ ", 1000), true},
		{"mixed marks that never match, one line", r("_  ~", 2500), false},
		{"mixed marks that never match in paragraphs", r(r("_  ~", 1000)+"\n\n", 20), true},
		{"brackets in lines that continue a paragraph", "a\n" + r("    - [a]\n", 9000), false},
		{"brackets in items that continue a paragraph", "a\n" + r("2. [a]\n", 12000), false},
		{"brackets in quoted items", r("> - [a]\n", 12000), true},
		{"a dash a line", r("-\n", 50000), true},
		{"many rows after a dash", "a\n-\n" + r("|a|\n", 20000), true},
		{"many unclosed angle links on one line", r("[a](<", 20000), false},
		{"many unclosed angle links between spaces", r("[a](< ", 16000), false},
	}
	fields := []struct {
		name  string
		max   int
		check func(md string) error
	}{
		{"body", MaxMarkdownChars, func(md string) error { p := Post{Title: "News", Body: md}; return p.Validate() }},
		{"body", MaxMarkdownChars, func(md string) error { p := Page{Title: "History", Body: md}; return p.Validate() }},
		{"description", 20000, func(md string) error {
			start := time.Date(2026, 6, 9, 19, 0, 0, 0, time.UTC)
			e := Event{Title: "Meeting", StartsAt: start, EndsAt: start, Timezone: "UTC", Description: md}
			return e.Validate()
		}},
		{"about", 20000, func(md string) error {
			s := Site{Name: "Post 42", AccentColor: DefaultAccent, Timezone: "UTC", About: md}
			return s.Validate()
		}},
		{"meeting_info", 5000, func(md string) error {
			s := Site{Name: "Post 42", AccentColor: DefaultAccent, Timezone: "UTC", MeetingInfo: md}
			return s.Validate()
		}},
		{"membership_info", 10000, func(md string) error {
			s := Site{Name: "Post 42", AccentColor: DefaultAccent, Timezone: "UTC", MembershipInfo: md}
			return s.Validate()
		}},
	}
	for _, s := range shapes {
		for _, f := range fields {
			if len(s.src) > f.max {
				continue // refused for its length alone
			}
			err := f.check(s.src)
			if s.ok && err != nil {
				t.Errorf("%s as %s: %v, want it accepted", s.name, f.name, err)
			}
			var v *ValidationError
			if !s.ok && (!errors.As(err, &v) || v.Field != f.name) {
				t.Errorf("%s as %s: %v, want a refusal on %q", s.name, f.name, err, f.name)
			}
		}
		if err := CheckMarkdown("body", s.src, MaxMarkdownChars); (err == nil) != s.ok {
			t.Errorf("CheckMarkdown(%s) = %v, want ok %v", s.name, err, s.ok)
		}
	}
}

// TestMarkdownShapeMessages says which limit a refusal is for, and where.
func TestMarkdownShapeMessages(t *testing.T) {
	for src, want := range map[string]string{
		"a\n" + strings.Repeat("> ", 25) + "x":         "25 levels deep on line 2; at most 20",
		"|a|\n|-|\n" + strings.Repeat("|a|\n", 20000):  "more than 10000 cells",
		strings.Repeat("[a](b", 20000):                 "too many links that do not close on long lines (line 1 has 20000",
		"a\n\n" + strings.Repeat("_ *", 3000):          "mixes too many emphasis marks (3000 *, 3000 _ and 0 ~ on lines 3 to 3);",
		"a\n\nb\n" + strings.Repeat("\\```2)\n", 5000): "backticks (`) that start no code span in the paragraph from line 3;",
		"a\n~\n" + strings.Repeat("~", 2000):           `repeats '~' too many times in a row (2000 on line 3;`,
		"a\n\n" + strings.Repeat("]\n", 5000):          "too many brackets ] that end no link (5000 in the paragraph of lines 3 to 5002)",
	} {
		err := CheckMarkdown("body", src, MaxMarkdownChars)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "body: ") {
			t.Errorf("CheckMarkdown(%.20q...) = %v, want %q", src, err, want)
		}
	}
}
