package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTenantSQLReadsALiveOrStoppedTenant runs `tenant sql` on a tenant
// with the server running (the command is forwarded over the control
// socket: the tenant file is locked by the server) and after it stopped
// (the command opens the data dir itself): a SELECT prints a table or
// JSON, with --limit's rows at most.
func TestTenantSQLReadsALiveOrStoppedTenant(t *testing.T) {
	s := startLive(t)
	s.newTenant(t, "alpha")
	check := func(t *testing.T) {
		t.Helper()
		code, out, errOut := runCLI(t, s.dir, "", "tenant", "sql", "alpha", "SELECT email, role FROM admins")
		if code != 0 || !strings.Contains(out, "email") || !strings.Contains(out, "owner@alpha.example.org  owner") {
			t.Errorf("tenant sql SELECT: exit %d\n%s%s", code, out, errOut)
		}
		code, out, errOut = runCLI(t, s.dir, "", "tenant", "sql", "alpha", "--json", "--limit", "2",
			"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 5) SELECT i, 'row ' || i AS label FROM n")
		var res struct {
			Columns []string
			Rows    [][]any
			More    bool
		}
		if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil {
			t.Fatalf("tenant sql --json: exit %d, %v\n%s%s", code, err, out, errOut)
		}
		if len(res.Rows) != 2 || !res.More || res.Rows[1][1] != "row 2" || strings.Join(res.Columns, ",") != "i,label" {
			t.Errorf("tenant sql --json --limit 2 = %+v, want 2 rows of (i, label) and more", res)
		}
	}
	t.Run("forwarded to the server", check)
	s.stop()
	t.Run("offline", check)
}

// TestTenantSQLRefusesWhatIsNotARead gives `tenant sql` statements that
// write, attach a file, change the connection or the schema, or begin a
// transaction, to a live server and offline: each is refused with a
// non-zero exit and a message saying so, and the tenant's digest and the
// data dir are as before.
func TestTenantSQLRefusesWhatIsNotARead(t *testing.T) {
	s := startLive(t)
	s.newTenant(t, "alpha")
	evil := filepath.Join(t.TempDir(), "evil.db")
	statements := []string{
		"UPDATE admins SET role = 'editor'",
		"DELETE FROM admins",
		"INSERT INTO posts (title) VALUES ('x')",
		"WITH x AS (SELECT 1) DELETE FROM admins",
		"SELECT 1; DELETE FROM admins",
		"ATTACH '" + evil + "' AS evil",
		"PRAGMA query_only = 0",
		"PRAGMA writable_schema = 1",
		"PRAGMA user_version = 99",
		"DROP TABLE admins",
		"CREATE TABLE t (x)",
		"CREATE TEMP TABLE t (x)",
		"BEGIN IMMEDIATE",
		"VACUUM",
	}
	digest := func() string {
		t.Helper()
		code, out, errOut := runCLI(t, s.dir, "", "tenant", "digest", "alpha")
		if code != 0 {
			t.Fatalf("tenant digest: %d %s", code, errOut)
		}
		return out
	}
	for _, mode := range []string{"forwarded", "offline"} {
		if mode == "offline" {
			s.stop()
		}
		before := digest()
		for _, stmt := range statements {
			code, out, errOut := runCLI(t, s.dir, "", "tenant", "sql", "alpha", stmt)
			if code == 0 || !strings.Contains(errOut, "only statements that read run here") {
				t.Errorf("%s: tenant sql %q: exit %d, want it refused\n%s%s", mode, stmt, code, out, errOut)
			}
		}
		if after := digest(); after != before {
			t.Errorf("%s: refused statements changed the tenant: digest %s, was %s", mode, after, before)
		}
		if _, err := os.Stat(evil); !os.IsNotExist(err) {
			t.Errorf("%s: ATTACH made %s", mode, evil)
		}
		code, _, errOut := runCLI(t, s.dir, "", "tenant", "sql", "alpha", "SELECT count(*) FROM admins WHERE role = 'owner'")
		if code != 0 {
			t.Errorf("%s: a SELECT after the refusals: exit %d %s", mode, code, errOut)
		}
	}
}
