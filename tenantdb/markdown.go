package tenantdb

import "strings"

// Limits on the shape of markdown, beyond its length. goldmark renders
// most markdown in time linear in its length, but not all of it: nesting
// costs time in proportion to the depth of the open lists and quotes on
// every line, a failed inline link scans to the end of its line, and a
// table's rows are padded to its header's width. docs/security.md
// ("Rendering cost") has the figures; each limit is far above what a
// chapter's post needs and far below where the cost shows.
const (
	// MaxMarkdownChars is the longest markdown field (a post's or a
	// page's body); the renderer will not parse anything longer.
	MaxMarkdownChars = 100000
	// MaxMarkdownDepth is how deeply a line may nest lists and quotes:
	// each marker (>, -, +, *, 1.) at the start of a line is a level, and
	// so is every 4 columns of its indentation.
	MaxMarkdownDepth = 20
	// MaxTableCells bounds the cells of all tables (columns × rows).
	MaxTableCells = 10000
	// MaxLinkScan bounds the characters that links' targets may make the
	// renderer scan (see linkScan).
	MaxLinkScan = 10_000_000
	// MaxRunSquares bounds the sum of the squares of the lengths of the
	// runs of double quotes, of apostrophes and of tildes: goldmark's
	// smart quotes and strikethrough take time in the square of a run.
	MaxRunSquares = 1_000_000
	// MaxCodeSpanScan bounds the characters goldmark may scan for the
	// ends of code spans (see codeSpanScan).
	MaxCodeSpanScan = 4_000_000
	// MaxBracketLines bounds the closing brackets of each paragraph that
	// are not inline links, times its lines: for each, goldmark reads the
	// text before it by walking back over the lines of its paragraph.
	MaxBracketLines = 10_000_000
	// MaxEmphasisPairs bounds, in each paragraph, the pairs of runs of
	// emphasis marks of different kinds (*, _, ~): a mark that may close
	// looks back past every unmatched mark of the other kinds
	// ("_  ~" 20,000 times, 1.5 s).
	MaxEmphasisPairs = 4_000_000
)

// CheckMarkdown checks markdown field src against the limits on its
// length (maxChars) and shape, in one pass over it; the error says which
// limit and where. The renderer runs the same check before parsing, so
// that text stored before these limits (or written to the file by other
// means) is shown as plain text instead of being parsed at any cost.
func CheckMarkdown(field, src string, maxChars int) error {
	if err := checkLen(field, src, 0, maxChars); err != nil {
		return err
	}
	if err := checkRuns(field, src); err != nil {
		return err
	}
	if n, line := codeSpanScan(src); n > MaxCodeSpanScan {
		return invalid(field, "has too many backticks (`) that start no code span in the paragraph from line %d; close each code span, or put blank lines between paragraphs",
			line)
	}
	cells, scan, bracketLines := 0, 0, 0
	tableCols := 0 // columns of the table being read (0: none)
	lineNo := 0
	// The paragraph being read: its first line, its lines, its ']'s. A
	// paragraph here is a run of lines that are not blank, broken where a
	// list item surely starts (bullets that have text, "1."), which holds
	// goldmark's paragraphs.
	paraStart, paraLines, paraBrackets := 0, 0, 0
	var paraEmphasis [3]int // runs of *, _ and ~
	endParagraph := func() error {
		e := paraEmphasis
		if pairs := e[0]*e[1] + e[1]*e[2] + e[2]*e[0]; pairs > MaxEmphasisPairs {
			return invalid(field, "mixes too many emphasis marks (%d *, %d _ and %d ~ on lines %d to %d); put blank lines between paragraphs",
				e[0], e[1], e[2], paraStart, paraStart+paraLines-1)
		}
		paraEmphasis = [3]int{}
		bracketLines += paraBrackets * paraLines
		if bracketLines > MaxBracketLines {
			return invalid(field, "has too many brackets ] that end no link (%d in the paragraph of lines %d to %d); put blank lines between paragraphs",
				paraBrackets, paraStart, paraStart+paraLines-1)
		}
		paraLines, paraBrackets = 0, 0
		return nil
	}
	for rest := src; rest != ""; {
		line, next, _ := strings.Cut(rest, "\n")
		rest = next
		lineNo++
		depth, content := markdownPrefix(line)
		if depth > MaxMarkdownDepth {
			return invalid(field, "nests lists, quotes or indentation %d levels deep on line %d; at most %d levels are allowed",
				depth, lineNo, MaxMarkdownDepth)
		}
		blank := strings.TrimSpace(line) == ""
		if blank {
			if err := endParagraph(); err != nil {
				return err
			}
		} else {
			if startsListItem(line) {
				if err := endParagraph(); err != nil {
					return err
				}
			}
			if paraLines == 0 {
				paraStart = lineNo
			}
			paraLines++
			paraBrackets += openBrackets(line)
			emphasisRuns(line, &paraEmphasis)
		}
		if blank {
			tableCols = 0
		} else if tableCols > 0 {
			cells += tableCols
		} else if cols := tableDelimiterColumns(content); cols > 0 {
			tableCols = cols
			cells += 2 * cols // the header and this row
		}
		if cells > MaxTableCells {
			return invalid(field, "has tables of more than %d cells in all (columns × rows, counted up to line %d)",
				MaxTableCells, lineNo)
		}
		if strings.Contains(line, "](") {
			nextLine, _, _ := strings.Cut(rest, "\n")
			scan += linkScan(line, nextLine)
			if scan > MaxLinkScan {
				return invalid(field, "has too many links that do not close on long lines (line %d has %d \"](\"); start a new line between links",
					lineNo, strings.Count(line, "]("))
			}
		}
	}
	return endParagraph()
}

