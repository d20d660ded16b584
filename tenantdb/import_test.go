package tenantdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
	"github.com/chapterhouse/chapterhouse/tenantdb/tenanttest"
)

// fillTenant gives db a row in every table.
func fillTenant(t testing.TB, db *DB) {
	t.Helper()
	ctx := context.Background()
	logo := &Media{Name: "logo.png", Alt: "logo", ContentType: "image/png", Width: 2, Height: 2}
	must(t, db.AddMedia(ctx, logo, []byte("\x89PNG fake image bytes")))
	site := Site{Name: "Riverside Post 42", Tagline: "Since 1946", About: "We *serve*.", AccentColor: "#204060",
		Timezone: "America/Chicago", LogoID: logo.ID, SocialLinks: []SocialLink{{Label: "Facebook", URL: "https://facebook.com/p42"}}}
	must(t, db.UpdateSite(ctx, &site))
	must(t, db.SavePage(ctx, &Page{Title: "History", Body: "Founded 1946.", Published: true}))
	for i := range 5 {
		must(t, db.SavePost(ctx, &Post{Title: fmt.Sprintf("News %d", i), Body: "Body", Published: i%2 == 0, ImageID: logo.ID}))
	}
	start := time.Date(2026, 6, 9, 19, 0, 0, 0, time.UTC)
	must(t, db.SaveEvent(ctx, &Event{Title: "Monthly meeting", StartsAt: start, EndsAt: start.Add(time.Hour),
		Timezone: "America/Chicago", Category: "meeting", RRule: "FREQ=MONTHLY;BYDAY=2TU"}))
	must(t, db.SaveOfficer(ctx, &Officer{Name: "Pat Doe", Role: "Commander", PhotoID: logo.ID, TermFrom: "2026-07-01", TermTo: "2027-06-30"}))
	fish := &Event{Title: "Fish fry", StartsAt: start, EndsAt: start.Add(2 * time.Hour), Timezone: "America/Chicago", RSVP: true, Capacity: 50}
	must(t, db.SaveEvent(ctx, fish))
	_, err := db.AddRSVP(ctx, *fish, &RSVP{Occurrence: start, Name: "Sam Guest", Email: "sam@example.org", PartySize: 2,
		Token: "tok-fill-tenant-0123456789"}, nil)
	must(t, err)
	db.CountVisit("2026-06-09", "/events", Visitor{1})
	must(t, db.FlushStats(ctx))
	owner := &Admin{Email: "owner@example.org", Role: RoleOwner, PasswordHash: testHash}
	must(t, db.AddAdmin(ctx, owner))
	must(t, db.CreateSession(ctx, Session{ID: NewSessionID(), AdminID: owner.ID, CreatedAt: start, ExpiresAt: start.Add(time.Hour)}))
	m := &Message{Name: "Visitor", Email: "v@example.org", Subject: "Hello", Body: "How do I join?"}
	if errs := m.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	must(t, db.AddMessage(ctx, m))
	member := &Member{Email: "member@example.org", Name: "Sam Member", RenewalDate: "2027-01-31"}
	must(t, db.SaveMember(ctx, member))
	must(t, db.AddApplication(ctx, &Application{Name: "Alex Applicant", Email: "alex@example.org", Qualification: "Served 1990-1994"}))
	must(t, db.write(ctx, func(tx *sql.Tx) error {
		if _, err := issueLink(ctx, tx, member.ID, "login", db.now()); err != nil {
			return err
		}
		_, err := startMemberSession(ctx, tx, member.ID, db.now())
		return err
	}))
	must(t, db.write(ctx, func(tx *sql.Tx) error {
		return queueMail(ctx, tx, db.now(), OutMail{Kind: MailContact, To: "owner@example.org", ReplyTo: "v@example.org",
			Subject: "New message: Hello", Text: "How do I join?", HTML: "<p>How do I join?</p>"})
	}))
	must(t, db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO mail_tokens (purpose, token_hash, email, admin_id, role, created_at, expires_at)
			VALUES ('admin_invite', ?, 'new@example.org', NULL, 'editor', '2026-06-01T00:00:00Z', '2026-06-08T00:00:00Z')`,
			strings.Repeat("ab", 32))
		return err
	}))
	photo := &Media{Name: "picnic.jpg", Alt: "The picnic", ContentType: "image/jpeg", Width: 2000, Height: 1000}
	must(t, db.AddMedia(ctx, photo, []byte("\xff\xd8 fake photo bytes"),
		VariantData{Variant: "small", ContentType: "image/jpeg", Width: 320, Height: 160, Data: []byte("\xff\xd8 small")}))
	doc := &Document{Title: "May minutes", Category: "minutes", Dated: "2026-05-12", Filename: "may.pdf"}
	must(t, db.AddDocument(ctx, doc, []byte(testPDF)))
	album := &Album{Title: "Picnic", Dated: "2026-06-01", Published: true, CoverID: photo.ID}
	must(t, db.SaveAlbum(ctx, album))
	must(t, db.AddAlbumPhotos(ctx, album.ID, []string{photo.ID, logo.ID}))
	must(t, db.UpdateAlbumPhoto(ctx, AlbumPhoto{AlbumID: album.ID, Media: Media{ID: photo.ID}, Caption: "Lunch", Position: 1}))
}

// testPDF is a small well-formed PDF.
const testPDF = "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" +
	"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

// testHash is a well-formed argon2id hash at Chapterhouse's own cost.
const testHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// validExport makes a filled tenant and exports it to a file.
func validExport(t testing.TB) string {
	t.Helper()
	db := openTenant(t)
	fillTenant(t, db)
	path := filepath.Join(t.TempDir(), "export.db")
	if _, err := db.Export(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := validExport(t)
	want, err := FileDigest(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	im, err := PrepareImport(ctx, src, work, 1<<30)
	if err != nil {
		t.Fatalf("PrepareImport of a valid export: %v", err)
	}
	defer im.Discard()
	if im.SourceVersion != LatestVersion() || im.SiteName != "Riverside Post 42" {
		t.Errorf("imported version %d, site %q", im.SourceVersion, im.SiteName)
	}
	if im.Digest.Sum() != want.Sum() {
		t.Errorf("import digest differs from the export's in %v", im.Digest.Diff(want))
	}
	got, err := FileDigest(ctx, im.Path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sum() != want.Sum() {
		t.Errorf("built file's digest differs from the export's in %v", got.Diff(want))
	}
	for table, n := range want.Rows {
		if n == 0 {
			t.Errorf("table %s is empty in the fixture; fill it so the round trip covers it", table)
		}
	}
	dir := t.TempDir()
	id := NewTenantID()
	os.MkdirAll(filepath.Join(dir, "tenants"), 0o700)
	if err := os.Rename(im.Path, TenantPath(dir, id)); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, dir, id)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	site, err := db.Site(ctx)
	if err != nil || site.Name != "Riverside Post 42" || len(site.SocialLinks) != 1 {
		t.Errorf("imported site %+v, %v", site, err)
	}
	im.Discard()
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("work dir holds %d entries after Discard", len(entries))
	}
}

// hostileKind is a file the import must refuse for what it holds, and
// what the refusal says.
type hostileKind struct{ name, path, want string }

// hostileFiles writes a file of each hostile kind the import refuses by
// content, made from the valid export at valid: the rejections below and
// the fuzz seeds share them (with invalidRows).
func hostileFiles(t testing.TB, valid string) []hostileKind {
	t.Helper()
	validBytes, err := os.ReadFile(valid)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := append([]byte(nil), validBytes...)
	flipped[4096] = 0x42 // page 2: not a b-tree page type
	kinds := []hostileKind{
		{"not sqlite", write("text.db", []byte(strings.Repeat("hello, world\n", 400))), "not a SQLite database"},
		{"empty", write("empty.db", nil), "not a SQLite database"},
		{"truncated", write("half.db", validBytes[:len(validBytes)/2]), "truncated"},
		{"truncated mid-page", write("ragged.db", validBytes[:len(validBytes)-100]), "truncated"},
		{"wrong application_id", tenanttest.Alter(t, valid, "PRAGMA application_id = 1234"), "application_id"},
		{"version from the future", tenanttest.Alter(t, valid, fmt.Sprintf("PRAGMA user_version = %d", LatestVersion()+1)), "newer than this Chapterhouse"},
		{"never migrated", tenanttest.Alter(t, valid, "PRAGMA user_version = 0"), "never migrated"},
		{"extra trigger", tenanttest.Alter(t, valid, `CREATE TRIGGER evil AFTER INSERT ON posts BEGIN
			INSERT INTO admins (email, password_hash, role, created_at, password_changed_at)
			VALUES ('evil@example.org', 'x', 'owner', '', ''); END`), `extra trigger "evil" on table "posts"`},
		{"extra view", tenanttest.Alter(t, valid, `CREATE VIEW v AS SELECT * FROM admins`), `extra view "v"`},
		{"extra index", tenanttest.Alter(t, valid, `CREATE INDEX posts_title ON posts (title)`), `extra index "posts_title" on table "posts"`},
		{"extra table", tenanttest.Alter(t, valid, `CREATE TABLE notes (x)`), `extra table "notes"`},
		{"virtual table", tenanttest.Alter(t, valid, `CREATE VIRTUAL TABLE search USING fts5(body)`), `extra virtual table "search"`},
		{"extra column", tenanttest.Alter(t, valid, `ALTER TABLE posts ADD COLUMN evil TEXT`), `table "posts" is not defined as Chapterhouse defines it`},
		{"dropped CHECK", tenanttest.Alter(t, valid, `PRAGMA writable_schema = ON`,
			`UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (role IN (''owner'', ''editor''))', '') WHERE name = 'admins'`,
			`PRAGMA writable_schema = OFF`), `table "admins" is not defined`},
		{"missing table", tenanttest.Alter(t, valid, `DROP TABLE messages`), `lacks the table "messages"`},
		{"html as an image", tenanttest.Alter(t, valid, `UPDATE media SET content_type = 'text/html'`), `content type "text/html"`},
		{"image bytes swapped", tenanttest.Alter(t, valid, `UPDATE media SET data = X'3c7363726970743e'`), "media"},
		{"image bytes changed, size kept", tenanttest.Alter(t, valid, `UPDATE media SET data = zeroblob(length(data))`), "do not match their recorded sha256"},
		{"blob in a text column", tenanttest.Alter(t, valid, `UPDATE posts SET body = X'00ff' WHERE id = 1`), `table "posts" row 1 column "body": a blob in a TEXT column`},
		{"invalid utf-8", tenanttest.Alter(t, valid, `UPDATE posts SET title = CAST(X'ff' AS TEXT) WHERE id = 1`), "not valid UTF-8"},
		{"dangling reference", tenanttest.Alter(t, valid, `PRAGMA foreign_keys = OFF`, `UPDATE posts SET image_id = 'nosuch' WHERE id = 1`), "refers to a missing row"},
		{"bad role", tenanttest.Alter(t, valid, `PRAGMA ignore_check_constraints = ON`, `UPDATE admins SET role = 'root'`), "does not fit"},
		{"bad colour", tenanttest.Alter(t, valid, `UPDATE site SET accent_color = 'red;}body{display:none'`), "accent_color"},
		{"bad rrule", tenanttest.Alter(t, valid, `UPDATE events SET rrule = 'FREQ=SECONDLY'`), "rrule"},
		{"mailto fields in a message's email", tenanttest.Alter(t, valid, `UPDATE messages SET email = 'v@example.org?bcc=evil%40example.net&body=hi'`), `table "messages" row 1 field "email"`},
		{"display name in an admin's email", tenanttest.Alter(t, valid, `UPDATE admins SET email = 'Owner <owner@example.org>'`), "email"},
		{"history disagrees", tenanttest.Alter(t, valid, `DELETE FROM goose_db_version WHERE version_id > 0`), "migration history"},
		{"corrupt page", write("flipped.db", flipped), "integrity_check"},
	}
	return kinds
}

