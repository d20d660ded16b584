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
	// renderer scan: for every "](" on a line, the rest of that line and
	// the next.
	MaxLinkScan = 10_000_000
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
	cells, scan := 0, 0
	tableCols := 0 // columns of the table being read (0: none)
	lineNo := 0
	for rest := src; rest != ""; {
		line, next, _ := strings.Cut(rest, "\n")
		rest = next
		lineNo++
		depth, content := markdownPrefix(line)
		if depth > MaxMarkdownDepth {
			return invalid(field, "nests lists, quotes or indentation %d levels deep on line %d; at most %d levels are allowed",
				depth, lineNo, MaxMarkdownDepth)
		}
		if strings.TrimSpace(line) == "" {
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
		if n := strings.Count(line, "]("); n > 0 {
			nextLine, _, _ := strings.Cut(rest, "\n")
			scan += n * (len(line) + len(nextLine))
			if scan > MaxLinkScan {
				return invalid(field, "has too many links on long lines (line %d has %d); start a new line between links",
					lineNo, n)
			}
		}
	}
	return nil
}

// markdownPrefix is how deeply line nests (its container markers and a
// level per 4 columns of its indentation, not counting the one space
// after each marker) and what follows them. It counts
// generously: a marker that goldmark would read as text still counts.
// A thematic break ("* * *", "- - -") nests nothing.
func markdownPrefix(line string) (depth int, content string) {
	if strings.Trim(line, " \t-*_") == "" {
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

func nesting(markers, cols int) int { return markers + max(cols-markers, 0)/4 }

// tableDelimiterColumns is the number of columns of s if it could be the
// delimiter row of a table ("|---|:--:|"), else 0.
func tableDelimiterColumns(s string) int {
	if strings.Trim(s, "|-: \t") != "" || !strings.Contains(s, "-") {
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
