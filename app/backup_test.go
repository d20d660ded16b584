package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

func digestOf(t *testing.T, ls *liveServer, slug string) string {
	t.Helper()
	out, errOut, err := ls.cli(t, "", "tenant", "digest", slug)
	if err != nil {
		t.Fatalf("digest %s: %v %s", slug, err, errOut)
	}
	return strings.Fields(out)[0]
}

func TestBackupVerifyRestoreWhileServing(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "busy")
	token := ls.Login(t, "busy", email, password)
	const quiet = 11
	for i := range quiet {
		if out, errOut, err := ls.cli(t, "", "tenant", "create", fmt.Sprintf("chapter%02d", i), "--name", fmt.Sprintf("Chapter %d", i)); err != nil {
			t.Fatalf("%v %s %s", err, out, errOut)
		}
	}
	if _, errOut, err := ls.cli(t, "", "domain", "add", "chapter03", "www.chapter3.example"); err != nil {
		t.Fatal(errOut)
	}
	ls.cli(t, "", "domain", "verify", "www.chapter3.example", "--force")

	w := apiWriters(t, ls.Addr, ls.base, ls.Port(), "busy", token, 3)
	w.waitFor(t, 20)
	before := w.snapshot()
	backup := filepath.Join(t.TempDir(), "backup")
	out, errOut, err := ls.cli(t, "", "backup", backup, "--jobs", "3")
	if err != nil {
		t.Fatalf("backup: %v\n%s%s", err, out, errOut)
	}
	w.halt()
	if len(w.errs) > 0 {
		t.Fatalf("writers failed during the backup: %v", w.errs)
	}
	if !strings.Contains(out, "backup: 12/12") || !strings.Contains(out, "backed up 12 tenants") {
		t.Errorf("backup output lacks progress or summary:\n%s", out)
	}
	var m platform.Manifest
	b, err := os.ReadFile(filepath.Join(backup, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Tenants) != quiet+1 || m.Catalog.SHA256 == "" {
		t.Fatalf("manifest has %d tenants, catalog %+v", len(m.Tenants), m.Catalog)
	}
	var busyFile string
	for _, e := range m.Tenants {
		if e.ID == "" || e.Slug == "" || e.SHA256 == "" || e.Size == 0 || e.SchemaVersion != tenantdb.LatestVersion() || e.Time.IsZero() {
			t.Errorf("manifest entry %+v lacks a field", e)
		}
		if e.Slug == "busy" {
			busyFile = filepath.Join(backup, e.File)
		}
	}
	titles := postTitles(t, busyFile)
	for _, title := range before {
		if !titles[title] {
			t.Errorf("backup lacks %q, acknowledged before the backup began", title)
		}
	}
	code, out, errOut := runCLI(t, t.TempDir()+"/no-data-needed", "", "backup", "verify", backup)
	if code != 0 || !strings.Contains(out, "is sound") {
		t.Fatalf("verify of a fresh backup: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, err := ls.cli(t, "", "backup", backup); err == nil || !strings.Contains(errOut, "not empty") {
		t.Errorf("backup into a used directory: %v %q", err, errOut)
	}

	// One flipped byte: verify fails and names the file, and only it.
	var victim platform.BackupEntry
	for _, e := range m.Tenants {
		if e.Slug == "chapter05" {
			victim = e
		}
	}
	path := filepath.Join(backup, victim.File)
	data, _ := os.ReadFile(path)
	data[len(data)/2] ^= 0x01
	writeFile(t, path, string(data))
	code, out, _ = runCLI(t, ls.dir, "", "backup", "verify", backup)
	if code == 0 {
		t.Fatalf("verify passed a backup with a flipped byte:\n%s", out)
	}
	if !strings.Contains(out, "BAD "+victim.File) || strings.Count(out, "BAD ") != 1 {
		t.Errorf("verify output does not name exactly the damaged file %s:\n%s", victim.File, out)
	}
	if _, errOut, err := ls.cli(t, "", "restore", "chapter05", "--from", backup); err == nil || !strings.Contains(errOut, "does not match the manifest") {
		t.Errorf("restore from a damaged file: %v %q", err, errOut)
	}

	// Restore one tenant: it gets its backed-up content back, the others
	// keep theirs.
	c := ls.Browser()
	if r := ls.Call(t, c, "POST", ls.SiteURL("busy", "/api/posts"), map[string]any{"title": "After the backup", "published": true}, webtest.Bearer(token)...); r.Status != http.StatusCreated {
		t.Fatalf("create: %d", r.Status)
	}
	others := map[string]string{}
	for i := range quiet {
		slug := fmt.Sprintf("chapter%02d", i)
		others[slug] = digestOf(t, ls, slug)
	}
	// The backup's rows, less its login sessions, which a restore ends.
	want, err := tenantdb.FileDigest(context.Background(), withoutSessions(t, busyFile))
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(t, ls, "busy") == want.Sum() {
		t.Fatal("the live tenant equals its backup already; the restore would prove nothing")
	}
	out, errOut, err = ls.cli(t, "", "restore", "busy", "--from", backup)
	if err != nil {
		t.Fatalf("restore: %v\n%s%s", err, out, errOut)
	}
	if got := digestOf(t, ls, "busy"); got != want.Sum() {
		t.Errorf("restored tenant digest %s, want the backup's %s", got, want.Sum())
	}
	if r := ls.Call(t, c, "GET", ls.SiteURL("busy", "/news"), nil); strings.Contains(string(r.Body), "After the backup") {
		t.Error("restored tenant still shows a post made after the backup")
	}
	for slug, d := range others {
		if got := digestOf(t, ls, slug); got != d {
			t.Errorf("restore of busy changed %s", slug)
		}
	}
	if !auditHas(t, ls.dir, "tenant.restore", tenantID(t, ls.dir, "busy")) {
		t.Error("no tenant.restore in the audit log")
	}

	// A deleted tenant comes back with its id and custom domain.
	id3 := tenantID(t, ls.dir, "chapter03")
	ls.cli(t, "", "tenant", "delete", "chapter03")
	if r := ls.Call(t, c, "GET", "http://www.chapter3.example:"+ls.Port()+"/", nil); r.Status != http.StatusNotFound {
		t.Fatalf("deleted tenant's domain: %d", r.Status)
	}
	if out, errOut, err := ls.cli(t, "", "restore", "chapter03", "--from", backup); err != nil || !strings.Contains(out, "www.chapter3.example") {
		t.Fatalf("restore of a deleted tenant: %v\n%s%s", err, out, errOut)
	}
	if got := tenantID(t, ls.dir, "chapter03"); got != id3 {
		t.Errorf("restored tenant id %s, want its old %s", got, id3)
	}
	if r := ls.Call(t, c, "GET", "http://www.chapter3.example:"+ls.Port()+"/", nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "Chapter 3") {
		t.Errorf("restored tenant's domain: %d", r.Status)
	}
	if _, errOut, err := ls.cli(t, "", "restore", "nosuch", "--from", backup); err == nil || !strings.Contains(errOut, "has no tenant") {
		t.Errorf("restore of a tenant not in the backup: %v %q", err, errOut)
	}
}

// withoutSessions is a copy of tenant file path with no login sessions.
func withoutSessions(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "no-sessions.db")
	writeFile(t, cp, string(b))
	db, err := sql.Open("sqlite", "file:"+cp)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM sessions`); err != nil {
		t.Fatal(err)
	}
	return cp
}
