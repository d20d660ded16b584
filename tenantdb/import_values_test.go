package tenantdb

import (
	"strings"
	"testing"
)

// TestCheckValueMatchesTheColumnsType checks each storage class against
// each declared column type: a value is accepted only in a column of its
// own type (or one declared without a type, or as NULL), and text must be
// valid UTF-8 wherever it is.
func TestCheckValueMatchesTheColumnsType(t *testing.T) {
	values := map[string]any{"TEXT": "text", "INTEGER": int64(7), "REAL": 1.5, "BLOB": []byte{0, 1}}
	for _, declared := range []string{"TEXT", "INTEGER", "REAL", "BLOB", ""} {
		for class, v := range values {
			err := checkValue(declared, v)
			if ok := class == declared || declared == ""; ok != (err == nil) {
				t.Errorf("checkValue(%q, a %s value) = %v, want accepted %v", declared, class, err, ok)
			}
			if err != nil && !strings.Contains(err.Error(), "column") {
				t.Errorf("checkValue(%q, a %s value): %q does not name the column's type", declared, class, err)
			}
		}
		if err := checkValue(declared, nil); err != nil {
			t.Errorf("checkValue(%q, NULL) = %v", declared, err)
		}
	}
	for _, declared := range []string{"TEXT", ""} {
		if err := checkValue(declared, "\xff"); err == nil || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("checkValue(%q, invalid UTF-8) = %v", declared, err)
		}
	}
	if err := checkValue("TEXT", true); err == nil {
		t.Errorf("checkValue of a bool was accepted")
	}
}
