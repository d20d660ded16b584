package tenantdb

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// The roster as CSV: one member a line under a header row. An import
// matches members by email (in any case): a known email updates that
// member with the columns present, an unknown one adds a member. What a
// member chose for the directory is theirs and not in the file.
var MemberCSVColumns = []string{"email", "name", "phone", "address", "qualification", "status", "renewal_date"}

// Limits of an imported roster.
const (
	MaxMemberCSVRows  = 20_000
	maxCSVErrorsShown = 50
)

// spreadsheetSafe keeps a cell from being taken for a formula by a
// spreadsheet (CSV injection): a leading =, +, -, @, tab or CR gets a
// quote in front, which ParseMembersCSV takes off again. A value that
// starts with quotes before such a character gets one more, so that
// every value reads back as written ('=x stays '=x, not =x).
func spreadsheetSafe(v string) string {
	if needsQuote(v) {
		return "'" + v
	}
	return v
}

func needsQuote(v string) bool {
	v = strings.TrimLeft(v, "'")
	return v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0]))
}

// unSpreadsheet takes off the quote spreadsheetSafe (or a person
// editing the file) put in front of a cell.
func unSpreadsheet(v string) string {
	if len(v) > 1 && v[0] == '\'' && needsQuote(v[1:]) {
		return v[1:]
	}
	return v
}

// WriteMembersCSV writes ms as the roster's CSV.
func WriteMembersCSV(w io.Writer, ms []Member) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(MemberCSVColumns); err != nil {
		return err
	}
	for _, m := range ms {
		row := []string{m.Email, m.Name, m.Phone, m.Address, m.Qualification, m.Status, m.RenewalDate}
		for i := range row {
			row[i] = spreadsheetSafe(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// MemberRow is one line of an imported roster: the member it describes
// and the columns the file has (the others stay as stored).
type MemberRow struct {
	Line    int
	Member  Member
	Columns []string
}

// RowError is what is wrong with one line of an imported file.
type RowError struct {
	Line    int
	Field   string
	Message string
}

func (e RowError) String() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return fmt.Sprintf("line %d, %s: %s", e.Line, e.Field, e.Message)
}

// CSVError lists the bad lines of an imported roster (the first
// maxCSVErrorsShown of them, and how many there were). An import that
// fails with it changed nothing.
type CSVError struct {
	Rows  []RowError
	Total int
}

func (e *CSVError) Error() string {
	parts := make([]string, len(e.Rows))
	for i, r := range e.Rows {
		parts[i] = r.String()
	}
	more := ""
	if e.Total > len(e.Rows) {
		more = fmt.Sprintf(" (and %d more)", e.Total-len(e.Rows))
	}
	return fmt.Sprintf("the file has %d bad line(s), nothing was imported%s: %s", e.Total, more, strings.Join(parts, "; "))
}

func (e *CSVError) add(line int, field, format string, args ...any) {
	e.Total++
	if len(e.Rows) < maxCSVErrorsShown {
		e.Rows = append(e.Rows, RowError{Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
	}
}

// ParseMembersCSV reads a roster: a header row naming columns of
// MemberCSVColumns (email and name required, any order), then one member
// a line, each checked as the dashboard checks a member. Any bad line
// (or a repeated email) makes the whole file a *CSVError naming every
// bad line.
func ParseMembersCSV(r io.Reader) ([]MemberRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &CSVError{Rows: []RowError{{Line: 1, Message: "the file is empty; the first line must name the columns: " +
			strings.Join(MemberCSVColumns, ",")}}, Total: 1}
	}
	if err != nil {
		return nil, &CSVError{Rows: []RowError{{Line: 1, Message: "not a CSV file: " + err.Error()}}, Total: 1}
	}
	bad := &CSVError{}
	cols := make([]string, len(header))
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch {
		case !slices.Contains(MemberCSVColumns, h):
			bad.add(1, h, "is not a column of the roster (%s)", strings.Join(MemberCSVColumns, ", "))
		case slices.Contains(cols[:i], h):
			bad.add(1, h, "is named twice")
		}
		cols[i] = h
	}
	for _, need := range []string{"email", "name"} {
		if !slices.Contains(cols, need) {
			bad.add(1, need, "the column is required")
		}
	}
	if bad.Total > 0 {
		return nil, bad
	}
	var rows []MemberRow
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// FieldPos is only for a record read: a line that does not
			// parse has none (it panicked here), so the error says where.
			// (With FieldsPerRecord -1 no error is a field count's: the
			// count is checked below. A quote error ends the reading.)
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			bad.add(line, "", "%v", err)
			break
		}
		line, _ := cr.FieldPos(0)
		if len(rows) >= MaxMemberCSVRows {
			bad.add(line, "", "the file has more than %d members", MaxMemberCSVRows)
			break
		}
		if len(rec) != len(cols) {
			bad.add(line, "", "has %d fields, the header %d", len(rec), len(cols))
			continue
		}
		row := MemberRow{Line: line, Columns: cols}
		m := &row.Member
		for i, v := range rec {
			v = unSpreadsheet(v)
			switch cols[i] {
			case "email":
				m.Email = v
			case "name":
				m.Name = v
			case "phone":
				m.Phone = v
			case "address":
				m.Address = v
			case "qualification":
				m.Qualification = v
			case "status":
				m.Status = strings.ToLower(strings.TrimSpace(v))
			case "renewal_date":
				m.RenewalDate = v
			}
		}
		if err := m.Validate(); err != nil {
			if ve, ok := errors.AsType[*ValidationError](err); ok {
				bad.add(line, ve.Field, "%s", ve.Message)
			} else {
				bad.add(line, "", "%v", err)
			}
			continue
		}
		key := strings.ToLower(m.Email)
		if first, dup := seen[key]; dup {
			bad.add(line, "email", "%s is also on line %d", m.Email, first)
			continue
		}
		seen[key] = line
		rows = append(rows, row)
	}
	if bad.Total > 0 {
		return nil, bad
	}
	return rows, nil
}

// ImportMembers stores the rows of a parsed roster in one transaction:
// all of them or, on any error, none. It returns how many members it
// added and updated.
func (db *DB) ImportMembers(ctx context.Context, rows []MemberRow) (added, updated int, err error) {
	now := db.now().UTC()
	err = db.write(ctx, func(tx *sql.Tx) error {
		added, updated = 0, 0
		for _, r := range rows {
			m, err := scanMember(tx.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM members WHERE email = ?`, r.Member.Email))
			switch {
			case errors.Is(err, sql.ErrNoRows):
				m = r.Member
				if m.Status == "" {
					m.Status = MemberActive
				}
				added++
			case err != nil:
				return err
			default:
				for _, col := range r.Columns {
					switch col {
					case "email":
						m.Email = r.Member.Email
					case "name":
						m.Name = r.Member.Name
					case "phone":
						m.Phone = r.Member.Phone
					case "address":
						m.Address = r.Member.Address
					case "qualification":
						m.Qualification = r.Member.Qualification
					case "status":
						m.Status = r.Member.Status
					case "renewal_date":
						m.RenewalDate = r.Member.RenewalDate
					}
				}
				updated++
			}
			if err := m.Validate(); err != nil {
				return fmt.Errorf("line %d: %w", r.Line, err)
			}
			if err := saveMember(ctx, tx, &m, now); err != nil {
				return fmt.Errorf("line %d: %w", r.Line, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return added, updated, nil
}
