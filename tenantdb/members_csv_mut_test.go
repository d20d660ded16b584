package tenantdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestMembersCSVRoundTripsAndDefusesFormulas: a roster written and read
// back is the same roster; no cell of the file starts with a character a
// spreadsheet takes for a formula, and a value that merely starts with a
// quote keeps it.
func TestMembersCSVRoundTripsAndDefusesFormulas(t *testing.T) {
	ms := []Member{
		{Email: "ann@example.org", Name: "=HYPERLINK(\"http://evil\")", Phone: "+1 555 0100", Address: "-12 Main St",
			Qualification: "@chapter", Status: MemberActive, RenewalDate: "2027-01-31"},
		{Email: "bob@example.org", Name: "'Bob' Jones", Phone: "", Address: "'=not stripped twice", Status: MemberLapsed},
		{Email: "cy@example.org", Name: "C", Qualification: "x", Status: MemberInvited},
	}
	var buf bytes.Buffer
	must(t, WriteMembersCSV(&buf, ms))
	file := buf.String()
	for _, cell := range []string{`"'=HYPERLINK(""http://evil"")"`, ",'+1 555 0100,", ",'-12 Main St,", ",'@chapter,", ",''=not stripped twice,"} {
		if !strings.Contains(file, cell) {
			t.Errorf("the file lacks the cell %s:\n%s", cell, file)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(file), "\n") {
		for _, cell := range strings.Split(line, ",") {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("a cell a spreadsheet runs: %q", cell)
			}
		}
	}
	rows, err := ParseMembersCSV(strings.NewReader(file))
	must(t, err)
	if len(rows) != len(ms) {
		t.Fatalf("%d rows read back, want %d", len(rows), len(ms))
	}
	for i, r := range rows {
		if r.Member != ms[i] || r.Line != i+2 || strings.Join(r.Columns, ",") != strings.Join(MemberCSVColumns, ",") {
			t.Errorf("row %d: %+v, want %+v at line %d", i, r, ms[i], i+2)
		}
	}
	if got := unSpreadsheet("'"); got != "'" {
		t.Errorf("a lone quote: %q", got)
	}
	if got := unSpreadsheet("'x"); got != "'x" {
		t.Errorf("a quote before a plain character: %q", got)
	}
}

// csvErr parses file and returns its *CSVError, failing the test if it
// parsed.
func csvErr(t *testing.T, file string) *CSVError {
	t.Helper()
	rows, err := ParseMembersCSV(strings.NewReader(file))
	var ce *CSVError
	if !errors.As(err, &ce) || rows != nil {
		t.Fatalf("%.80q: %d rows, %v; want a CSVError", file, len(rows), err)
	}
	return ce
}

