package tenantdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// RSVP statuses: a place is kept, the party waits for one, or the RSVP
// was withdrawn (kept for the admins' list).
const (
	RSVPGoing     = "going"
	RSVPWaitlist  = "waitlist"
	RSVPCancelled = "cancelled"
)

// MaxCapacity is the most people one date of an event can take; MaxParty
// the most one RSVP brings.
const (
	MaxCapacity = 100_000
	MaxParty    = 20
)

// RSVP is one answer to one date of an event. Occurrence is the start of
// the date answered (for a one-off event, the event's start). Token is the
// form's one-time token as the visitor holds it; only its sha256 is stored.
type RSVP struct {
	ID         int64     `json:"id"`
	EventID    int64     `json:"event_id"`
	Occurrence time.Time `json:"occurrence"`
	Name       string    `json:"name"`
	Email      string    `json:"email"`
	PartySize  int       `json:"party_size"`
	Note       string    `json:"note"`
	Status     string    `json:"status"`
	Token      string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

var rsvpToken = regexp.MustCompile(`^[A-Za-z0-9_-]{22,64}$`)

// ValidRSVPToken says whether tok has the shape of the tokens the site
// hands out (and so may be looked up).
func ValidRSVPToken(tok string) bool { return rsvpToken.MatchString(tok) }

// hashToken is what the rsvps table stores of a token.
func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// Validate checks the fields a visitor typed, all of them, and returns
// one ValidationError per bad field.
func (r *RSVP) Validate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkLen("name", strings.TrimSpace(r.Name), 1, 100))
	if err := checkLen("email", r.Email, 1, 254); err != nil {
		add(err)
	} else {
		add(ValidateEmail("email", r.Email))
	}
	if r.PartySize < 1 || r.PartySize > MaxParty {
		add(invalid("party_size", "must be from 1 to %d people", MaxParty))
	}
	add(checkLen("note", r.Note, 0, 1000))
	return errs
}

// validateStored checks a stored row (an import): what Validate checks
// and the fields the site sets.
func (r *RSVP) validateStored(tokenHash string) error {
	if errs := r.Validate(); len(errs) > 0 {
		return errs[0]
	}
	switch r.Status {
	case RSVPGoing, RSVPWaitlist, RSVPCancelled:
	default:
		return invalid("status", "%q is not going, waitlist or cancelled", r.Status)
	}
	if r.Occurrence.IsZero() {
		return invalid("occurrence", "is not a time")
	}
	if b, err := hex.DecodeString(tokenHash); err != nil || len(b) != sha256.Size {
		return invalid("token", "is not a sha256 in hex")
	}
	return nil
}

// RSVPCount is how many people answered one date of an event.
type RSVPCount struct {
	Going, Waiting int // people, parties counted whole
	Capacity       int // 0: no limit
}

// Left is how many places remain, -1 for no limit.
func (n RSVPCount) Left() int {
	if n.Capacity == 0 {
		return -1
	}
	return max(0, n.Capacity-n.Going)
}

// Full says that a new party would wait.
func (n RSVPCount) Full() bool { return n.Capacity > 0 && n.Going >= n.Capacity }

const rsvpColumns = `id, event_id, occurrence, name, email, party_size, note, status, token, created_at, updated_at`

func scanRSVP(s scanner) (RSVP, error) {
	var r RSVP
	var occ, created, updated string
	err := s.Scan(&r.ID, &r.EventID, &occ, &r.Name, &r.Email, &r.PartySize, &r.Note, &r.Status, &r.Token, &created, &updated)
	r.Occurrence = sqlitefile.ParseTime(occ)
	r.CreatedAt, r.UpdatedAt = sqlitefile.ParseTime(created), sqlitefile.ParseTime(updated)
	return r, err
}

// MailRSVP is the kind of the mails about an RSVP: its confirmation, a
// place that came free.
const MailRSVP = "rsvp"

// RSVPMail composes the mail about r (nil: no mail).
type RSVPMail func(r RSVP) OutMail

// ErrAlreadyRSVPd is a second live RSVP of one address to one date.
var ErrAlreadyRSVPd = fmt.Errorf("this address already has a place or waits for one on this date: %w", ErrConflict)