func TestImportRejectsHostileFiles(t *testing.T) {
	ctx := context.Background()
	valid := validExport(t)
	validBytes, _ := os.ReadFile(valid)
	tmp := t.TempDir()
	symlink := filepath.Join(tmp, "link.db")
	if err := os.Symlink(valid, symlink); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(tmp, "fifo.db")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}

	type hostileCase struct {
		name    string
		path    string
		maxSize int64
		want    string
	}
	var cases []hostileCase
	for _, k := range hostileFiles(t, valid) {
		cases = append(cases, hostileCase{k.name, k.path, 0, k.want})
	}
	cases = append(cases, []hostileCase{
		{"symlink", symlink, 0, "symbolic link"},
		{"fifo", fifo, 0, "not a regular file"},
		{"directory", tmp, 0, "not a regular file"},
		{"oversize", valid, int64(len(validBytes)) - 1, "more than the import limit"},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			maxSize := tc.maxSize
			if maxSize == 0 {
				maxSize = 1 << 30
			}
			work := t.TempDir()
			im, err := PrepareImport(ctx, tc.path, work, maxSize)
			if err == nil {
				im.Discard()
				t.Fatalf("accepted, want a rejection saying %q", tc.want)
			}
			t.Log(err)
			if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want a rejection saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if entries, _ := os.ReadDir(work); len(entries) != 0 {
				t.Errorf("the rejected import left %d entries in the work dir", len(entries))
			}
		})
	}
}

