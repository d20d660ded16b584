package tenantdb

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Event is something on the chapter's calendar. Times are instants; Timezone
// is where the event happens, used to show them and to repeat a recurring
// event at the same wall-clock time across daylight saving changes.
type Event struct {
	ID          int64     `json:"id"`
	Title       string    `json:"title"`
	StartsAt    time.Time `json:"starts_at"`
	EndsAt      time.Time `json:"ends_at"`
	Timezone    string    `json:"timezone"`
	AllDay      bool      `json:"all_day"`
	Location    string    `json:"location"`
	Description string    `json:"description"` // markdown
	Category    string    `json:"category"`
	RRule       string    `json:"rrule"` // e.g. FREQ=MONTHLY;BYDAY=2TU
	// Visibility: a members-only event is left out of an anonymous
	// visitor's lists, calendar feed and sitemap.
	Visibility Visibility `json:"visibility"`
	// RSVP says the event takes RSVPs (rsvp.go); Capacity is how many
	// people each date takes, 0 for no limit.
	RSVP      bool      `json:"rsvp"`
	Capacity  int       `json:"capacity"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// EventCategories are the kinds of events a chapter holds.
var EventCategories = []string{"meeting", "fundraiser", "ceremony", "holiday", "social", "service", "other"}

// Validate checks e.
func (e *Event) Validate() error {
	if err := checkLen("title", e.Title, 1, 200); err != nil {
		return err
	}
	if e.StartsAt.IsZero() {
		return invalid("starts_at", "is required")
	}
	if e.EndsAt.IsZero() {
		return invalid("ends_at", "is required")
	}
	if e.EndsAt.Before(e.StartsAt) {
		return invalid("ends_at", "must not be before starts_at")
	}
	if e.EndsAt.Sub(e.StartsAt) > 31*24*time.Hour {
		return invalid("ends_at", "an event lasts at most 31 days")
	}
	if _, err := time.LoadLocation(e.Timezone); err != nil || e.Timezone == "" || e.Timezone == "Local" {
		return invalid("timezone", "%q is not a time zone name like America/Chicago", e.Timezone)
	}
	if err := checkLen("location", e.Location, 0, 300); err != nil {
		return err
	}
	if err := CheckMarkdown("description", e.Description, 20000); err != nil {
		return err
	}
	if e.Category != "" {
		ok := false
		for _, c := range EventCategories {
			ok = ok || c == e.Category
		}
		if !ok {
			return invalid("category", "%q is not one of %v", e.Category, EventCategories)
		}
	}
	if e.RRule != "" {
		if _, err := ParseRRule(e.RRule); err != nil {
			return invalid("rrule", "%v", err)
		}
	}
	if e.Capacity < 0 || e.Capacity > MaxCapacity {
		return invalid("capacity", "must be from 0 (no limit) to %d people", MaxCapacity)
	}
	return e.Visibility.check("visibility")
}

// Zone returns the event's time zone (UTC if it cannot be loaded).
func (e *Event) Zone() *time.Location {
	loc, err := LoadZone(e.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

const eventColumns = `id, title, starts_at, ends_at, timezone, all_day, location, description, category, rrule, created_at, updated_at, visibility, rsvp, capacity`

func scanEvent(s scanner) (Event, error) {
	var e Event
	var starts, ends, created, updated string
	err := s.Scan(&e.ID, &e.Title, &starts, &ends, &e.Timezone, &e.AllDay, &e.Location, &e.Description,
		&e.Category, &e.RRule, &created, &updated, &e.Visibility, &e.RSVP, &e.Capacity)
	loc := e.Zone()
	e.StartsAt, e.EndsAt = sqlitefile.ParseTime(starts).In(loc), sqlitefile.ParseTime(ends).In(loc)
	e.CreatedAt, e.UpdatedAt = sqlitefile.ParseTime(created), sqlitefile.ParseTime(updated)
	return e, err
}

// Events returns every event by start time.
func (db *DB) Events(ctx context.Context) ([]Event, error) { return db.EventsIn(ctx, Window{}) }

// EventsIn returns the events of w, by start time.
func (db *DB) EventsIn(ctx context.Context, w Window) ([]Event, error) {
	return list(ctx, db, `SELECT `+eventColumns+` FROM events ORDER BY starts_at, id`, w, scanEvent)
}

// Event returns event id.
func (db *DB) Event(ctx context.Context, id int64) (Event, error) {
	e, err := scanEvent(db.queryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ?`, id))
	return e, notFound(err, "event %d", id)
}

// SaveEvent validates and creates (ID 0) or updates e.
func (db *DB) SaveEvent(ctx context.Context, e *Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	now := db.now().UTC()
	e.UpdatedAt = now
	return db.write(ctx, func(tx *sql.Tx) error {
		if e.ID == 0 {
			e.CreatedAt = now
			res, err := tx.ExecContext(ctx, `INSERT INTO events (title, starts_at, ends_at, timezone, all_day, location,
				description, category, rrule, created_at, updated_at, visibility, rsvp, capacity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				e.Title, sqlitefile.FormatTime(e.StartsAt), sqlitefile.FormatTime(e.EndsAt), e.Timezone, e.AllDay, e.Location,
				e.Description, e.Category, e.RRule, sqlitefile.FormatTime(now), sqlitefile.FormatTime(now), e.Visibility, e.RSVP, e.Capacity)
			if err != nil {
				return err
			}
			e.ID, err = res.LastInsertId()
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE events SET title = ?, starts_at = ?, ends_at = ?, timezone = ?, all_day = ?,
			location = ?, description = ?, category = ?, rrule = ?, updated_at = ?, visibility = ?, rsvp = ?, capacity = ? WHERE id = ?`,
			e.Title, sqlitefile.FormatTime(e.StartsAt), sqlitefile.FormatTime(e.EndsAt), e.Timezone, e.AllDay, e.Location,
			e.Description, e.Category, e.RRule, sqlitefile.FormatTime(now), e.Visibility, e.RSVP, e.Capacity, e.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("event %d: %w", e.ID, ErrNotFound)
		}
		// A larger capacity (or none) lets waiting people in.
		_, err = promoteAll(ctx, tx, *e, now)
		return err
	})
}

// DeleteEvent deletes event id.
func (db *DB) DeleteEvent(ctx context.Context, id int64) error {
	return db.exec(ctx, fmt.Sprintf("event %d", id), `DELETE FROM events WHERE id = ?`, id)
}
