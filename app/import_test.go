package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/tenanttest"
)

// crawl fetches every page of a tenant's public site reachable from "/"
// by local links and images, and returns the status and body of each
// (host names replaced by HOST).
func crawl(t *testing.T, ls *liveServer, slug string) map[string]string {
	t.Helper()
	c := ls.Browser()
	link := regexp.MustCompile(`(?:href|src)="(/[^"/][^"]*|/)"`)
	hostName := slug + "." + ls.base
	seen := map[string]string{}
	queue := []string{"/"}
	for len(queue) > 0 && len(seen) < 400 {
		path := queue[0]
		queue = queue[1:]
		if _, ok := seen[path]; ok {
			continue
		}
		r := ls.Call(t, c, "GET", ls.SiteURL(slug, path), nil)
		body := strings.ReplaceAll(string(r.Body), hostName, "HOST")
		// An RSVP form's one-time token is new on every view.
		body = oneTimeToken.ReplaceAllString(body, `name="token" value="TOKEN"`)
		seen[path] = fmt.Sprintf("%d\n%s", r.Status, body)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			continue
		}
		for _, m := range link.FindAllStringSubmatch(string(r.Body), -1) {
			p := strings.ReplaceAll(m[1], "&amp;", "&")
			if strings.HasPrefix(p, "/admin") || strings.HasPrefix(p, "/api/") {
				continue
			}
			if _, ok := seen[p]; !ok {
				queue = append(queue, p)
			}
		}
	}
	return seen
}

var oneTimeToken = regexp.MustCompile(`name="token" value="[A-Za-z0-9_-]+"`)

