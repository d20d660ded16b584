package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// The mails of membership. Each is queued in the transaction that makes
// the change it tells of (the link it carries, the member it welcomes, the
// reminder it marks as sent), so a mail is never lost nor sent for a
// change that rolled back.
const (
	MailMemberLogin   = "member_login"       // a magic link, to a member who asked
	MailMemberInvite  = "member_invite"      // an invitation or a welcome, with a first link
	MailRenewalRemind = "member_renewal"     // a reminder before the renewal date
	MailApplication   = "member_application" // a new application, to the owners who take contact notices
)

// RenewalLead is how long before the renewal date the reminder goes out.
const RenewalLead = 30 * 24 * time.Hour

// memberMail composes a plain text mail and its simple HTML twin: the
// paragraphs, and a link (with its button text) if link is not "".
func memberMail(kind, to, replyTo, subject string, paras []string, link, button string) OutMail {
	var text, h strings.Builder
	for _, p := range paras {
		text.WriteString(p + "\n\n")
		h.WriteString("<p>" + html.EscapeString(p) + "</p>\n")
	}
	if link != "" {
		text.WriteString(button + ":\n" + link + "\n\n")
		h.WriteString(`<p><a href="` + html.EscapeString(link) + `">` + html.EscapeString(button) + "</a></p>\n")
	}
	return OutMail{Kind: kind, To: to, ReplyTo: replyTo, Subject: subject, Text: text.String(), HTML: h.String()}
}

// siteContact reads the chapter's name and reply-to address in tx.
func siteContact(ctx context.Context, tx *sql.Tx) (name, replyTo string, err error) {
	err = tx.QueryRowContext(ctx, `SELECT name, email FROM site WHERE id = 1`).Scan(&name, &replyTo)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	return name, replyTo, err
}

// SendMemberLogin queues a login link to email, on the site at baseURL,
// if it is the address of a member who may log in and who has fewer than
// a few unused links. Otherwise it does nothing and says nothing: the
// caller answers alike either way, so nobody learns who is a member.
func (db *DB) SendMemberLogin(ctx context.Context, email, baseURL string) error {
	now := db.now().UTC()
	return db.write(ctx, func(tx *sql.Tx) error {
		m, err := scanMember(tx.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM members WHERE email = ?`, email))
		if errors.Is(err, sql.ErrNoRows) || err == nil && !m.CanLogIn() {
			return nil
		}
		if err != nil {
			return err
		}
		var open int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM member_tokens
			WHERE member_id = ? AND purpose = 'login' AND used_at = '' AND expires_at > ?`,
			m.ID, sqlitefile.FormatTime(now)).Scan(&open); err != nil {
			return err
		}
		if open >= maxOpenLoginLinks {
			return nil
		}
		secret, err := issueLink(ctx, tx, m.ID, "login", now)
		if err != nil {
			return err
		}
		site, replyTo, err := siteContact(ctx, tx)
		if err != nil {
			return err
		}
		return queueMail(ctx, tx, db.now(), memberMail(MailMemberLogin, m.Email, replyTo, "Your login link for "+site,
			[]string{"Hello " + m.Name + ",",
				"Someone, probably you, asked to log in as a member of " + site + ". The link below works once, for " +
					fmt.Sprint(LoginLinkTTL.Minutes()) + " minutes.",
				"If you did not ask, ignore this mail: nothing happens without the link."},
			baseURL+"/members/login/"+secret, "Log in to "+site))
	})
}

// InviteMember stores m as an invited member and queues their invitation,
// a link valid for a week, on the site at baseURL. An email that is
// already a member's is ErrConflict.
func (db *DB) InviteMember(ctx context.Context, m *Member, baseURL string) error {
	m.Status = MemberInvited
	if err := m.Validate(); err != nil {
		return err
	}
	now := db.now().UTC()
	return db.write(ctx, func(tx *sql.Tx) error {
		if err := saveMember(ctx, tx, m, now); err != nil {
			return err
		}
		return queueWelcome(ctx, tx, *m, baseURL, now, "You are invited to join ")
	})
}

// ApproveApplication makes a member of application id, renewing on
// renewal (YYYY-MM-DD or ""), deletes the application and queues a
// welcome with a first login link on the site at baseURL.
func (db *DB) ApproveApplication(ctx context.Context, id int64, renewal, baseURL string) (Member, error) {
	if err := checkDate("renewal_date", renewal); err != nil {
		return Member{}, err
	}
	now := db.now().UTC()
	var m Member
	err := db.write(ctx, func(tx *sql.Tx) (err error) {
		if m, err = approveApplication(ctx, tx, id, renewal, now); err != nil {
			return err
		}
		return queueWelcome(ctx, tx, m, baseURL, now, "Welcome: your application was approved by ")
	})
	return m, err
}

