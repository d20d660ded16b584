package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

func TestAPIExportDownload(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "alpha")
	otherEmail, otherPassword := ls.newTenant(t, "beta")
	token := ls.Login(t, "alpha", email, password)
	out, errOut, err := ls.cli(t, "", "admin", "add", "alpha", "editor@alpha.example.org", "--role", "editor")
	if err != nil {
		t.Fatalf("admin add: %v %s", err, errOut)
	}
	editor := ls.Login(t, "alpha", "editor@alpha.example.org", passwordLine.FindStringSubmatch(out)[1])
	betaOwner := ls.Login(t, "beta", otherEmail, otherPassword)
	c := ls.Browser()
	url := ls.SiteURL("alpha", "/api/export")

	for _, tc := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"anonymous", nil, http.StatusUnauthorized},
		{"editor", webtest.Bearer(editor), http.StatusForbidden},
		{"another tenant's owner", webtest.Bearer(betaOwner), http.StatusUnauthorized},
	} {
		if r := ls.Call(t, c, "POST", url, nil, tc.headers...); r.Status != tc.want || len(r.Body) > 1000 {
			t.Errorf("%s: %d (%d bytes), want %d", tc.name, r.Status, len(r.Body), tc.want)
		}
	}

	w := apiWriters(t, ls.Addr, ls.base, ls.Port(), "alpha", token, 3)
	w.waitFor(t, 20)
	before := w.snapshot()
	r := ls.Call(t, c, "POST", url, nil, webtest.Bearer(token)...)
	w.halt()
	if r.Status != http.StatusOK {
		t.Fatalf("owner download: %d %s", r.Status, r.Body)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="alpha-`) || !strings.HasSuffix(cd, `.chapterhouse.db"`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	if r.Header.Get("Content-Type") != "application/vnd.sqlite3" || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", r.Header)
	}
	sum := sha256.Sum256(r.Body)
	if got := hex.EncodeToString(sum[:]); got != r.Header.Get("X-Content-SHA256") {
		t.Errorf("body sha256 %s, header says %s", got, r.Header.Get("X-Content-SHA256"))
	}
	file := filepath.Join(t.TempDir(), "download.db")
	writeFile(t, file, string(r.Body))
	if _, err := tenantdb.CheckTenantFile(context.Background(), file); err != nil {
		t.Fatalf("downloaded export: %v", err)
	}
	titles := postTitles(t, file)
	for _, title := range before {
		if !titles[title] {
			t.Errorf("download lacks %q, acknowledged before it began", title)
		}
	}
	if !auditHas(t, ls.dir, "tenant.export.download", tenantID(t, ls.dir, "alpha")) {
		t.Error("no tenant.export.download in the audit log")
	}
	if files := webtest.Files(t, filepath.Join(ls.dir, "tmp")); len(files) != 0 {
		t.Errorf("download left %v in DATA/tmp", files)
	}
	// The download is an export like any: it imports, to the same rows.
	downloaded, err := tenantdb.FileDigest(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := ls.cli(t, "", "import", "alpha-copy", file); err != nil {
		t.Fatalf("import of the download: %v %s %s", err, out, errOut)
	}
	if got := digestOf(t, ls, "alpha-copy"); got != downloaded.Sum() {
		t.Errorf("the imported download has digest %s, the download %s", got, downloaded.Sum())
	}
	if r := ls.Call(t, c, "GET", url, nil, webtest.Bearer(token)...); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/export: %d, want 405 (it is a POST)", r.Status)
	}
	os.Remove(file)
}

// The dashboard offers owners the download; editors neither see nor get it.
func TestDashboardDownloadButton(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "alpha")
	out, _, err := ls.cli(t, "", "admin", "add", "alpha", "editor@alpha.example.org", "--role", "editor")
	if err != nil {
		t.Fatal(out)
	}
	editorPassword := passwordLine.FindStringSubmatch(out)[1]
	owner, editor := ls.Browser(), ls.Browser()
	ls.DashLogin(t, owner, webtest.Host("alpha"), email, password)
	ls.DashLogin(t, editor, webtest.Host("alpha"), "editor@alpha.example.org", editorPassword)

	home := ls.Form(t, owner, webtest.Host("alpha"), "/admin", nil)
	if !strings.Contains(home.Body, `action="/admin/export"`) {
		t.Fatalf("the owner's dashboard has no download button:\n%.2000s", home.Body)
	}
	p := ls.Form(t, owner, webtest.Host("alpha"), "/admin/export", url.Values{"csrf_token": {webtest.CSRFToken(home.Body)}})
	if p.Status != http.StatusOK || !strings.HasPrefix(p.Header.Get("Content-Disposition"), "attachment;") || !strings.HasPrefix(p.Body, "SQLite format 3\x00") {
		t.Fatalf("download from the dashboard: %d %v", p.Status, p.Header)
	}
	// It is a whole export of this tenant: it passes the checks and holds
	// exactly the live tenant's rows (nothing writes meanwhile).
	file := filepath.Join(t.TempDir(), "dashboard.db")
	writeFile(t, file, p.Body)
	if _, err := tenantdb.CheckTenantFile(context.Background(), file); err != nil {
		t.Fatalf("the dashboard's download is not a sound export: %v", err)
	}
	if d, err := tenantdb.FileDigest(context.Background(), file); err != nil || d.Sum() != digestOf(t, ls, "alpha") {
		t.Errorf("the dashboard's download is not alpha's content (%v)", err)
	}
	if home := ls.Form(t, editor, webtest.Host("alpha"), "/admin", nil); strings.Contains(home.Body, "/admin/export") {
		t.Error("an editor's dashboard offers the download")
	}
	edHome := ls.Form(t, editor, webtest.Host("alpha"), "/admin", nil)
	if p := ls.Form(t, editor, webtest.Host("alpha"), "/admin/export", url.Values{"csrf_token": {webtest.CSRFToken(edHome.Body)}}); p.Status != http.StatusForbidden || strings.HasPrefix(p.Body, "SQLite") {
		t.Errorf("editor download: %d", p.Status)
	}
	if p := ls.Form(t, ls.Browser(), webtest.Host("alpha"), "/admin/export", url.Values{}); p.Status != http.StatusSeeOther {
		t.Errorf("anonymous download: %d, want a redirect to the login", p.Status)
	}
}
