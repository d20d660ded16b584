package tenantdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Member statuses. Invited and active members may log in (an invited
// member becomes active on first login); lapsed and resigned ones may not,
// and see the site as any visitor does. The status is the chapter's to
// set: a renewal date passing does not change it (see docs/members.md).
const (
	MemberInvited  = "invited"
	MemberActive   = "active"
	MemberLapsed   = "lapsed"
	MemberResigned = "resigned"
)

// MemberStatuses are the statuses a member may have, in roster order.
var MemberStatuses = []string{MemberActive, MemberInvited, MemberLapsed, MemberResigned}

// How long a magic link works, and how long a member stays logged in.
const (
	LoginLinkTTL     = 30 * time.Minute
	InviteLinkTTL    = 7 * 24 * time.Hour
	MemberSessionTTL = 30 * 24 * time.Hour
	// maxOpenLoginLinks bounds the unused login links of one member at a
	// time: more requests queue no more mail (a form cannot be used to
	// flood one inbox).
	maxOpenLoginLinks = 3
)

// Member is a person of the chapter who is not an admin.
type Member struct {
	ID            int64  `json:"id"`
	Email         string `json:"email"`
	Name          string `json:"name"`
	Phone         string `json:"phone"`
	Address       string `json:"address"`
	Qualification string `json:"qualification"` // how they qualify for membership
	Status        string `json:"status"`
	// RenewalDate is the day the membership is due for renewal,
	// YYYY-MM-DD in the chapter's time zone, "" for none.
	RenewalDate string `json:"renewal_date"`
	// RemindedFor is the renewal date the last reminder mail was for.
	RemindedFor string         `json:"reminded_for"`
	Directory   DirectoryPrefs `json:"directory"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
}

// DirectoryPrefs are what a member chose to show other members in the
// member directory. Everything is off until the member turns it on.
type DirectoryPrefs struct {
	Listed  bool `json:"listed"` // in the directory at all (name only)
	Email   bool `json:"email"`
	Phone   bool `json:"phone"`
	Address bool `json:"address"`
}

// CanLogIn reports whether m may log in and see members-only items.
func (m Member) CanLogIn() bool { return m.Status == MemberActive || m.Status == MemberInvited }

// MemberFields are the fields of a member an admin sets, by the names the
// dashboard's forms and the API's JSON share. The others are the
// server's (id, reminded_for, the times) or the member's own choice
// (directory).
var MemberFields = []string{"email", "name", "phone", "address", "qualification", "status", "renewal_date"}

// SetFields sets each field of MemberFields that get has (ok) on m, and
// leaves the others as they are: the one reading of what an admin sent,
// from the dashboard's form or the API's JSON. Validate then checks and
// trims them.
func (m *Member) SetFields(get func(name string) (string, bool)) {
	for i, to := range [...]*string{&m.Email, &m.Name, &m.Phone, &m.Address, &m.Qualification, &m.Status, &m.RenewalDate} {
		if v, ok := get(MemberFields[i]); ok {
			*to = v
		}
	}
}

// AddressTaken is the refusal of saving m when its address is another
// member's (the save returned ErrConflict); invited: m was being invited.
func (m Member) AddressTaken(invited bool) *ValidationError {
	if invited {
		return &ValidationError{Field: "email", Message: m.Email + " is already a member"}
	}
	return &ValidationError{Field: "email", Message: m.Email + " is another member's address"}
}

// Validate checks m, trimming its text fields; an empty status is active.
func (m *Member) Validate() error {
	m.Email, m.Name = strings.TrimSpace(m.Email), strings.TrimSpace(m.Name)
	m.Phone, m.Address = strings.TrimSpace(m.Phone), strings.TrimSpace(m.Address)
	m.Qualification, m.RenewalDate = strings.TrimSpace(m.Qualification), strings.TrimSpace(m.RenewalDate)
	if err := checkLen("email", m.Email, 1, 254); err != nil {
		return err
	}
	if err := ValidateEmail("email", m.Email); err != nil {
		return err
	}
	if err := checkLen("name", m.Name, 1, 100); err != nil {
		return err
	}
	if err := checkLine("name", m.Name, 100); err != nil {
		return err
	}
	if err := checkLine("phone", m.Phone, 50); err != nil {
		return err
	}
	if err := checkLen("address", m.Address, 0, 300); err != nil {
		return err
	}
	if err := checkLen("qualification", m.Qualification, 0, 2000); err != nil {
		return err
	}
	if m.Status == "" {
		m.Status = MemberActive
	}
	ok := false
	for _, s := range MemberStatuses {
		ok = ok || s == m.Status
	}
	if !ok {
		return invalid("status", "%q is not one of %s", m.Status, strings.Join(MemberStatuses, ", "))
	}
	if err := checkDate("renewal_date", m.RenewalDate); err != nil {
		return err
	}
	return checkDate("reminded_for", m.RemindedFor)
}

// checkLine checks a one-line text field of at most maxLen characters.
func checkLine(field, v string, maxLen int) error {
	if err := checkLen(field, v, 0, maxLen); err != nil {
		return err
	}
	if strings.ContainsAny(v, "\r\n") {
		return invalid(field, "must be one line")
	}
	return nil
}

const memberColumns = `id, email, name, phone, address, qualification, status, renewal_date, reminded_for,
	dir_listed, dir_email, dir_phone, dir_address, created_at, updated_at`

func scanMember(s scanner) (Member, error) {
	var m Member
	var created, updated string
	err := s.Scan(&m.ID, &m.Email, &m.Name, &m.Phone, &m.Address, &m.Qualification, &m.Status, &m.RenewalDate,
		&m.RemindedFor, &m.Directory.Listed, &m.Directory.Email, &m.Directory.Phone, &m.Directory.Address, &created, &updated)
	m.CreatedAt, m.UpdatedAt = sqlitefile.ParseTime(created), sqlitefile.ParseTime(updated)
	return m, err
}

// Members returns every member by name.
func (db *DB) Members(ctx context.Context) ([]Member, error) { return db.MembersIn(ctx, Window{}) }

// MembersIn returns the members of w, by name.
func (db *DB) MembersIn(ctx context.Context, w Window) ([]Member, error) {
	return list(ctx, db, `SELECT `+memberColumns+` FROM members ORDER BY name COLLATE NOCASE, id`, w, scanMember)
}

// Member returns member id.
func (db *DB) Member(ctx context.Context, id int64) (Member, error) {
	m, err := scanMember(db.queryRow(ctx, `SELECT `+memberColumns+` FROM members WHERE id = ?`, id))
	return m, notFound(err, "member %d", id)
}

// MemberByEmail returns the member with email, in any case.
func (db *DB) MemberByEmail(ctx context.Context, email string) (Member, error) {
	m, err := scanMember(db.queryRow(ctx, `SELECT `+memberColumns+` FROM members WHERE email = ?`, email))
	return m, notFound(err, "member %q", email)
}

// Directory returns the members who chose to be listed and may log in,
// by name, with only what each chose to show: the fields they keep to
// themselves are empty.
func (db *DB) Directory(ctx context.Context) ([]Member, error) {
	all, err := list(ctx, db, `SELECT `+memberColumns+` FROM members
		WHERE dir_listed = 1 AND status IN ('active', 'invited') ORDER BY name COLLATE NOCASE, id`, Window{}, scanMember)
	if err != nil {
		return nil, err
	}
	for i, m := range all {
		shown := Member{ID: m.ID, Name: m.Name, Directory: m.Directory}
		if m.Directory.Email {
			shown.Email = m.Email
		}
		if m.Directory.Phone {
			shown.Phone = m.Phone
		}
		if m.Directory.Address {
			shown.Address = m.Address
		}
		all[i] = shown
	}
	return all, nil
}

// SaveMember validates and creates (ID 0) or updates m as the chapter's
// admins edit it. The directory choices are the member's own: an update
// keeps the stored ones.
func (db *DB) SaveMember(ctx context.Context, m *Member) error {
	if err := m.Validate(); err != nil {
		return err
	}
	return db.write(ctx, func(tx *sql.Tx) error { return saveMember(ctx, tx, m, db.now().UTC()) })
}

func saveMember(ctx context.Context, tx *sql.Tx, m *Member, now time.Time) error {
	m.UpdatedAt = now
	var res sql.Result
	var err error
	if m.ID == 0 {
		m.CreatedAt = now
		res, err = tx.ExecContext(ctx, `INSERT INTO members (email, name, phone, address, qualification, status,
			renewal_date, reminded_for, dir_listed, dir_email, dir_phone, dir_address, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.Email, m.Name, m.Phone, m.Address, m.Qualification, m.Status,
			m.RenewalDate, m.RemindedFor, m.Directory.Listed, m.Directory.Email, m.Directory.Phone, m.Directory.Address,
			sqlitefile.FormatTime(now), sqlitefile.FormatTime(now))
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE members SET email = ?, name = ?, phone = ?, address = ?, qualification = ?,
			status = ?, renewal_date = ?, updated_at = ? WHERE id = ?`, m.Email, m.Name, m.Phone, m.Address, m.Qualification,
			m.Status, m.RenewalDate, sqlitefile.FormatTime(now), m.ID)
	}
	if sqlitefile.IsUnique(err) {
		return fmt.Errorf("member %q: %w", m.Email, ErrConflict)
	}
	if err != nil {
		return err
	}
	if m.ID == 0 {
		m.ID, err = res.LastInsertId()
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("member %d: %w", m.ID, ErrNotFound)
	}
	if !m.CanLogIn() {
		// A lapsed or resigned member is logged out everywhere.
		if _, err := tx.ExecContext(ctx, `DELETE FROM member_sessions WHERE member_id = ?`, m.ID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM member_tokens WHERE member_id = ?`, m.ID)
	}
	return err
}