// ResendInvitation queues a fresh invitation to member id, who must
// still be invited (a lost or expired first mail).
func (db *DB) ResendInvitation(ctx context.Context, id int64, baseURL string) error {
	now := db.now().UTC()
	return db.write(ctx, func(tx *sql.Tx) error {
		m, err := scanMember(tx.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM members WHERE id = ?`, id))
		if err != nil {
			return notFound(err, "member %d", id)
		}
		if m.Status != MemberInvited {
			return invalid("status", "only an invited member is sent an invitation; %s has status %s", m.Email, m.Status)
		}
		return queueWelcome(ctx, tx, m, baseURL, now, "You are invited to join ")
	})
}

func queueWelcome(ctx context.Context, tx *sql.Tx, m Member, baseURL string, now time.Time, lead string) error {
	secret, err := issueLink(ctx, tx, m.ID, "invite", now)
	if err != nil {
		return err
	}
	site, replyTo, err := siteContact(ctx, tx)
	if err != nil {
		return err
	}
	return queueMail(ctx, tx, now, memberMail(MailMemberInvite, m.Email, replyTo, lead+site,
		[]string{"Hello " + m.Name + ",",
			lead + site + " as a member. Members log in on the chapter's website with a link sent by email: there is no password to remember.",
			"The link below logs you in the first time. It works once, within 7 days; after that, ask for a new one at " +
				baseURL + "/members/login."},
		baseURL+"/members/login/"+secret, "Log in to "+site))
}

// QueueRenewalReminders queues a reminder to every active member whose
// renewal date falls within RenewalLead after today (a date in the
// chapter's time zone) and who was not reminded of that date yet; it
// returns how many it queued. Run daily: each renewal date gets one
// reminder, and a new date (the next period) gets its own.
func (db *DB) QueueRenewalReminders(ctx context.Context, today time.Time) (int, error) {
	from := today.Format(time.DateOnly)
	until := today.Add(RenewalLead).Format(time.DateOnly)
	n := 0
	err := db.write(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `SELECT `+memberColumns+` FROM members
			WHERE status = 'active' AND renewal_date <> '' AND renewal_date >= ? AND renewal_date <= ?
			AND reminded_for <> renewal_date ORDER BY id`, from, until)
		if err != nil {
			return err
		}
		var due []Member
		for rows.Next() {
			m, err := scanMember(rows)
			if err != nil {
				rows.Close()
				return err
			}
			due = append(due, m)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		if len(due) == 0 {
			return errNothingToDo
		}
		site, replyTo, err := siteContact(ctx, tx)
		if err != nil {
			return err
		}
		for _, m := range due {
			date, _ := time.Parse(time.DateOnly, m.RenewalDate)
			mail := memberMail(MailRenewalRemind, m.Email, replyTo, "Your membership of "+site+" is due for renewal",
				[]string{"Hello " + m.Name + ",",
					"Your membership of " + site + " is due for renewal on " + date.Format("Monday, January 2, 2006") + ".",
					"To renew, or if you have renewed already, reply to this mail or speak to one of the chapter's officers."},
				"", "")
			if err := queueMail(ctx, tx, db.now(), mail); err != nil {
				return fmt.Errorf("reminder to member %d: %w", m.ID, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE members SET reminded_for = renewal_date WHERE id = ?`, m.ID); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if errors.Is(err, errNothingToDo) {
		return 0, nil
	}
	return n, err
}

// errNothingToDo rolls back a write that found nothing to change, so that
// the generation (and every page cached of the tenant) stays.
var errNothingToDo = errors.New("nothing to do")

// ReceiveApplication stores a membership application and, in the same
// transaction, queues a notice to each owner who opted in to mail about
// contact messages (only owners can approve). The applicant's words are
// in the body only, never in a header.
func (db *DB) ReceiveApplication(ctx context.Context, a *Application, baseURL string) error {
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
		if a.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT email FROM admins WHERE notify_messages = 1 AND role = 'owner' ORDER BY id`)
		if err != nil {
			return err
		}
		var owners []string
		for rows.Next() {
			var e string
			if err := rows.Scan(&e); err != nil {
				rows.Close()
				return err
			}
			owners = append(owners, e)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		site, _, err := siteContact(ctx, tx)
		if err != nil {
			return err
		}
		for _, to := range owners {
			mail := memberMail(MailApplication, to, a.Email, "New membership application to "+site,
				[]string{a.Name + " (" + a.Email + ") applied to join " + site + ".", "How they qualify: " + a.Qualification,
					"Approve or reject the application on the dashboard's Members page."},
				baseURL+"/admin/members", "Open the Members page")
			if err := queueMail(ctx, tx, db.now(), mail); err != nil {
				return err
			}
		}
		return nil
	})
}
