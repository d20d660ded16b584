package tenantdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

// field is the field a validation error names, "" for any other error.
func field(err error) string {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Field
	}
	return ""
}

// TestMediaStore adds, reads, renames and deletes an image, and checks
// every refusal: a type that is not an image, empty or oversized bytes,
// names out of bounds, unknown ids.
func TestMediaStore(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	data := []byte("\x89PNG\r\n\x1a\n pretend pixels")
	m := Media{Name: "hall.png", Alt: "The hall", ContentType: "image/png", Width: 4, Height: 3}
	if err := db.AddMedia(ctx, &m, data); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if m.ID == "" || m.Size != int64(len(data)) || m.SHA256 != hex.EncodeToString(sum[:]) || m.CreatedAt.IsZero() {
		t.Fatalf("AddMedia filled in %+v", m)
	}
	got, bytesGot, err := db.MediaData(ctx, m.ID)
	if err != nil || !bytes.Equal(bytesGot, data) || got.Name != "hall.png" || got.Width != 4 || got.Height != 3 || got.SHA256 != m.SHA256 {
		t.Fatalf("MediaData = %+v, %q, %v", got, bytesGot, err)
	}
	second := Media{Name: "logo.png", ContentType: "image/png"}
	if err := db.AddMedia(ctx, &second, []byte("x")); err != nil {
		t.Fatal(err)
	}
	list, err := db.MediaList(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("MediaList: %d items, %v; want 2", len(list), err)
	}
	if err := db.UpdateMediaAlt(ctx, m.ID, "Hall at dusk", "The hall at dusk"); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Media(ctx, m.ID); err != nil || got.Name != "Hall at dusk" || got.Alt != "The hall at dusk" || got.Size != m.Size {
		t.Fatalf("after UpdateMediaAlt: %+v, %v", got, err)
	}

	refusals := []struct {
		name  string
		m     Media
		data  []byte
		field string
	}{
		{"not an image type", Media{Name: "a.svg", ContentType: "image/svg+xml"}, data, "file"},
		{"no bytes", Media{Name: "a.png", ContentType: "image/png"}, nil, "file"},
		{"over the limit", Media{Name: "a.png", ContentType: "image/png"}, make([]byte, MaxMediaSize+1), "file"},
		{"no name", Media{ContentType: "image/png"}, data, "name"},
		{"name too long", Media{Name: strings.Repeat("n", 201), ContentType: "image/png"}, data, "name"},
		{"alt too long", Media{Name: "a.png", Alt: strings.Repeat("a", 501), ContentType: "image/png"}, data, "alt"},
	}
	for _, tc := range refusals {
		if err := db.AddMedia(ctx, &tc.m, tc.data); field(err) != tc.field {
			t.Errorf("AddMedia %s: %v, want a validation error on %q", tc.name, err, tc.field)
		}
	}
	if err := db.UpdateMediaAlt(ctx, m.ID, "", "x"); field(err) != "name" {
		t.Errorf("UpdateMediaAlt without a name: %v", err)
	}
	if err := db.UpdateMediaAlt(ctx, m.ID, "n", strings.Repeat("a", 501)); field(err) != "alt" {
		t.Errorf("UpdateMediaAlt with a long alt: %v", err)
	}
	if list, _ := db.MediaList(ctx); len(list) != 2 {
		t.Errorf("refused writes changed the library: %d items", len(list))
	}
	for name, err := range map[string]error{
		"Media":          func() error { _, err := db.Media(ctx, "nosuch"); return err }(),
		"MediaData":      func() error { _, _, err := db.MediaData(ctx, "nosuch"); return err }(),
		"UpdateMediaAlt": db.UpdateMediaAlt(ctx, "nosuch", "n", ""),
		"DeleteMedia":    db.DeleteMedia(ctx, "nosuch"),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of an unknown id: %v, want ErrNotFound", name, err)
		}
	}
	if err := db.DeleteMedia(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Media(ctx, m.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("a deleted image is still there: %v", err)
	}
}