// Round trip: export the demo chapter, import it as a new tenant, and every
// public page of the copy is the original's but for its host name.
func TestExportImportRoundTripServesTheSameSite(t *testing.T) {
	ls := startLive(t, "--demo")
	file := filepath.Join(t.TempDir(), "demo.db")
	if out, errOut, err := ls.cli(t, "", "export", "demo", file); err != nil {
		t.Fatalf("export: %v\n%s%s", err, out, errOut)
	}
	out, errOut, err := ls.cli(t, "", "import", "copy", file)
	if err != nil {
		t.Fatalf("import: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(out, "imported") || !strings.Contains(out, "digest: ") {
		t.Errorf("import output:\n%s", out)
	}
	orig, cp := crawl(t, ls, "demo"), crawl(t, ls, "copy")
	if len(orig) < 10 {
		t.Fatalf("crawled only %d pages of the demo site: %v", len(orig), keys(orig))
	}
	t.Logf("crawled %d pages: %v", len(orig), keys(orig))
	for path, want := range orig {
		got, ok := cp[path]
		if !ok {
			t.Errorf("%s: on the original, not reachable on the copy", path)
			continue
		}
		if got != want {
			t.Errorf("%s differs:\noriginal %.300s\ncopy     %.300s", path, want, got)
		}
	}
	if len(cp) != len(orig) {
		t.Errorf("copy has %d pages, original %d", len(cp), len(orig))
	}
	for _, p := range []string{"/", "/news", "/events", "/about", "/contact"} {
		if !strings.HasPrefix(orig[p], "200\n") {
			t.Errorf("%s was not crawled as a 200 page: %.80q", p, orig[p])
		}
	}
	d1, _, _ := ls.cli(t, "", "tenant", "digest", "demo")
	d2, _, _ := ls.cli(t, "", "tenant", "digest", "copy")
	if strings.Fields(d1)[0] != strings.Fields(d2)[0] {
		t.Errorf("digests differ: %s / %s", d1, d2)
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// countRows counts the rows of table in tenant slug's live file.
func countRows(t *testing.T, dir, slug, table string) int {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+tenantdb.TenantPath(dir, tenantID(t, dir, slug))+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Hostile files are each refused with one line naming the reason and a
// non-zero exit, while the server serves; no tenant changes, nothing is
// left behind.
func TestImportRejectsHostileFilesWhileServing(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "live")
	token := ls.Login(t, "live", email, password)
	c := ls.Browser()
	for i := range 3 {
		if r := ls.Call(t, c, "POST", ls.SiteURL("live", "/api/posts"), map[string]any{"title": fmt.Sprintf("Live post %d", i), "published": true}, webtest.Bearer(token)...); r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
	}
	ls.newTenant(t, "target") // no contact messages
	valid := filepath.Join(t.TempDir(), "live.db")
	if _, errOut, err := ls.cli(t, "", "export", "live", valid); err != nil {
		t.Fatal(errOut)
	}
	validBytes, _ := os.ReadFile(valid)
	tmp := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(tmp, name)
		writeFile(t, p, string(b))
		return p
	}
	symlink := filepath.Join(tmp, "link.db")
	if err := os.Symlink(valid, symlink); err != nil {
		t.Fatal(err)
	}
	trigger := tenanttest.Alter(t, valid, `CREATE TRIGGER plant AFTER INSERT ON posts BEGIN
		INSERT INTO messages (name, email, body, created_at) VALUES ('x', 'x@example.org', 'planted', ''); END`)
	cases := []struct {
		name  string
		file  string
		flags []string
		want  string
	}{
		{"not sqlite", write("notes.txt", []byte(strings.Repeat("not a database\n", 300))), nil, "not a SQLite database"},
		{"truncated", write("half.db", validBytes[:len(validBytes)/2]), nil, "truncated"},
		{"wrong application_id", tenanttest.Alter(t, valid, "PRAGMA application_id = 7"), nil, "application_id"},
		{"version from the future", tenanttest.Alter(t, valid, fmt.Sprintf("PRAGMA user_version = %d", tenantdb.LatestVersion()+1)), nil, "newer than this Chapterhouse"},
		{"extra trigger", trigger, nil, `extra trigger "plant"`},
		{"extra view", tenanttest.Alter(t, valid, "CREATE VIEW everything AS SELECT * FROM admins"), nil, `extra view "everything"`},
		{"symlink", symlink, nil, "symbolic link"},
		{"oversize", valid, []string{"--max-size", fmt.Sprint(len(validBytes) - 1)}, "more than the import limit"},
		{"missing", filepath.Join(tmp, "nosuch.db"), nil, "no such file"},
	}
	tenantsBefore, _, _ := ls.cli(t, "", "tenant", "list", "--json")
	liveBefore, _, _ := ls.cli(t, "", "tenant", "digest", "live")
	targetBefore, _, _ := ls.cli(t, "", "tenant", "digest", "target")
	for _, tc := range cases {
		for _, args := range [][]string{
			{"import", "newcomer", tc.file},
			{"import", "live", tc.file, "--replace"},
			{"import", "target", tc.file, "--replace"},
		} {
			args = append(args, tc.flags...)
			out, errOut, err := ls.cli(t, "", args...)
			if err == nil {
				t.Errorf("%s: %v succeeded:\n%s", tc.name, args, out)
				continue
			}
			if !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("%s: %v: stderr %q, want one line saying %q", tc.name, args, errOut, tc.want)
			}
		}
	}
	if after, _, _ := ls.cli(t, "", "tenant", "list", "--json"); after != tenantsBefore {
		t.Errorf("tenants changed:\n%s\n%s", tenantsBefore, after)
	}
	if after, _, _ := ls.cli(t, "", "tenant", "digest", "live"); after != liveBefore {
		t.Errorf("live tenant changed: %s -> %s", liveBefore, after)
	}
	if after, _, _ := ls.cli(t, "", "tenant", "digest", "target"); after != targetBefore {
		t.Errorf("target tenant changed: %s -> %s", targetBefore, after)
	}
	if n := countRows(t, ls.dir, "target", "messages"); n != 0 {
		t.Errorf("the trigger's target table has %d rows, want 0", n)
	}
	if files := webtest.Files(t, filepath.Join(ls.dir, "tmp")); len(files) != 0 {
		t.Errorf("rejected imports left %v in DATA/tmp", files)
	}
	if files := webtest.Files(t, filepath.Join(ls.dir, "trash")); len(files) != 0 {
		t.Errorf("rejected imports put %v in the trash", files)
	}
	if r := ls.Call(t, c, "GET", ls.SiteURL("live", "/news"), nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "Live post 2") {
		t.Errorf("live site after the rejections: %d", r.Status)
	}

	// A valid file replaces a tenant's content at once; the old file is
	// kept in the trash. Without --replace an existing slug is refused.
	if _, errOut, err := ls.cli(t, "", "import", "target", valid); err == nil || !strings.Contains(errOut, "--replace") {
		t.Errorf("import over an existing slug without --replace: %v %q", err, errOut)
	}
	out, errOut, err := ls.cli(t, "", "import", "target", valid, "--replace")
	if err != nil {
		t.Fatalf("import --replace: %v %s", err, errOut)
	}
	if !strings.Contains(out, "trash") {
		t.Errorf("replace output does not say where the old file went:\n%s", out)
	}
	if r := ls.Call(t, c, "GET", ls.SiteURL("target", "/news"), nil); !strings.Contains(string(r.Body), "Live post 2") {
		t.Errorf("replaced tenant does not serve the new content: %d", r.Status)
	}
	liveD, _, _ := ls.cli(t, "", "tenant", "digest", "live")
	targetD, _, _ := ls.cli(t, "", "tenant", "digest", "target")
	if strings.Fields(liveD)[0] != strings.Fields(targetD)[0] {
		t.Errorf("replaced tenant's digest %s, want the imported %s", targetD, liveD)
	}
	if trashed, _ := filepath.Glob(filepath.Join(ls.dir, "trash", "*-replaced.db")); len(trashed) != 1 {
		t.Errorf("trash holds %v, want the replaced file", trashed)
	}
	if !auditHas(t, ls.dir, "tenant.import.replace", tenantID(t, ls.dir, "target")) {
		t.Error("no tenant.import.replace in the audit log")
	}
}
