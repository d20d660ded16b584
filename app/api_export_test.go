package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
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
	token := ls.login(t, "alpha", email, password)
	out, errOut, err := ls.cli(t, "", "admin", "add", "alpha", "editor@alpha.example.org", "--role", "editor")
	if err != nil {
		t.Fatalf("admin add: %v %s", err, errOut)
	}
	editor := ls.login(t, "alpha", "editor@alpha.example.org", passwordLine.FindStringSubmatch(out)[1])
	betaOwner := ls.login(t, "beta", otherEmail, otherPassword)
	c := ls.client()
	url := ls.url("alpha", "/api/export")

	for _, tc := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"anonymous", nil, http.StatusUnauthorized},
		{"editor", bearer(editor), http.StatusForbidden},
		{"another tenant's owner", bearer(betaOwner), http.StatusUnauthorized},
	} {
		if r := ls.do(t, c, "GET", url, nil, tc.headers...); r.status != tc.want || len(r.body) > 1000 {
			t.Errorf("%s: %d (%d bytes), want %d", tc.name, r.status, len(r.body), tc.want)
		}
	}

	w := apiWriters(t, ls.addr, ls.base, ls.port, "alpha", token, 3)
	w.waitFor(t, 20)
	before := w.snapshot()
	r := ls.do(t, c, "GET", url, nil, bearer(token)...)
	w.halt()
	if r.status != http.StatusOK {
		t.Fatalf("owner download: %d %s", r.status, r.body)
	}
	if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="alpha-`) || !strings.HasSuffix(cd, `.chapterhouse.db"`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	if r.header.Get("Content-Type") != "application/vnd.sqlite3" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", r.header)
	}
	sum := sha256.Sum256(r.body)
	if got := hex.EncodeToString(sum[:]); got != r.header.Get("X-Content-SHA256") {
		t.Errorf("body sha256 %s, header says %s", got, r.header.Get("X-Content-SHA256"))
	}
	file := filepath.Join(t.TempDir(), "download.db")
	writeFile(t, file, string(r.body))
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
	// The download is an export like any: it imports.
	if out, errOut, err := ls.cli(t, "", "import", "alpha-copy", file); err != nil {
		t.Fatalf("import of the download: %v %s %s", err, out, errOut)
	}
	if r := ls.do(t, c, "POST", url, nil, bearer(token)...); r.status != http.StatusMethodNotAllowed && r.status != http.StatusNotFound {
		t.Errorf("POST /api/export: %d", r.status)
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
	owner, editor := ls.client(), ls.client()
	ls.dashLogin(t, owner, ls.host("alpha"), email, password)
	ls.dashLogin(t, editor, ls.host("alpha"), "editor@alpha.example.org", editorPassword)

	home := ls.form(t, owner, ls.host("alpha"), "/admin", nil)
	if !strings.Contains(home.body, `href="/admin/export"`) {
		t.Fatalf("the owner's dashboard has no download button:\n%.2000s", home.body)
	}
	p := ls.form(t, owner, ls.host("alpha"), "/admin/export", nil)
	if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Disposition"), "attachment;") || !strings.HasPrefix(p.body, "SQLite format 3\x00") {
		t.Fatalf("download from the dashboard: %d %v", p.status, p.header)
	}
	if home := ls.form(t, editor, ls.host("alpha"), "/admin", nil); strings.Contains(home.body, "/admin/export") {
		t.Error("an editor's dashboard offers the download")
	}
	if p := ls.form(t, editor, ls.host("alpha"), "/admin/export", nil); p.status != http.StatusForbidden || strings.HasPrefix(p.body, "SQLite") {
		t.Errorf("editor download: %d", p.status)
	}
	if p := ls.form(t, ls.client(), ls.host("alpha"), "/admin/export", nil); p.status != http.StatusSeeOther {
		t.Errorf("anonymous download: %d, want a redirect to the login", p.status)
	}
}
