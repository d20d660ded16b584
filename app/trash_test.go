package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

func trashList(t *testing.T, ls *liveServer) []platform.TrashItem {
	t.Helper()
	out, errOut, err := ls.cli(t, "", "trash", "list", "--json")
	if err != nil {
		t.Fatalf("trash list: %v %s", err, errOut)
	}
	var items []platform.TrashItem
	if err := json.Unmarshal([]byte(out), &items); err != nil {
		t.Fatal(err)
	}
	return items
}

func TestTrashListRestorePurge(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "alpha")
	token := ls.Login(t, "alpha", email, password)
	c := ls.Browser()
	if r := ls.Call(t, c, "POST", ls.SiteURL("alpha", "/api/posts"), map[string]any{"title": "Kept through the trash", "published": true}, webtest.Bearer(token)...); r.Status != http.StatusCreated {
		t.Fatalf("create: %d", r.Status)
	}
	// Logged out, so that the digest compares content only: a restore
	// ends every session (TestRestoreEndsOldSessions).
	if r := ls.Call(t, c, "POST", ls.SiteURL("alpha", "/api/logout"), nil, webtest.Bearer(token)...); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d", r.Status)
	}
	ls.newTenant(t, "beta")
	alphaID := tenantID(t, ls.dir, "alpha")
	alphaDigest := digestOf(t, ls, "alpha")
	if out, _, _ := ls.cli(t, "", "trash", "list"); !strings.Contains(out, "empty") {
		t.Errorf("trash list of an empty trash: %q", out)
	}
	ls.cli(t, "", "tenant", "delete", "alpha")
	ls.cli(t, "", "tenant", "delete", "beta")
	items := trashList(t, ls)
	if len(items) != 2 {
		t.Fatalf("trash has %d entries, want 2: %+v", len(items), items)
	}
	var alphaFile, betaFile string
	for _, it := range items {
		if !it.Recorded || it.Missing || it.Size == 0 {
			t.Errorf("trash entry %+v", it)
		}
		switch it.Slug {
		case "alpha":
			alphaFile = it.File
		case "beta":
			betaFile = it.File
		}
	}
	out, errOut, err := ls.cli(t, "", "trash", "restore", alphaFile)
	if err != nil {
		t.Fatalf("trash restore: %v %s", err, errOut)
	}
	if !strings.Contains(out, "restored") {
		t.Errorf("restore output %q", out)
	}
	if r := ls.Call(t, c, "GET", ls.SiteURL("alpha", "/news"), nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "Kept through the trash") {
		t.Errorf("restored tenant: %d", r.Status)
	}
	if got := tenantID(t, ls.dir, "alpha"); got != alphaID {
		t.Errorf("restored id %s, want %s", got, alphaID)
	}
	if got := digestOf(t, ls, "alpha"); got != alphaDigest {
		t.Errorf("restored content digest %s, want %s", got, alphaDigest)
	}
	// Its old admin logs in again.
	ls.Login(t, "alpha", email, password)

	ls.newTenant(t, "beta")
	if _, errOut, err := ls.cli(t, "", "trash", "restore", betaFile); err == nil || !strings.Contains(errOut, "already exists") {
		t.Errorf("restore over a taken slug: %v %q", err, errOut)
	}
	for _, bad := range []string{"../catalog.db", "nosuch.db", "/etc/passwd"} {
		if _, errOut, err := ls.cli(t, "", "trash", "restore", bad); err == nil {
			t.Errorf("trash restore %q succeeded", bad)
		} else if strings.Count(errOut, "\n") > 2 {
			t.Errorf("trash restore %q: %q", bad, errOut)
		}
	}
	if _, errOut, err := ls.cli(t, "", "trash", "restore", betaFile, "--slug", "beta-old"); err != nil {
		t.Fatalf("restore as another slug: %v %s", err, errOut)
	}
	if r := ls.Call(t, c, "GET", ls.SiteURL("beta-old", "/"), nil); r.Status != http.StatusOK {
		t.Errorf("beta-old: %d", r.Status)
	}
	if len(trashList(t, ls)) != 0 {
		t.Error("restored entries are still in the trash")
	}

	ls.cli(t, "", "tenant", "delete", "beta-old")
	if _, errOut, err := ls.cli(t, "", "trash", "purge"); err == nil || !strings.Contains(errOut, "--older-than") {
		t.Errorf("purge without --older-than: %v %q", err, errOut)
	}
	if _, errOut, err := ls.cli(t, "", "trash", "purge", "--older-than", "soon"); err == nil || !strings.Contains(errOut, "not a duration") {
		t.Errorf("purge with a bad duration: %v %q", err, errOut)
	}
	out, _, _ = ls.cli(t, "", "trash", "purge", "--older-than", "30d")
	if !strings.Contains(out, "purged 0 files") || len(trashList(t, ls)) != 1 {
		t.Errorf("purge of nothing old: %q", out)
	}
	out, errOut, err = ls.cli(t, "", "trash", "purge", "--older-than", "0s")
	if err != nil || !strings.Contains(out, "purged 1 files") {
		t.Fatalf("purge all: %v %q %q", err, out, errOut)
	}
	if files, _ := filepath.Glob(filepath.Join(ls.dir, "trash", "*")); len(files) != 0 {
		t.Errorf("files left in the trash after purging: %v", files)
	}
	if len(trashList(t, ls)) != 0 {
		t.Error("purged entries still listed")
	}
	if _, err := os.Stat(filepath.Join(ls.dir, "trash")); err != nil {
		t.Errorf("the trash dir itself went away: %v", err)
	}
}