// invalidRow makes one row of table invalid as the API would refuse it
// (stmt, run on a valid export), and says what the refusal names.
type invalidRow struct{ table, name, stmt, want string }

// invalidRows holds a case for every table of the tenant file.
func invalidRows() []invalidRow {
	long := func(n int) string { return fmt.Sprintf("printf('%%.*c', %d, 'x')", n) }
	html := "<html><script>alert(1)</script></html>"
	htmlSum := sha256.Sum256([]byte(html))
	costly := "$argon2id$v=19$m=262144,t=10,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43)
	return []invalidRow{
		{"site", "empty name", `UPDATE site SET name = ''`, `table "site" row 1 field "name"`},
		{"media", "long alt text", `UPDATE media SET alt = ` + long(501), `field "alt"`},
		{"pages", "empty title", `UPDATE pages SET title = ''`, `table "pages" row 1 field "title"`},
		{"posts", "oversized body", `UPDATE posts SET body = ` + long(200_000) + ` WHERE id = 2`, `table "posts" row 2 field "body"`},
		{"events", "long location", `UPDATE events SET location = ` + long(301), `table "events" row 1 field "location"`},
		{"officers", "no role", `UPDATE officers SET role = ''`, `table "officers" row 1 field "role"`},
		{"messages", "a 200 KB message", `UPDATE messages SET body = ` + long(200_000), `table "messages" row 1 field "body"`},
		{"admins", "bad email", `UPDATE admins SET email = 'not an address'`, `table "admins" row 1 field "email"`},
		{"admins", "hash beyond the verifier's ceiling", `UPDATE admins SET password_hash = '` + costly + `'`,
			`table "admins" row 1 (admin owner@example.org) field "password_hash": parameters m=262144,t=10,p=1 are beyond`},
		{"admins", "not an argon2id hash", `UPDATE admins SET password_hash = '$2a$10$abcdefghijklmnopqrstuv'`, `field "password_hash": not an argon2id hash`},
		{"sessions", "long user agent", `UPDATE sessions SET user_agent = ` + long(301), `table "sessions" row 1 field "user_agent"`},
		{"members", "bad email", `UPDATE members SET email = 'sam at example'`, `table "members" row 1 field "email"`},
		{"members", "long name", `UPDATE members SET name = ` + long(101), `table "members" row 1 field "name"`},
		{"members", "bad renewal date", `UPDATE members SET renewal_date = '31/01/2027'`, `table "members" row 1 field "renewal_date"`},
		{"member_applications", "no qualification", `UPDATE member_applications SET qualification = ''`,
			`table "member_applications" row 1 field "qualification"`},
		{"member_tokens", "a hash that is no hash", `UPDATE member_tokens SET hash = 'x'`, `table "member_tokens" row 1 field "hash"`},
		{"member_sessions", "an expiry that is no time", `UPDATE member_sessions SET expires_at = 'never'`,
			`table "member_sessions" row 1 field "expires_at"`},
		{"rsvps", "party of 500", `UPDATE rsvps SET party_size = 500`, `table "rsvps" row 1 field "party_size"`},
		{"stats_daily", "more visitors than views", `UPDATE stats_daily SET visitors = views + 1`, `table "stats_daily" row 2026-06-09  field "visitors"`},
		{"stats_seen", "a raw address for a visitor", `UPDATE stats_seen SET visitor = '203.0.113.9'`, `table "stats_seen" row 2026-06-09  field "visitor"`},
		{"outbox", "a line break in the subject", `UPDATE outbox SET subject = 'Hi' || char(13, 10) || 'Bcc: x@example.com'`,
			`table "outbox" row 1 field "subject": contains a line break`},
		{"outbox", "two addresses", `UPDATE outbox SET to_addr = 'a@example.org, b@example.org'`, `table "outbox" row 1 field "to"`},
		{"outbox", "a 300 KB HTML body", `UPDATE outbox SET html_body = ` + long(300_000), `table "outbox" row 1 field "html"`},
		{"outbox", "sent without a time", `UPDATE outbox SET status = 'sent'`, `table "outbox" row 1 field "sent_at"`},
		{"mail_tokens", "not a hash", `UPDATE mail_tokens SET token_hash = 'the-token-itself'`, `table "mail_tokens" row 1 field "token_hash"`},
		{"mail_tokens", "unknown purpose", `UPDATE mail_tokens SET purpose = 'root'`, `table "mail_tokens" row 1 field "purpose"`},
		{"media_variants", "a copy as wide as claimed", `UPDATE media_variants SET width = 321`, `table "media_variants" row `},
		{"media_variants", "bytes not matching their hash", `UPDATE media_variants SET data = CAST('other' AS BLOB), size = 5`, `do not match their recorded sha256`},
		{"documents", "long title", `UPDATE documents SET title = ` + long(201), `table "documents" row `},
		{"documents", "HTML recorded as a PDF", fmt.Sprintf(`UPDATE documents SET data = CAST('%s' AS BLOB), size = %d, sha256 = '%x'`, html, len(html), htmlSum),
			`is not a PDF or an office document (it looks like text/html)`},
		{"albums", "not a date", `UPDATE albums SET dated = 'yesterday'`, `table "albums" row 1 field "dated"`},
		{"album_photos", "long caption", `UPDATE album_photos SET caption = ` + long(501), `table "album_photos" row 1 field "caption"`},
		{"messages", "too many rows", `INSERT INTO messages (name, email, body, created_at)
			WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
			SELECT 'Visitor', 'v@example.org', 'Hello', '2026-01-01T00:00:00Z' FROM n`, `table "messages" has more than 100000 rows`},
	}
}