// AddRSVP records r for its event's date r.Occurrence, under the form's
// token r.Token: going if the party fits in what is left of e's capacity,
// else on the waitlist. A second call with the same token changes nothing
// and fills r with the stored RSVP (created false), so a form sent twice
// counts once. A second live RSVP of the same address to the same date is
// ErrAlreadyRSVPd. The confirmation composed by mail, when not nil, is
// queued in the same transaction.
func (db *DB) AddRSVP(ctx context.Context, e Event, r *RSVP, mail RSVPMail) (created bool, err error) {
	if errs := r.Validate(); len(errs) > 0 {
		return false, errs[0]
	}
	if !ValidRSVPToken(r.Token) {
		return false, invalid("token", "the form is damaged; reload the page and send it again")
	}
	if !e.RSVP {
		return false, invalid("event", "this event does not take RSVPs")
	}
	occ := sqlitefile.FormatTime(r.Occurrence)
	hash := hashToken(r.Token)
	now := db.now().UTC()
	err = db.write(ctx, func(tx *sql.Tx) error {
		old, err := scanRSVP(tx.QueryRowContext(ctx, `SELECT `+rsvpColumns+` FROM rsvps WHERE token = ?`, hash))
		if err == nil {
			old.Token = r.Token
			*r = old
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM rsvps WHERE event_id = ? AND occurrence = ?
			AND email = ? COLLATE NOCASE AND status <> 'cancelled'`, e.ID, occ, r.Email).Scan(&taken); err != nil {
			return err
		}
		if taken > 0 {
			return ErrAlreadyRSVPd
		}
		n, err := countRSVPs(ctx, tx, e, occ)
		if err != nil {
			return err
		}
		r.Status = RSVPGoing
		if n.Capacity > 0 && n.Going+r.PartySize > n.Capacity {
			r.Status = RSVPWaitlist
		}
		r.EventID, r.CreatedAt, r.UpdatedAt = e.ID, now, now
		res, err := tx.ExecContext(ctx, `INSERT INTO rsvps (event_id, occurrence, name, email, party_size, note, status,
			token, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, occ, r.Name, r.Email, r.PartySize,
			r.Note, r.Status, hash, sqlitefile.FormatTime(now), sqlitefile.FormatTime(now))
		if err != nil {
			return err
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		created = true
		if mail != nil {
			return queueMail(ctx, tx, db.now(), mail(*r))
		}
		return nil
	})
	return created, err
}

func countRSVPs(ctx context.Context, tx *sql.Tx, e Event, occ string) (RSVPCount, error) {
	n := RSVPCount{Capacity: e.Capacity}
	err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(party_size) FILTER (WHERE status = 'going'), 0),
		coalesce(sum(party_size) FILTER (WHERE status = 'waitlist'), 0)
		FROM rsvps WHERE event_id = ? AND occurrence = ?`, e.ID, occ).Scan(&n.Going, &n.Waiting)
	return n, err
}

// RSVPByToken returns the RSVP made with the form token tok.
func (db *DB) RSVPByToken(ctx context.Context, tok string) (RSVP, error) {
	if !ValidRSVPToken(tok) {
		return RSVP{}, fmt.Errorf("rsvp: %w", ErrNotFound)
	}
	r, err := scanRSVP(db.queryRow(ctx, `SELECT `+rsvpColumns+` FROM rsvps WHERE token = ?`, hashToken(tok)))
	r.Token = tok
	return r, notFound(err, "rsvp")
}

// RSVP returns RSVP id of event eventID.
func (db *DB) RSVP(ctx context.Context, eventID, id int64) (RSVP, error) {
	r, err := scanRSVP(db.queryRow(ctx, `SELECT `+rsvpColumns+` FROM rsvps WHERE id = ? AND event_id = ?`, id, eventID))
	r.Token = ""
	return r, notFound(err, "rsvp %d of event %d", id, eventID)
}

// RSVPs returns the RSVPs of event eventID, by date and then in the order
// they came.
func (db *DB) RSVPs(ctx context.Context, eventID int64) ([]RSVP, error) {
	rs, err := list(ctx, db, `SELECT `+rsvpColumns+` FROM rsvps WHERE event_id = ? ORDER BY occurrence, id`, Window{}, scanRSVP, eventID)
	for i := range rs {
		rs[i].Token = ""
	}
	return rs, err
}

// RSVPCounts returns the count of every date of event e that has RSVPs,
// by the date's start (UTC, as stored).
func (db *DB) RSVPCounts(ctx context.Context, e Event) (map[time.Time]RSVPCount, error) {
	rows, err := db.query(ctx, `SELECT occurrence, coalesce(sum(party_size) FILTER (WHERE status = 'going'), 0),
		coalesce(sum(party_size) FILTER (WHERE status = 'waitlist'), 0) FROM rsvps WHERE event_id = ? GROUP BY occurrence`, e.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[time.Time]RSVPCount{}
	for rows.Next() {
		var occ string
		n := RSVPCount{Capacity: e.Capacity}
		if err := rows.Scan(&occ, &n.Going, &n.Waiting); err != nil {
			return nil, err
		}
		out[sqlitefile.ParseTime(occ)] = n
	}
	return out, rows.Err()
}

// CancelRSVP withdraws RSVP id of event e and gives its places to the
// waitlist, in the order people asked, each party that fits. It returns
// the RSVPs promoted; each is told by the mail composed by mail, when not
// nil, queued in the same transaction. Cancelling a cancelled RSVP
// changes nothing.
func (db *DB) CancelRSVP(ctx context.Context, e Event, id int64, mail RSVPMail) ([]RSVP, error) {
	var promoted []RSVP
	now := db.now().UTC()
	err := db.write(ctx, func(tx *sql.Tx) error {
		r, err := scanRSVP(tx.QueryRowContext(ctx, `SELECT `+rsvpColumns+` FROM rsvps WHERE id = ? AND event_id = ?`, id, e.ID))
		if err != nil {
			return notFound(err, "rsvp %d of event %d", id, e.ID)
		}
		if r.Status == RSVPCancelled {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rsvps SET status = 'cancelled', updated_at = ? WHERE id = ?`,
			sqlitefile.FormatTime(now), id); err != nil {
			return err
		}
		promoted, err = promote(ctx, tx, e, sqlitefile.FormatTime(r.Occurrence), now)
		if err != nil || mail == nil {
			return err
		}
		for _, p := range promoted {
			if err := queueMail(ctx, tx, db.now(), mail(p)); err != nil {
				return err
			}
		}
		return nil
	})
	return promoted, err
}