// markdownPrefix is how deeply line nests (its container markers and a
// level per 4 columns of its indentation, not counting the one space
// after each marker) and what follows them. It counts
// generously: a marker that goldmark would read as text still counts.
// A thematic break ("* * *", "- - -") nests nothing.
func markdownPrefix(line string) (depth int, content string) {
	if thematicBreak(line) {
		return 0, line
	}
	cols, i := 0, 0
	space := func(j int) bool { return j == len(line) || line[j] == ' ' || line[j] == '\t' }
	for i < len(line) {
		switch c := line[i]; {
		case c == ' ':
			cols++
		case c == '\t':
			cols += 4
		case c == '>':
			depth++
		case (c == '-' || c == '+' || c == '*') && space(i+1):
			depth++
		case c >= '0' && c <= '9':
			j := i
			for j < len(line) && j-i < 10 && line[j] >= '0' && line[j] <= '9' {
				j++
			}
			if j == len(line) || (line[j] != '.' && line[j] != ')') || !space(j+1) {
				return nesting(depth, cols), line[i:]
			}
			depth++
			i = j
		default:
			return nesting(depth, cols), line[i:]
		}
		i++
	}
	return nesting(depth, cols), ""
}

// thematicBreak says whether line is a thematic break: three or more of
// one of '-', '*', '_', and spaces. ("* - * -" is lists, nested.)
func thematicBreak(line string) bool {
	s := strings.TrimLeft(line, " \t")
	if s == "" || strings.IndexByte("-*_", s[0]) < 0 {
		return false
	}
	rest := strings.Trim(s, " \t"+s[:1])
	return rest == "" && strings.Count(s, s[:1]) >= 3
}

func nesting(markers, cols int) int { return markers + max(cols-markers, 0)/4 }

// tableDelimiterColumns is the number of columns of s if it could be the
// delimiter row of a table ("|---|:--:|"), else 0. A row of dashes alone
// is a thematic break, a heading's underline or a list item instead.
func tableDelimiterColumns(s string) int {
	if strings.Trim(s, "|-: \t") != "" || !strings.Contains(s, "-") || !strings.ContainsAny(s, "|:") {
		return 0
	}
	cols := 0
	for cell := range strings.SplitSeq(s, "|") {
		if strings.Contains(cell, "-") {
			cols++
		}
	}
	return cols
}

// linkScan bounds the characters goldmark scans for the targets of the
// inline links on line ("[text](target"): a target ends at whitespace,
// or at '>' when it starts with '<', or starts on the next line when the
// line ends with "](". So each "](" counts the word it is in, a "](" in
// a stretch of line without '>' that has a '<' in it counts that stretch,
// and a line ending in "](" counts the next line.
func linkScan(line, next string) int {
	n := 0
	for word := range strings.FieldsSeq(line) {
		n += strings.Count(word, "](") * len(word)
	}
	for part := range strings.SplitSeq(line, ">") {
		if strings.Contains(part, "<") {
			n += strings.Count(part, "](") * len(part)
		}
	}
	if strings.HasSuffix(strings.TrimRight(line, " \t"), "](") {
		n += len(next)
	}
	return n
}