// TestRestoreEndsOldSessions: a tenant brought back (from the trash, or
// from a backup over it or after its deletion) keeps its id, hence its
// token key, but not its logins: the API token and the dashboard cookie
// its admins held are dead, and they log in again.
func TestRestoreEndsOldSessions(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "alpha")
	host := webtest.Host("alpha")
	loggedIn := func() (token string, browser *http.Client) {
		browser = ls.Browser()
		ls.DashLogin(t, browser, host, email, password)
		return ls.Login(t, "alpha", email, password), browser
	}
	dead := func(how, token string, browser *http.Client) {
		t.Helper()
		if r := ls.Call(t, ls.Browser(), "GET", ls.SiteURL("alpha", "/api/me"), nil, webtest.Bearer(token)...); r.Status != http.StatusUnauthorized {
			t.Errorf("after %s, the old API token: %d, want 401", how, r.Status)
		}
		if p := ls.Form(t, browser, host, "/admin", nil); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/admin/login") {
			t.Errorf("after %s, the old dashboard cookie: %d %q, want a redirect to the login", how, p.Status, p.Location)
		}
		ls.Login(t, "alpha", email, password)
	}

	token, browser := loggedIn()
	if r := ls.Call(t, ls.Browser(), "GET", ls.SiteURL("alpha", "/api/me"), nil, webtest.Bearer(token)...); r.Status != http.StatusOK {
		t.Fatalf("the token before the delete: %d", r.Status)
	}
	ls.cli(t, "", "tenant", "delete", "alpha")
	var file string
	for _, it := range trashList(t, ls) {
		if it.Slug == "alpha" {
			file = it.File
		}
	}
	if _, errOut, err := ls.cli(t, "", "trash", "restore", file); err != nil {
		t.Fatalf("trash restore: %v %s", err, errOut)
	}
	dead("a trash restore", token, browser)

	// From a backup: of a live tenant (its file swapped), and of a
	// deleted one (brought back with its id).
	backup := filepath.Join(t.TempDir(), "backup")
	token, browser = loggedIn()
	if _, errOut, err := ls.cli(t, "", "backup", backup); err != nil {
		t.Fatalf("backup: %v %s", err, errOut)
	}
	if _, errOut, err := ls.cli(t, "", "restore", "alpha", "--from", backup); err != nil {
		t.Fatalf("restore over the live tenant: %v %s", err, errOut)
	}
	dead("a restore over the live tenant", token, browser)
	token, browser = loggedIn()
	backup = filepath.Join(t.TempDir(), "backup")
	if _, errOut, err := ls.cli(t, "", "backup", backup); err != nil {
		t.Fatalf("backup: %v %s", err, errOut)
	}
	ls.cli(t, "", "tenant", "delete", "alpha")
	if _, errOut, err := ls.cli(t, "", "restore", "alpha", "--from", backup); err != nil {
		t.Fatalf("restore of the deleted tenant: %v %s", err, errOut)
	}
	dead("a restore of the deleted tenant", token, browser)
}