// TestAdminsAndSessions covers the admins store: adding (with its
// refusals), looking up, password changes that end sessions, sessions
// that expire, and the last owner that cannot be removed.
func TestAdminsAndSessions(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	db.now = func() time.Time { return now }
	owner := Admin{Email: " owner@example.org ", Role: RoleOwner, PasswordHash: "hash-1"}
	if err := db.AddAdmin(ctx, &owner); err != nil {
		t.Fatal(err)
	}
	if owner.ID == 0 || owner.Email != "owner@example.org" || !owner.CreatedAt.Equal(now) {
		t.Fatalf("AddAdmin filled in %+v", owner)
	}
	editor := Admin{Email: "ed@example.org", Role: RoleEditor, PasswordHash: "hash-2"}
	if err := db.AddAdmin(ctx, &editor); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		a     Admin
		field string
	}{
		"bad email":   {Admin{Email: "not-an-email", Role: RoleEditor, PasswordHash: "h"}, "email"},
		"bad role":    {Admin{Email: "x@example.org", Role: "root", PasswordHash: "h"}, "role"},
		"no password": {Admin{Email: "x@example.org", Role: RoleEditor}, "password"},
	} {
		if err := db.AddAdmin(ctx, &tc.a); field(err) != tc.field {
			t.Errorf("AddAdmin %s: %v, want a validation error on %q", name, err, tc.field)
		}
	}
	dup := Admin{Email: "ed@example.org", Role: RoleOwner, PasswordHash: "h"}
	if err := db.AddAdmin(ctx, &dup); !errors.Is(err, ErrConflict) {
		t.Errorf("a second admin with one email: %v, want ErrConflict", err)
	}
	if list, err := db.Admins(ctx); err != nil || len(list) != 2 {
		t.Fatalf("Admins: %d, %v; want 2", len(list), err)
	}
	if got, err := db.AdminByEmail(ctx, "ed@example.org"); err != nil || got.ID != editor.ID || got.Role != RoleEditor {
		t.Fatalf("AdminByEmail: %+v, %v", got, err)
	}
	if _, err := db.AdminByEmail(ctx, "nobody@example.org"); !errors.Is(err, ErrNotFound) {
		t.Errorf("AdminByEmail of a stranger: %v", err)
	}
	if _, err := db.Admin(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Admin of an unknown id: %v", err)
	}

	// Sessions: live until they expire; a password change ends them all.
	live := Session{ID: NewSessionID(), AdminID: editor.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour), UserAgent: strings.Repeat("u", 400)}
	if err := db.CreateSession(ctx, live); err != nil {
		t.Fatal(err)
	}
	s, a, err := db.Session(ctx, live.ID)
	if err != nil || a.ID != editor.ID || s.AdminID != editor.ID || len(s.UserAgent) != 300 {
		t.Fatalf("Session: %+v %+v %v (a long user agent is cut to 300)", s, a, err)
	}
	// By the caller's clock: live until its end, whatever the file's
	// clock says (the web server's clock decides).
	if _, _, err := db.SessionAt(ctx, live.ID, now.Add(59*time.Minute)); err != nil {
		t.Errorf("a session a minute before its end, by the caller's clock: %v", err)
	}
	if _, _, err := db.SessionAt(ctx, live.ID, now.Add(time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Errorf("a session at its end, by the caller's clock: %v, want ErrNotFound", err)
	}
	// A new session drops those that had ended when it began, by its
	// caller's clock: one begun at live's end, while the file's clock
	// still has live running.
	late := Session{ID: NewSessionID(), AdminID: editor.ID, CreatedAt: now.Add(time.Hour + time.Second), ExpiresAt: now.Add(2 * time.Hour)}
	if err := db.CreateSession(ctx, late); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE id = ?`, live.ID).Scan(&n); err != nil || n != 0 {
		t.Errorf("a session begun after live ended left live's row (%d, %v)", n, err)
	}
	now = now.Add(time.Hour)
	if _, _, err := db.Session(ctx, live.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("an expired session: %v, want ErrNotFound", err)
	}
	fresh := Session{ID: NewSessionID(), AdminID: editor.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateSession(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if err := db.SetPassword(ctx, editor.ID, "hash-3"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Session(ctx, fresh.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("a session after a password change: %v, want it ended", err)
	}
	if got, _ := db.Admin(ctx, editor.ID); got.PasswordHash != "hash-3" || !got.PasswordChangedAt.Equal(now) {
		t.Errorf("after SetPassword: %+v", got)
	}
	if err := db.SetPassword(ctx, editor.ID, ""); field(err) != "password" {
		t.Errorf("SetPassword to nothing: %v", err)
	}
	if err := db.SetPassword(ctx, 999, "h"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPassword of an unknown admin: %v", err)
	}
	other := Session{ID: NewSessionID(), AdminID: editor.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateSession(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSession(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSession(ctx, other.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("ending an ended session: %v", err)
	}

	// The last owner stays; an editor and a second owner can go.
	if err := db.DeleteAdmin(ctx, owner.ID); !errors.Is(err, ErrLastOwner) {
		t.Errorf("deleting the last owner: %v, want ErrLastOwner", err)
	}
	second := Admin{Email: "second@example.org", Role: RoleOwner, PasswordHash: "h"}
	if err := db.AddAdmin(ctx, &second); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteAdmin(ctx, owner.ID); err != nil {
		t.Errorf("deleting one of two owners: %v", err)
	}
	if err := db.DeleteAdmin(ctx, editor.ID); err != nil {
		t.Errorf("deleting an editor: %v", err)
	}
	if err := db.DeleteAdmin(ctx, editor.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting a deleted admin: %v", err)
	}
	if list, _ := db.Admins(ctx); len(list) != 1 || list[0].ID != second.ID {
		t.Errorf("admins left: %+v, want the second owner", list)
	}
}

// TestMessagesStore stores contact messages and checks their validation,
// order, read marks and deletion.
func TestMessagesStore(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	first := Message{Name: "Pat", Email: "pat@example.com", Subject: "Hall", Body: "Is it free?", IP: "192.0.2.1"}
	second := Message{Name: "Sam", Email: "sam@example.com", Body: "Hello"}
	for _, m := range []*Message{&first, &second} {
		if err := db.AddMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	list, err := db.Messages(ctx)
	if err != nil || len(list) != 2 || list[0].ID != second.ID || list[1].Read {
		t.Fatalf("Messages: %+v, %v; want the newest first, unread", list, err)
	}
	if err := db.MarkMessageRead(ctx, first.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Message(ctx, first.ID); err != nil || !got.Read || got.IP != "192.0.2.1" || got.Subject != "Hall" {
		t.Fatalf("Message after marking read: %+v, %v", got, err)
	}
	if err := db.MarkMessageRead(ctx, first.ID, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Message(ctx, first.ID); got.Read {
		t.Error("marking unread left it read")
	}
	for name, m := range map[string]Message{
		"no name":       {Email: "a@example.com", Body: "x"},
		"bad email":     {Name: "A", Email: "nope", Body: "x"},
		"no body":       {Name: "A", Email: "a@example.com", Body: "   "},
		"long subject":  {Name: "A", Email: "a@example.com", Subject: strings.Repeat("s", 201), Body: "x"},
		"body too long": {Name: "A", Email: "a@example.com", Body: strings.Repeat("b", 5001)},
	} {
		if err := db.AddMessage(ctx, &m); field(err) == "" {
			t.Errorf("AddMessage %s: %v, want a validation error", name, err)
		}
	}
	if list, _ := db.Messages(ctx); len(list) != 2 {
		t.Errorf("refused messages were stored: %d", len(list))
	}
	if err := db.DeleteMessage(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Message":         func() error { _, err := db.Message(ctx, first.ID); return err }(),
		"DeleteMessage":   db.DeleteMessage(ctx, first.ID),
		"MarkMessageRead": db.MarkMessageRead(ctx, first.ID, true),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of a deleted message: %v, want ErrNotFound", name, err)
		}
	}
}

// TestSavingContentFillsWhatIsLeftOut checks what a save fills in: the
// date of a post published without one, a slug made from the title (cut
// to 80 characters, numbered when taken), new ids for new items, and the
// refusal of an update of an item that does not exist or a picture that
// is not in the library.
func TestSavingContentFillsWhatIsLeftOut(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	db.now = func() time.Time { return now }
	published := Post{Title: "Fish fry", Published: true}
	draft := Post{Title: "Fish fry"}
	third := Post{Title: "Fish fry", Published: true}
	for _, p := range []*Post{&published, &draft, &third} {
		if err := db.SavePost(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if published.PublishedAt == nil || !published.PublishedAt.Equal(now) || draft.PublishedAt != nil {
		t.Errorf("publication dates: published %v, draft %v", published.PublishedAt, draft.PublishedAt)
	}
	if published.Slug != "fish-fry" || draft.Slug != "fish-fry-2" || third.Slug != "fish-fry-3" {
		t.Errorf("slugs %q %q %q, want fish-fry, -2, -3", published.Slug, draft.Slug, third.Slug)
	}
	long := Post{Title: strings.Repeat("word ", 40)}
	if err := db.SavePost(ctx, &long); err != nil || len(long.Slug) > 80 || len(long.Slug) < 70 {
		t.Errorf("a long title's slug %q (%d), %v: want it cut to at most 80", long.Slug, len(long.Slug), err)
	}

	if ps, total, err := db.Posts(ctx, PostQuery{Limit: 2}); err != nil || len(ps) != 2 || total != 4 {
		t.Errorf("a page of 2 posts: %d of %d, %v", len(ps), total, err)
	}
	if ps, total, err := db.Posts(ctx, PostQuery{}); err != nil || len(ps) != 4 || total != 4 {
		t.Errorf("posts without a limit: %d of %d, %v; want all 4", len(ps), total, err)
	}
	if ps, total, _ := db.Posts(ctx, PostQuery{PublishedOnly: true, Limit: 10, Offset: 1}); len(ps) != 1 || total != 2 {
		t.Errorf("published posts from the second: %d of %d, want 1 of 2", len(ps), total)
	}

	page := Page{Title: "History", Body: "Since 1946."}
	if err := db.SavePage(ctx, &page); err != nil || page.ID == 0 {
		t.Fatalf("a new page: id %d, %v", page.ID, err)
	}
	id := page.ID
	page.Body = "Since 1946, on the river."
	if err := db.SavePage(ctx, &page); err != nil || page.ID != id {
		t.Fatalf("an update: id %d (was %d), %v", page.ID, id, err)
	}
	if got, _ := db.Page(ctx, id); got.Body != page.Body {
		t.Errorf("the update was not stored: %q", got.Body)
	}
	ghost := Page{ID: 999, Title: "Ghost"}
	if err := db.SavePage(ctx, &ghost); !errors.Is(err, ErrNotFound) {
		t.Errorf("updating a page that does not exist: %v, want ErrNotFound", err)
	}

	o := Officer{Name: "Pat Jones", Role: "Commander"}
	if err := db.SaveOfficer(ctx, &o); err != nil || o.ID == 0 {
		t.Fatalf("an officer without a photo: %v", err)
	}
	withPhoto := Officer{Name: "Sam Lee", Role: "Adjutant", PhotoID: "nosuch"}
	if err := db.SaveOfficer(ctx, &withPhoto); field(err) != "photo_id" {
		t.Errorf("an officer with a photo not in the library: %v", err)
	}
}

// TestLimitsAreInclusive checks that a value exactly at a limit is taken.
func TestLimitsAreInclusive(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	m := Media{Name: "big.png", ContentType: "image/png"}
	if err := db.AddMedia(ctx, &m, make([]byte, MaxMediaSize)); err != nil {
		t.Errorf("an image of exactly %d bytes: %v", MaxMediaSize, err)
	}
	email := strings.Repeat("a", 254-len("@example.org")) + "@example.org"
	if err := ValidateEmail("email", email); err != nil {
		t.Errorf("an email of exactly 254 characters: %v", err)
	}
	rule := "FREQ=WEEKLY;INTERVAL=1"
	rule = strings.Replace(rule, "=1", "="+strings.Repeat("0", 200-len(rule))+"1", 1)
	if len(rule) != 200 {
		t.Fatalf("the test rule is %d characters", len(rule))
	}
	if _, err := ParseRRule(rule); err != nil {
		t.Errorf("a rule of exactly 200 characters: %v", err)
	}
	if err := (&Post{}).Validate(); err == nil || err.Error() != "title: is required" {
		t.Errorf("a post without a title: %v, want %q", err, "title: is required")
	}
	start := time.Date(2026, 3, 10, 19, 0, 0, 0, time.UTC)
	e := Event{StartsAt: start, EndsAt: start.Add(time.Hour), Timezone: "UTC"}
	if occ := e.Occurrences(start.Add(-time.Hour), start.Add(time.Hour), 0); len(occ) != 0 {
		t.Errorf("a limit of 0 gave %d occurrences", len(occ))
	}
}

// TestValidateEmailTakesOneBareAddress: an address is one bare
// name@domain; what would add recipients or header fields to a mailto:
// link or a mail header (a query, a display name, a second address,
// CR/LF) is refused.
func TestValidateEmailTakesOneBareAddress(t *testing.T) {
	for _, ok := range []string{
		"pat@example.com", "pat.jones+post42@mail.example.org", "o'neil@example.ie",
		"a?b=c&d@example.com", // legal RFC 5322 local part: escaped in links instead
		"jürgen@müller.example",
	} {
		if err := ValidateEmail("email", ok); err != nil {
			t.Errorf("ValidateEmail(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{
		"karen@example.com?bcc=evil@example.net&body=hi",
		"karen@example.com?bcc=evil%40example.net&body=hi",
		"karen@example.com&cc=evil@example.net",
		"Karen <karen@example.com>",
		"<karen@example.com>",
		"karen@example.com, evil@example.net",
		"karen@example.com\r\nBcc: evil@example.net",
		"karen@example.com\n",
		"karen@example.com (Karen)",
		`"karen jones"@example.com`,
		"karen@[192.0.2.1]",
		"karen@example",
		"karen@-example.com",
		"@example.com",
		"karen@example.com@example.net",
	} {
		if err := ValidateEmail("email", bad); err == nil {
			t.Errorf("ValidateEmail(%q) = nil, want an error", bad)
		}
	}
}