// SetDirectoryPrefs stores what member id chose to show in the directory.
func (db *DB) SetDirectoryPrefs(ctx context.Context, id int64, p DirectoryPrefs) error {
	return db.exec(ctx, fmt.Sprintf("member %d", id), `UPDATE members SET dir_listed = ?, dir_email = ?, dir_phone = ?,
		dir_address = ?, updated_at = ? WHERE id = ?`, p.Listed, p.Email, p.Phone, p.Address, sqlitefile.FormatTime(db.now().UTC()), id)
}

// DeleteMember deletes member id, with their sessions and links.
func (db *DB) DeleteMember(ctx context.Context, id int64) error {
	return db.exec(ctx, fmt.Sprintf("member %d", id), `DELETE FROM members WHERE id = ?`, id)
}

// Application is a membership application sent with the public form.
type Application struct {
	ID            int64     `json:"id"`
	Name          string    `json:"name"`
	Email         string    `json:"email"`
	Phone         string    `json:"phone"`
	Address       string    `json:"address"`
	Qualification string    `json:"qualification"`
	IP            string    `json:"ip"`
	CreatedAt     time.Time `json:"created_at"`
}

// Validate checks every field a visitor typed, trimmed, and returns one
// ValidationError per bad field, in form order.
func (a *Application) Validate() []error {
	a.Name, a.Email = strings.TrimSpace(a.Name), strings.TrimSpace(a.Email)
	a.Phone, a.Address, a.Qualification = strings.TrimSpace(a.Phone), strings.TrimSpace(a.Address), strings.TrimSpace(a.Qualification)
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := checkLen("name", a.Name, 1, 100); err != nil {
		add(err)
	} else {
		add(checkLine("name", a.Name, 100))
	}
	if err := checkLen("email", a.Email, 1, 254); err != nil {
		add(err)
	} else {
		add(ValidateEmail("email", a.Email))
	}
	add(checkLine("phone", a.Phone, 50))
	add(checkLen("address", a.Address, 0, 300))
	add(checkLen("qualification", a.Qualification, 1, 2000))
	if len(a.IP) > 64 {
		add(invalid("ip", "is longer than 64 bytes"))
	}
	return errs
}