// openBrackets counts the ']' on line that are not the end of the text of
// an inline link, "[text](target)", closed in the same word.
func openBrackets(line string) int {
	n := strings.Count(line, "]")
	if !strings.Contains(line, "](") {
		return n
	}
	for word := range strings.FieldsSeq(line) {
		if end := strings.LastIndexByte(word, ')'); end > 0 {
			n -= strings.Count(word[:end], "](")
		}
	}
	return n
}

// startsListItem says whether line surely starts a list item, and so a
// new paragraph: after any quote markers, at most 3 spaces, then a bullet
// (-, +, *) or "1." or "1)", a space, and text. (A list item without
// text, another number, or a marker indented further may continue the
// paragraph before it instead.)
func startsListItem(line string) bool {
	for {
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if indent > 3 {
			return false
		}
		line = line[indent:]
		if !strings.HasPrefix(line, ">") {
			break
		}
		line = line[1:]
	}
	switch {
	case len(line) > 0 && strings.IndexByte("-+*", line[0]) >= 0:
		line = line[1:]
	case strings.HasPrefix(line, "1.") || strings.HasPrefix(line, "1)"):
		line = line[2:]
	default:
		return false
	}
	return (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && strings.TrimSpace(line) != ""
}

// checkRuns bounds the runs of double quotes, apostrophes and tildes by
// MaxRunSquares.
func checkRuns(field, src string) error {
	squares, lineNo := 0, 1
	for i := 0; i < len(src); {
		c := src[i]
		if c == '\n' {
			lineNo++
		}
		if c != '"' && c != '\'' && c != '~' {
			i++
			continue
		}
		j := i + 1
		for j < len(src) && src[j] == c {
			j++
		}
		if squares += (j - i) * (j - i); squares > MaxRunSquares {
			return invalid(field, "repeats %q too many times in a row (%d on line %d; at most %d in all, fewer in longer runs)",
				c, j-i, lineNo, MaxRunSquares)
		}
		i = j
	}
	return nil
}

// codeSpanScan bounds the work goldmark does looking for the ends of
// code spans: a run of backticks scans ahead for the next run of the same
// length in its paragraph (here: up to a blank line), or to the
// paragraph's end when there is none. Its cost is a character for each
// character it passes and lineCost for each line it crosses (measured: a
// line costs goldmark as much as 150 characters). A run after an odd
// number of backslashes also starts one backtick later, as an opener
// only: inside a code span a backslash escapes nothing, so "\```" ends
// only a run of 3. It returns the sum, and the first line of the
// paragraph where the sum passed MaxCodeSpanScan.
func codeSpanScan(src string) (n, line int) {
	const lineCost = 150
	type run struct {
		at, length int
		closes     bool // can end a code span (no escape applies inside one)
	}
	var runs []run
	var lines []int // lines[i]: newlines in para[:i]
	next := map[int]int{}
	lineNo := 1
	for para := range strings.SplitSeq(src, "\n\n") {
		if strings.Contains(para, "`") {
			runs, lines = runs[:0], lines[:0]
			nl := 0
			for i := 0; i <= len(para); i++ {
				lines = append(lines, nl)
				if i < len(para) && para[i] == '\n' {
					nl++
				}
			}
			for i := 0; i < len(para); i++ {
				if para[i] != '`' {
					continue
				}
				j := i
				for j < len(para) && para[j] == '`' {
					j++
				}
				runs = append(runs, run{i, j - i, true})
				b := i
				for b > 0 && para[b-1] == '\\' {
					b--
				}
				if (i-b)%2 == 1 && j-i > 1 {
					runs = append(runs, run{i + 1, j - i - 1, false})
				}
				i = j - 1
			}
			clear(next)
			for k := len(runs) - 1; k >= 0; k-- {
				r := runs[k]
				end, ok := next[r.length]
				if !ok {
					end = len(para)
				}
				n += end - r.at + lineCost*(lines[end]-lines[r.at])
				if r.closes {
					next[r.length] = r.at
				}
			}
			if n > MaxCodeSpanScan {
				return n, lineNo
			}
		}
		lineNo += strings.Count(para, "\n") + 2
	}
	return n, 0
}

// emphasisRuns adds the runs of '*', '_' and '~' on line to n.
func emphasisRuns(line string, n *[3]int) {
	for i := 0; i < len(line); i++ {
		if k := strings.IndexByte("*_~", line[i]); k >= 0 && (i == 0 || line[i-1] != line[i]) {
			n[k]++
		}
	}
}
