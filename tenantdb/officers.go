package tenantdb

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Officer is a member holding a role: Commander, Adjutant, Chaplain, ...
type Officer struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Position  int       `json:"position"`
	Email     string    `json:"email"`
	PhotoID   string    `json:"photo_id"`
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
		return ValidateEmail("email", o.Email)
	}
	return nil
}

const officerColumns = `id, name, role, position, email, photo_id, created_at, updated_at`

func scanOfficer(s scanner) (Officer, error) {
	var o Officer
	var photo sql.NullString
	var created, updated string
	err := s.Scan(&o.ID, &o.Name, &o.Role, &o.Position, &o.Email, &photo, &created, &updated)
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
			res, err := tx.ExecContext(ctx, `INSERT INTO officers (name, role, position, email, photo_id, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, o.Name, o.Role, o.Position, o.Email, nullString(o.PhotoID),
				sqlitefile.FormatTime(now), sqlitefile.FormatTime(now))
			if err != nil {
				return err
			}
			o.ID, err = res.LastInsertId()
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE officers SET name = ?, role = ?, position = ?, email = ?, photo_id = ?,
			updated_at = ? WHERE id = ?`, o.Name, o.Role, o.Position, o.Email, nullString(o.PhotoID), sqlitefile.FormatTime(now), o.ID)
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
