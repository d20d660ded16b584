package tenantdb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Officer is a member holding a role: Commander, Adjutant, Chaplain, ...
type Officer struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Position int    `json:"position"`
	Email    string `json:"email"`
	PhotoID  string `json:"photo_id"`
	// TermFrom and TermTo are the first and last day in office
	// (YYYY-MM-DD in the chapter's time zone), "" for not known / open.
	TermFrom  string    `json:"term_from"`
	TermTo    string    `json:"term_to"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks o.
func (o *Officer) Validate() error {
	if err := checkLen("name", o.Name, 1, 200); err != nil {
		return err
	}
	if err := checkLen("role", o.Role, 1, 100); err != nil {
		return err
	}
	if o.Email != "" {
		if err := ValidateEmail("email", o.Email); err != nil {
			return err
		}
	}
	if err := checkDate("term_from", o.TermFrom); err != nil {
		return err
	}
	if err := checkDate("term_to", o.TermTo); err != nil {
		return err
	}
	if o.TermFrom != "" && o.TermTo != "" && o.TermTo < o.TermFrom {
		return invalid("term_to", "the term cannot end (%s) before it starts (%s)", o.TermTo, o.TermFrom)
	}
	return nil
}

const officerColumns = `id, name, role, position, email, photo_id, created_at, updated_at, term_from, term_to`

func scanOfficer(s scanner) (Officer, error) {
	var o Officer
	var photo sql.NullString
	var created, updated string
	err := s.Scan(&o.ID, &o.Name, &o.Role, &o.Position, &o.Email, &photo, &created, &updated, &o.TermFrom, &o.TermTo)
	o.PhotoID = photo.String
	o.CreatedAt, o.UpdatedAt = sqlitefile.ParseTime(created), sqlitefile.ParseTime(updated)
	return o, err
}

// Officers returns the officers in display order.
func (db *DB) Officers(ctx context.Context) ([]Officer, error) { return db.OfficersIn(ctx, Window{}) }

// OfficersIn returns the officers of w, in display order.
func (db *DB) OfficersIn(ctx context.Context, w Window) ([]Officer, error) {
	return list(ctx, db, `SELECT `+officerColumns+` FROM officers ORDER BY position, id`, w, scanOfficer)
}

// Officer returns officer id.
func (db *DB) Officer(ctx context.Context, id int64) (Officer, error) {
	o, err := scanOfficer(db.queryRow(ctx, `SELECT `+officerColumns+` FROM officers WHERE id = ?`, id))
	return o, notFound(err, "officer %d", id)
}

// SaveOfficer validates and creates (ID 0) or updates o.
func (db *DB) SaveOfficer(ctx context.Context, o *Officer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	now := db.now().UTC()
	o.UpdatedAt = now
	return db.write(ctx, func(tx *sql.Tx) error {
		if o.PhotoID != "" {
			if err := mediaExists(ctx, tx, "photo_id", o.PhotoID); err != nil {
				return err
			}
		}
		if o.ID == 0 {
			o.CreatedAt = now
			res, err := tx.ExecContext(ctx, `INSERT INTO officers (name, role, position, email, photo_id, created_at, updated_at,
				term_from, term_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, o.Name, o.Role, o.Position, o.Email, nullString(o.PhotoID),
				sqlitefile.FormatTime(now), sqlitefile.FormatTime(now), o.TermFrom, o.TermTo)
			if err != nil {
				return err
			}
			o.ID, err = res.LastInsertId()
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE officers SET name = ?, role = ?, position = ?, email = ?, photo_id = ?,
			updated_at = ?, term_from = ?, term_to = ? WHERE id = ?`, o.Name, o.Role, o.Position, o.Email, nullString(o.PhotoID),
			sqlitefile.FormatTime(now), o.TermFrom, o.TermTo, o.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("officer %d: %w", o.ID, ErrNotFound)
		}
		return nil
	})
}

// DeleteOfficer deletes officer id.
func (db *DB) DeleteOfficer(ctx context.Context, id int64) error {
	return db.exec(ctx, fmt.Sprintf("officer %d", id), `DELETE FROM officers WHERE id = ?`, id)
}

// DateLayout is how dates without a time are written: officers' terms,
// statistics' days.
const DateLayout = "2006-01-02"

// checkDate accepts "" or a real date written YYYY-MM-DD.
func checkDate(field, v string) error {
	if v == "" {
		return nil
	}
	if t, err := time.Parse(DateLayout, v); err != nil || t.Format(DateLayout) != v {
		return invalid(field, "%q is not a date like 2026-07-01", v)
	}
	return nil
}

// OfficerTerms splits officers by where their terms stand on day
// (YYYY-MM-DD): in office now, taking office later, and past officers
// (latest term first). The order within the first two is the display order.
func OfficerTerms(officers []Officer, day string) (current, incoming, past []Officer) {
	for _, o := range officers {
		switch {
		case o.TermTo != "" && o.TermTo < day:
			past = append(past, o)
		case o.TermFrom != "" && o.TermFrom > day:
			incoming = append(incoming, o)
		default:
			current = append(current, o)
		}
	}
	slices.SortStableFunc(past, func(a, b Officer) int {
		if c := strings.Compare(b.TermTo, a.TermTo); c != 0 {
			return c
		}
		return a.Position - b.Position
	})
	return current, incoming, past
}