// TestImportValidatesEveryTable makes one row of each table of an export
// invalid or oversized, as the API would refuse it, and checks that the
// import is refused naming the table, the row and the field, and leaves
// nothing behind. It fails when a table is added without a case here
// (and a check in validateAll).
func TestImportValidatesEveryTable(t *testing.T) {
	ctx := context.Background()
	valid := validExport(t)
	cases := invalidRows()
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.table] = true
		t.Run(tc.table+" "+tc.name, func(t *testing.T) {
			work := t.TempDir()
			im, err := PrepareImport(ctx, tenanttest.Alter(t, valid, tc.stmt), work, 1<<30)
			if err == nil {
				im.Discard()
				t.Fatalf("accepted, want a rejection saying %q", tc.want)
			}
			if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want a rejection saying %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(work); len(entries) != 0 {
				t.Errorf("the rejected import left %d entries in the work dir", len(entries))
			}
		})
	}
	db := openTenant(t)
	tables, err := userTables(ctx, db.r)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		if !covered[table] {
			t.Errorf("table %q has no case here: add one, and its check to validateAll", table)
		}
	}
}

// An export at an older schema version imports and is migrated up. While
// the real schema has one version only, a test migration 2 (a new column)
// stands in for the next one, so the path is exercised today.
func TestImportOlderVersionIsMigratedUp(t *testing.T) {
	if LatestVersion() < 2 {
		withTestMigration(t)
	}
	ctx := context.Background()
	versions := migrationVersions(t)
	for _, v := range versions[:len(versions)-1] {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("v%d.db", v))
		w, err := freshAt(ctx, path, v)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.ExecContext(ctx, `INSERT INTO posts (title, slug, body, published, created_at, updated_at)
			VALUES ('Old news', 'old-news', 'From an old version', 1, '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z')`)
		must(t, err)
		_, err = w.ExecContext(ctx, `INSERT INTO site (id, name, updated_at) VALUES (1, 'Old Post', '2020-01-01T00:00:00.000Z')`)
		must(t, err)
		must(t, w.Close())
		// An export of an older version is self-contained, like any export.
		old := filepath.Join(t.TempDir(), "old-export.db")
		must(t, sqlitefile.VacuumInto(ctx, tenantSchema, path, old))

		im, err := PrepareImport(ctx, old, t.TempDir(), 1<<30)
		if err != nil {
			t.Fatalf("import of version %d: %v", v, err)
		}
		raw, err := sql.Open("sqlite", "file:"+im.Path+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		var uv int64
		var title string
		raw.QueryRow("PRAGMA user_version").Scan(&uv)
		raw.QueryRow("SELECT title FROM posts").Scan(&title)
		got, err := readSchema(ctx, raw)
		raw.Close()
		if err != nil {
			t.Fatal(err)
		}
		if uv != LatestVersion() || title != "Old news" || im.SourceVersion != v {
			t.Errorf("version %d import: now at %d, post %q, source %d", v, uv, title, im.SourceVersion)
		}
		want, err := referenceSchema(ctx, LatestVersion(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if err := compareSchema(got, want); err != nil {
			t.Errorf("version %d import is not at the latest schema: %v", v, err)
		}
		im.Discard()
	}
}

// withTestMigration gives the tenant schema a migration 2 for the rest of
// the test.
func withTestMigration(t *testing.T) {
	t.Helper()
	real := tenantSchema
	init, err := fs.ReadFile(real.FS, "00001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	tenantSchema = sqlitefile.NewSchema("tenant", fstest.MapFS{
		"00001_init.sql": {Data: init},
		"00002_subtitle.sql": {Data: []byte("-- +goose Up\nALTER TABLE posts ADD COLUMN subtitle TEXT NOT NULL DEFAULT '';\n" +
			"-- +goose Down\nALTER TABLE posts DROP COLUMN subtitle;\n")},
	}, tenantVFS)
	references.Clear()
	t.Cleanup(func() {
		tenantSchema = real
		references.Clear()
	})
	if LatestVersion() != 2 {
		t.Fatalf("test schema at version %d", LatestVersion())
	}
}