// promote moves waiting parties of date occ of e to going, in the order
// they asked, each that fits in the places left.
func promote(ctx context.Context, tx *sql.Tx, e Event, occ string, now time.Time) ([]RSVP, error) {
	n, err := countRSVPs(ctx, tx, e, occ)
	if err != nil || n.Waiting == 0 {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+rsvpColumns+` FROM rsvps WHERE event_id = ? AND occurrence = ?
		AND status = 'waitlist' ORDER BY id`, e.ID, occ)
	if err != nil {
		return nil, err
	}
	var waiting []RSVP
	for rows.Next() {
		r, err := scanRSVP(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		waiting = append(waiting, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	going := n.Going
	var promoted []RSVP
	for _, r := range waiting {
		if e.Capacity > 0 && going+r.PartySize > e.Capacity {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rsvps SET status = 'going', updated_at = ? WHERE id = ?`,
			sqlitefile.FormatTime(now), r.ID); err != nil {
			return nil, err
		}
		going += r.PartySize
		r.Status, r.UpdatedAt, r.Token = RSVPGoing, now, ""
		promoted = append(promoted, r)
	}
	return promoted, nil
}

// promoteAll promotes the waiting parties of every date of e, after its
// capacity changed.
func promoteAll(ctx context.Context, tx *sql.Tx, e Event, now time.Time) ([]RSVP, error) {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT occurrence FROM rsvps WHERE event_id = ? AND status = 'waitlist'`, e.ID)
	if err != nil {
		return nil, err
	}
	var occs []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			rows.Close()
			return nil, err
		}
		occs = append(occs, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var all []RSVP
	for _, o := range occs {
		p, err := promote(ctx, tx, e, o, now)
		if err != nil {
			return nil, err
		}
		all = append(all, p...)
	}
	return all, nil
}