// TestParseMembersCSVNamesEveryBadLine: a bad header, a bad line, a
// repeated email in any case: the whole file is refused with each bad
// line and field named, the first 50 shown and the rest counted.
func TestParseMembersCSVNamesEveryBadLine(t *testing.T) {
	for file, want := range map[string]string{
		"":                              "line 1: the file is empty",
		"email,name,colour\n":           "line 1, colour: is not a column",
		"email,name,Name\n":             "line 1, name: is named twice",
		"email,phone\n":                 "line 1, name: the column is required",
		"name\n":                        "line 1, email: the column is required",
		"\ufeffEmail , NAME\na@b.org,A": "",
		"email,name\n\"a@b.org,A\n":     "line 2: ",
	} {
		rows, err := ParseMembersCSV(strings.NewReader(file))
		if want == "" {
			if err != nil || len(rows) != 1 || rows[0].Member.Email != "a@b.org" {
				t.Errorf("%q: %+v %v, want one member", file, rows, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", file, err, want)
		}
	}
	ce := csvErr(t, "email,name,status\n"+
		"a@b.org,Ann,active\n"+ // line 2: fine
		"b@b.org,Bob\n"+ // 3: too few fields
		"c@b.org,Cy,retired\n"+ // 4: status
		"A@B.ORG,Ann again,active\n"+ // 5: repeats line 2
		"not an email,Dee,active\n"+ // 6: email
		"e@b.org,Eve,lapsed\n") // 7: fine
	want := []string{"line 3: has 2 fields, the header 3", "line 4, status:", "line 5, email: A@B.ORG is also on line 2", "line 6, email:"}
	if ce.Total != len(want) || len(ce.Rows) != len(want) {
		t.Fatalf("%d bad lines (%d shown): %v; want %d", ce.Total, len(ce.Rows), ce, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(ce.Rows[i].String(), w) {
			t.Errorf("bad line %d: %q, want %q", i, ce.Rows[i].String(), w)
		}
	}
	if msg := ce.Error(); !strings.HasPrefix(msg, "the file has 4 bad line(s), nothing was imported: line 3") || strings.Contains(msg, "more") {
		t.Errorf("message: %q", msg)
	}

	var many strings.Builder
	many.WriteString("email,name\n")
	for i := range 51 {
		fmt.Fprintf(&many, "bad%d,Name\n", i)
	}
	ce = csvErr(t, many.String())
	if ce.Total != 51 || len(ce.Rows) != maxCSVErrorsShown || !strings.Contains(ce.Error(), "51 bad line(s), nothing was imported (and 1 more): line 2, email") {
		t.Errorf("51 bad lines: total %d, shown %d: %.120s", ce.Total, len(ce.Rows), ce.Error())
	}
	many.Reset()
	many.WriteString("email,name\n")
	for i := range 50 {
		fmt.Fprintf(&many, "bad%d,Name\n", i)
	}
	if ce = csvErr(t, many.String()); ce.Total != 50 || len(ce.Rows) != 50 || strings.Contains(ce.Error(), "more") {
		t.Errorf("50 bad lines: total %d, shown %d", ce.Total, len(ce.Rows))
	}
}

// TestParseMembersCSVTakesExactlyTheRowLimit: a roster of
// MaxMemberCSVRows members is read; one more is refused, naming the limit.
func TestParseMembersCSVTakesExactlyTheRowLimit(t *testing.T) {
	roster := func(n int) string {
		var b strings.Builder
		b.WriteString("email,name\n")
		for i := range n {
			fmt.Fprintf(&b, "m%d@example.org,M\n", i)
		}
		return b.String()
	}
	rows, err := ParseMembersCSV(strings.NewReader(roster(MaxMemberCSVRows)))
	if err != nil || len(rows) != MaxMemberCSVRows {
		t.Fatalf("%d members: %d rows, %v", MaxMemberCSVRows, len(rows), err)
	}
	ce := csvErr(t, roster(MaxMemberCSVRows+1))
	if ce.Total != 1 || ce.Rows[0].Line != MaxMemberCSVRows+2 || !strings.Contains(ce.Rows[0].Message, "more than 20000 members") {
		t.Errorf("one over: %v", ce)
	}
}

// TestImportMembersUpdatesOnlyTheColumnsGiven: a known email (in any
// case) updates that member with the file's columns and keeps the rest;
// an unknown one is added, active unless the file says otherwise; the
// counts say which.
func TestImportMembersUpdatesOnlyTheColumnsGiven(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	ann := &Member{Email: "ann@example.org", Name: "Ann", Phone: "555 0100", Address: "1 Main St", Status: MemberLapsed}
	must(t, db.SaveMember(ctx, ann))
	rows, err := ParseMembersCSV(strings.NewReader("name,email\nAnn Lee,ann@example.org\nBob,bob@example.org\n"))
	must(t, err)
	added, updated, err := db.ImportMembers(ctx, rows)
	if err != nil || added != 1 || updated != 1 {
		t.Fatalf("added %d, updated %d, %v; want 1, 1", added, updated, err)
	}
	got, err := db.MemberByEmail(ctx, "ann@example.org")
	must(t, err)
	if got.Name != "Ann Lee" || got.Phone != "555 0100" || got.Address != "1 Main St" || got.Status != MemberLapsed {
		t.Errorf("ann after the import: %+v", got)
	}
	bob, err := db.MemberByEmail(ctx, "bob@example.org")
	if err != nil || bob.Name != "Bob" || bob.Status != MemberActive {
		t.Errorf("bob: %+v %v", bob, err)
	}
	rows, err = ParseMembersCSV(strings.NewReader(strings.Join(MemberCSVColumns, ",") +
		"\nann@example.org,Ann,,,,resigned,2027-02-01\ncy@example.org,Cy,1,2,3,invited,\n"))
	must(t, err)
	added, updated, err = db.ImportMembers(ctx, rows)
	if err != nil || added != 1 || updated != 1 {
		t.Fatalf("second import: added %d, updated %d, %v", added, updated, err)
	}
	got, _ = db.MemberByEmail(ctx, "ann@example.org")
	if got.Phone != "" || got.Address != "" || got.Status != MemberResigned || got.RenewalDate != "2027-02-01" {
		t.Errorf("ann after an import of every column: %+v", got)
	}
	cy, _ := db.MemberByEmail(ctx, "cy@example.org")
	if cy.Phone != "1" || cy.Address != "2" || cy.Qualification != "3" || cy.Status != MemberInvited {
		t.Errorf("cy: %+v", cy)
	}
}