const applicationColumns = `id, name, email, phone, address, qualification, ip, created_at`

func scanApplication(s scanner) (Application, error) {
	var a Application
	var created string
	err := s.Scan(&a.ID, &a.Name, &a.Email, &a.Phone, &a.Address, &a.Qualification, &a.IP, &created)
	a.CreatedAt = sqlitefile.ParseTime(created)
	return a, err
}

// AddApplication validates and stores a membership application.
func (db *DB) AddApplication(ctx context.Context, a *Application) error {
	if errs := a.Validate(); len(errs) > 0 {
		return errs[0]
	}
	a.CreatedAt = db.now().UTC()
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO member_applications (name, email, phone, address, qualification, ip, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, a.Name, a.Email, a.Phone, a.Address, a.Qualification, a.IP, sqlitefile.FormatTime(a.CreatedAt))
		if err != nil {
			return err
		}
		a.ID, err = res.LastInsertId()
		return err
	})
}

// Applications returns the applications waiting for a decision, oldest first.
func (db *DB) Applications(ctx context.Context) ([]Application, error) {
	return list(ctx, db, `SELECT `+applicationColumns+` FROM member_applications ORDER BY id`, Window{}, scanApplication)
}

// DeleteApplication turns application id down: it is deleted.
func (db *DB) DeleteApplication(ctx context.Context, id int64) error {
	return db.exec(ctx, fmt.Sprintf("application %d", id), `DELETE FROM member_applications WHERE id = ?`, id)
}

