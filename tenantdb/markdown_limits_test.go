package tenantdb

import (
	"strings"
	"testing"
)

// TestMarkdownLimitsAreInclusive checks two of the markdown shape limits
// at exactly their value (accepted) and one past it (refused, naming the
// limit): the cells of tables (100 columns: the header and delimiter
// rows count 200, each body row 100) and the unlinked closing brackets of
// a paragraph times its lines (1,000 lines of 10).
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