// approveApplication makes a member of application id, renewing on
// renewal (YYYY-MM-DD or ""), and deletes the application. An email that
// is already a member's is ErrConflict, and the application stays.
func approveApplication(ctx context.Context, tx *sql.Tx, id int64, renewal string, now time.Time) (Member, error) {
	a, err := scanApplication(tx.QueryRowContext(ctx, `SELECT `+applicationColumns+` FROM member_applications WHERE id = ?`, id))
	if err != nil {
		return Member{}, notFound(err, "application %d", id)
	}
	m := Member{Email: a.Email, Name: a.Name, Phone: a.Phone, Address: a.Address, Qualification: a.Qualification,
		Status: MemberActive, RenewalDate: renewal}
	if err := m.Validate(); err != nil {
		return m, err
	}
	if err := saveMember(ctx, tx, &m, now); err != nil {
		return m, err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM member_applications WHERE id = ?`, id)
	return m, err
}

// Magic links and sessions keep only the sha256 of their secret.
func secretHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// issueLink stores a new magic link of purpose for member id and returns
// its secret, the part of the link that is mailed and never stored.
func issueLink(ctx context.Context, tx *sql.Tx, memberID int64, purpose string, now time.Time) (string, error) {
	ttl := LoginLinkTTL
	if purpose == "invite" {
		ttl = InviteLinkTTL
	}
	// Used and expired links of this member go first: they only take room.
	if _, err := tx.ExecContext(ctx, `DELETE FROM member_tokens WHERE member_id = ? AND (used_at <> '' OR expires_at <= ?)`,
		memberID, sqlitefile.FormatTime(now)); err != nil {
		return "", err
	}
	secret := NewToken() + NewToken()
	_, err := tx.ExecContext(ctx, `INSERT INTO member_tokens (hash, member_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		secretHash(secret), memberID, purpose, sqlitefile.FormatTime(now), sqlitefile.FormatTime(now.Add(ttl)))
	return secret, err
}

// ErrLinkInvalid is the one answer to a magic link that is unknown, used,
// expired, or whose member may no longer log in.
var ErrLinkInvalid = fmt.Errorf("this login link is not valid: it was used already, has expired, or was mistyped: %w", ErrNotFound)

// UseMemberLink spends the magic link with secret: it works once, before
// it expires, for a member who may log in. An invited member becomes
// active. It starts a session and returns the member and the session's
// secret (the cookie's value).
func (db *DB) UseMemberLink(ctx context.Context, secret string) (Member, MemberSession, error) {
	now := db.now().UTC()
	var m Member
	var s MemberSession
	err := db.write(ctx, func(tx *sql.Tx) error {
		var memberID int64
		err := tx.QueryRowContext(ctx, `UPDATE member_tokens SET used_at = ?
			WHERE hash = ? AND used_at = '' AND expires_at > ? RETURNING member_id`,
			sqlitefile.FormatTime(now), secretHash(secret), sqlitefile.FormatTime(now)).Scan(&memberID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrLinkInvalid
		}
		if err != nil {
			return err
		}
		m, err = scanMember(tx.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM members WHERE id = ?`, memberID))
		if err != nil {
			return err
		}
		if !m.CanLogIn() {
			return ErrLinkInvalid
		}
		if m.Status == MemberInvited {
			m.Status = MemberActive
			if _, err := tx.ExecContext(ctx, `UPDATE members SET status = 'active', updated_at = ? WHERE id = ?`,
				sqlitefile.FormatTime(now), m.ID); err != nil {
				return err
			}
		}
		s, err = startMemberSession(ctx, tx, m.ID, now)
		return err
	})
	if err != nil {
		return Member{}, MemberSession{}, err
	}
	return m, s, nil
}

// MemberSession is a member's login on one chapter's site. Secret is the
// cookie's value, known only when the session starts.
type MemberSession struct {
	MemberID  int64
	Secret    string
	ExpiresAt time.Time
}

func startMemberSession(ctx context.Context, tx *sql.Tx, memberID int64, now time.Time) (MemberSession, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM member_sessions WHERE member_id = ? AND expires_at <= ?`,
		memberID, sqlitefile.FormatTime(now)); err != nil {
		return MemberSession{}, err
	}
	s := MemberSession{MemberID: memberID, Secret: NewToken() + NewToken(), ExpiresAt: now.Add(MemberSessionTTL)}
	_, err := tx.ExecContext(ctx, `INSERT INTO member_sessions (hash, member_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		secretHash(s.Secret), memberID, sqlitefile.FormatTime(now), sqlitefile.FormatTime(s.ExpiresAt))
	return s, err
}

// MemberBySession returns the member logged in with the session secret:
// ErrNotFound for an unknown or expired session, or a member who may no
// longer log in.
func (db *DB) MemberBySession(ctx context.Context, secret string) (Member, error) {
	if secret == "" || len(secret) > 128 {
		return Member{}, fmt.Errorf("member session: %w", ErrNotFound)
	}
	m, err := scanMember(db.queryRow(ctx, `SELECT `+prefixed("m.", memberColumns)+` FROM member_sessions s
		JOIN members m ON m.id = s.member_id
		WHERE s.hash = ? AND s.expires_at > ? AND m.status IN ('active', 'invited')`,
		secretHash(secret), sqlitefile.FormatTime(db.now().UTC())))
	return m, notFound(err, "member session")
}

// prefixed qualifies each of a list of columns with p.
func prefixed(p, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// EndMemberSession logs the session with secret out.
func (db *DB) EndMemberSession(ctx context.Context, secret string) error {
	return db.exec(ctx, "member session", `DELETE FROM member_sessions WHERE hash = ?`, secretHash(secret))
}
