package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// startNATS runs a real NATS server with JetStream (file storage in a
// temp dir) in this process on a loopback port, and returns its
// nats://127.0.0.1:PORT URL.
func startNATS(t testing.TB) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("the NATS server did not start")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL()
}

// replicaState is one database in `replica status --json`.
type replicaState struct {
	Name      string `json:"name"`
	Local     uint64 `json:"local_txid"`
	TXID      uint64 `json:"replicated_txid"`
	LastError string `json:"last_error"`
}

func (ls *liveServer) replicaStatus(t *testing.T, slug string) replicaState {
	t.Helper()
	out, errOut, err := ls.cli(t, "", "replica", "status", slug, "--json")
	if err != nil {
		t.Fatalf("replica status %s: %v %s", slug, err, errOut)
	}
	var st struct{ Databases []replicaState }
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Databases) != 1 {
		t.Fatalf("replica status --json: %v\n%s", err, out)
	}
	return st.Databases[0]
}

// awaitReplicated waits until the replica holds a transaction of slug
// newer than after (the local position before a write), and all the
// tenant has converted; it returns that position.
func (ls *liveServer) awaitReplicated(t *testing.T, slug string, after uint64) uint64 {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s := ls.replicaStatus(t, slug); s.TXID > after && s.TXID == s.Local {
			return s.TXID
		}
	}
	t.Fatalf("%s never reached the replica past txid %d: %+v", slug, after, ls.replicaStatus(t, slug))
	return 0
}

// syncReplica has every tenant's committed writes shipped now: replica
// verify syncs each tenant before comparing it with its replica.
func (ls *liveServer) syncReplica(t *testing.T) {
	t.Helper()
	if out, errOut, err := ls.cli(t, "", "replica", "verify", "--sample", "0"); err != nil {
		t.Fatalf("replica verify: %v\n%s%s", err, out, errOut)
	}
}

func (ls *liveServer) post(t *testing.T, c *http.Client, token, slug, title string) {
	t.Helper()
	r := ls.Call(t, c, "POST", ls.SiteURL(slug, "/api/posts"), map[string]any{"title": title, "published": true}, webtest.Bearer(token)...)
	if r.Status != http.StatusCreated {
		t.Fatalf("post %q on %s: %d %s", title, slug, r.Status, r.Body)
	}
}

func (ls *liveServer) postTitles(t *testing.T, slug string) string {
	t.Helper()
	out, errOut, err := ls.cli(t, "", "tenant", "sql", slug, "SELECT title FROM posts ORDER BY title")
	if err != nil {
		t.Fatalf("tenant sql %s: %v %s", slug, err, errOut)
	}
	return out
}

func (ls *liveServer) digest(t *testing.T, slug string) string {
	t.Helper()
	out, errOut, err := ls.cli(t, "", "tenant", "digest", slug)
	if err != nil {
		t.Fatalf("tenant digest %s: %v %s", slug, err, errOut)
	}
	return out
}

// Point-in-time restore of one chapter, against a directory and a real
// NATS JetStream object store: write A, note the time, write B, restore
// --at that time: A is there, B is not, and the other tenant is
// untouched. --as restores beside it; a time before the replica's first
// sync, a bad time and a tampered replica are refused and change nothing.
func TestReplicaPointInTime(t *testing.T) {
	for _, target := range []string{"file", "nats"} {
		t.Run(target, func(t *testing.T) {
			url := "file://" + filepath.Join(t.TempDir(), "replica")
			if target == "nats" {
				url = startNATS(t) + "/chapters"
			}
			ls := startLive(t, "--replica", url)
			email, pw := ls.newTenant(t, "alpha")
			ls.newTenant(t, "beta")
			c := ls.Browser()
			token := ls.Login(t, "alpha", email, pw)
			before := ls.replicaStatus(t, "alpha").Local // the login opened it
			ls.post(t, c, token, "alpha", "Post A")
			pos := ls.awaitReplicated(t, "alpha", before) // shipped by itself
			ls.syncReplica(t)                             // and all of it, now
			at := time.Now()
			time.Sleep(2 * time.Millisecond) // the replica stamps in ms
			beta := ls.digest(t, "beta")
			ls.post(t, c, token, "alpha", "Post B")
			ls.awaitReplicated(t, "alpha", pos)
			if got := ls.postTitles(t, "alpha"); !strings.Contains(got, "Post A") || !strings.Contains(got, "Post B") {
				t.Fatalf("before the restore: %s", got)
			}

			out, errOut, err := ls.cli(t, "", "restore", "alpha", "--as", "alpha-then", "--at", at.Format(time.RFC3339Nano))
			if err != nil {
				t.Fatalf("restore --as: %v\n%s%s", err, out, errOut)
			}
			if got := ls.postTitles(t, "alpha-then"); !strings.Contains(got, "Post A") || strings.Contains(got, "Post B") {
				t.Errorf("alpha-then (restored beside) has posts %s, want Post A only", got)
			}
			if got := ls.postTitles(t, "alpha"); !strings.Contains(got, "Post B") {
				t.Errorf("a restore --as changed alpha: %s", got)
			}

			live := ls.digest(t, "alpha")
			for _, bad := range [][]string{
				{"--at", "yesterday"},
				{"--at", at.Add(-time.Hour).Format(time.RFC3339)},
				{"--at", time.Now().Add(time.Hour).Format(time.RFC3339)},
			} {
				out, errOut, err := ls.cli(t, "", append([]string{"restore", "alpha"}, bad...)...)
				if err == nil {
					t.Errorf("restore alpha %v: no error\n%s", bad, out)
				}
				t.Logf("restore alpha %v: %v %s", bad, err, errOut)
			}
			if _, errOut, err := ls.cli(t, "", "restore", "alpha", "--at", at.Add(-time.Hour).Format(time.RFC3339)); err == nil || !strings.Contains(errOut, "not available in the replica") {
				t.Errorf("restore before the first sync: %v %s, want a 'not available in the replica' error", err, errOut)
			}
			if got := ls.digest(t, "alpha"); got != live {
				t.Errorf("refused restores changed alpha")
			}

			out, errOut, err = ls.cli(t, "", "restore", "alpha", "--at", at.Format(time.RFC3339Nano))
			if err != nil {
				t.Fatalf("restore: %v\n%s%s", err, out, errOut)
			}
			t.Log(out)
			if got := ls.postTitles(t, "alpha"); !strings.Contains(got, "Post A") || strings.Contains(got, "Post B") {
				t.Errorf("after restore --at: posts %s, want Post A only", got)
			}
			// The site serves the restored content, and keeps replicating.
			if code, body := ls.Fetch(t, "alpha", "/"); code != http.StatusOK || strings.Contains(body, "Post B") {
				t.Errorf("alpha's home page after the restore: %d, has Post B: %v", code, strings.Contains(body, "Post B"))
			}
			ls.post(t, c, token, "alpha", "Post C")
			ls.awaitReplicated(t, "alpha", ls.replicaStatus(t, "alpha").TXID)
			if got := ls.digest(t, "beta"); got != beta {
				t.Errorf("restoring alpha changed beta: %s, was %s", got, beta)
			}
			if code, body := webtest.GetURL(t, ls.ops+"/metrics"); code != 200 || !strings.Contains(body, `chapterhouse_operation_duration_seconds_count{op="replica_restore"} 2`) ||
				!strings.Contains(body, "chapterhouse_replica_lag_seconds_count") {
				t.Errorf("/metrics lacks the restores or the lag histogram:\n%s", grepLines(body, "replica"))
			} else if file := strings.Contains(body, "chapterhouse_replica_index_files"); target == "file" && file {
				t.Errorf("a file replica has a bucket index metric:\n%s", grepLines(body, "replica"))
			}
			if target == "nats" {
				// alpha's uploads (A, B, C) at least: the bucket's index
				// follows them.
				if n := metricValue(t, ls.ops, "chapterhouse_replica_index_files"); n < 3 {
					t.Errorf("chapterhouse_replica_index_files %v, want at least 3", n)
				}
				// Nothing was cut short; the counter is there.
				if n := metricValue(t, ls.ops, "chapterhouse_replica_incomplete_objects_total"); n != 0 {
					t.Errorf("chapterhouse_replica_incomplete_objects_total %v, want 0", n)
				}
			}
		})
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A replica whose files were tampered with or truncated is refused on
// restore with a clear error, and the live tenant does not change.
func TestReplicaHostile(t *testing.T) {
	rep := filepath.Join(t.TempDir(), "replica")
	ls := startLive(t, "--replica", "file://"+rep)
	email, pw := ls.newTenant(t, "alpha")
	c := ls.Browser()
	token := ls.Login(t, "alpha", email, pw)
	before := ls.replicaStatus(t, "alpha").Local // the login opened it
	ls.post(t, c, token, "alpha", "Post A")
	ls.awaitReplicated(t, "alpha", before)
	ls.syncReplica(t)
	at := time.Now()
	id := strings.TrimSpace(tenantField(t, ls, "alpha"))
	ltxFiles := func() []string {
		files, _ := filepath.Glob(filepath.Join(rep, id, "ltx", "*", "*.ltx"))
		return files
	}
	if len(ltxFiles()) == 0 {
		t.Fatalf("no LTX files in the replica of %s", id)
	}
	live := ls.digest(t, "alpha")
	if out, errOut, err := ls.cli(t, "", "replica", "verify", "--sample", "0"); err != nil {
		t.Fatalf("replica verify of a sound replica: %v\n%s%s", err, out, errOut)
	}
	for _, harm := range []string{"tampered", "truncated"} {
		// The server goes on replicating (a compaction writes new files
		// from the live file): a restore that succeeded while files were
		// written beside the harmed ones proves nothing, and is tried
		// again with those harmed too.
		for try := 0; ; try++ {
			files := ltxFiles()
			saved := map[string][]byte{}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				saved[f] = b
				bad := append([]byte(nil), b...)
				if harm == "tampered" {
					for i := len(bad) / 2; i < len(bad)/2+16 && i < len(bad); i++ {
						bad[i] ^= 0x5a
					}
				} else {
					bad = bad[:len(bad)/2]
				}
				if err := os.WriteFile(f, bad, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			restore := func() {
				for f, b := range saved {
					os.WriteFile(f, b, 0o600)
				}
			}
			out, errOut, err := ls.cli(t, "", "restore", "alpha", "--at", at.Format(time.RFC3339Nano))
			if err == nil && !slices.Equal(files, ltxFiles()) && try < 5 {
				restore()
				continue
			}
			if err == nil {
				t.Errorf("restore from a %s replica: no error\n%s", harm, out)
			}
			if out, _, err := ls.cli(t, "", "replica", "verify", "--sample", "0"); (err == nil || !strings.Contains(out, "BAD alpha")) && slices.Equal(files, ltxFiles()) {
				t.Errorf("replica verify of a %s replica: %v\n%s", harm, err, out)
			}
			t.Logf("%s: %v %s", harm, err, errOut)
			if out, errOut, err := ls.cli(t, "", "restore", "alpha", "--as", "alpha-"+harm, "--at", "0s ago"); err == nil && slices.Equal(files, ltxFiles()) {
				t.Errorf("restore --as of the newest state from a %s replica: no error\n%s", harm, out)
			} else {
				t.Logf("%s, newest: %v %s", harm, err, errOut)
			}
			if got := ls.digest(t, "alpha"); got != live {
				t.Errorf("a refused restore (%s replica) changed the live tenant", harm)
			}
			restore()
			break
		}
	}
}

// tenantField is tenant slug's id, from tenant list --json.
func tenantField(t *testing.T, ls *liveServer, slug string) string {
	t.Helper()
	out, _, err := ls.cli(t, "", "tenant", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ts []struct{ Slug, ID string }
	if err := json.Unmarshal([]byte(out), &ts); err != nil {
		t.Fatal(err, out)
	}
	for _, x := range ts {
		if x.Slug == slug {
			return x.ID
		}
	}
	t.Fatalf("no tenant %s in %s", slug, out)
	return ""
}

// A tenant changed while no server ran (a command run on the data dir
// alone) is caught up at its next open: the change reaches the replica.
func TestReplicaCatchesUpOfflineChanges(t *testing.T) {
	url := "file://" + filepath.Join(t.TempDir(), "replica")
	dir := shortTempDir(t)
	ls := startLiveIn(t, dir, "--replica", url)
	ls.newTenant(t, "alpha")
	if code, _ := ls.Fetch(t, "alpha", "/"); code != http.StatusOK {
		t.Fatalf("alpha: %d", code)
	}
	before := ls.awaitReplicated(t, "alpha", 0)
	ls.stop()

	// Offline: this process takes the data dir's lock and writes alone.
	if out, errOut, err := ls.cli(t, "offline-password-1234", "admin", "add", "alpha", "offline@alpha.example.org", "--password-stdin"); err != nil {
		t.Fatalf("admin add offline: %v\n%s%s", err, out, errOut)
	}

	ls = startLiveIn(t, dir, "--replica", url)
	if code, _ := ls.Fetch(t, "alpha", "/"); code != http.StatusOK {
		t.Fatalf("alpha after the restart: %d", code)
	}
	ls.awaitReplicated(t, "alpha", before)
	at := time.Now().Add(time.Millisecond)
	time.Sleep(2 * time.Millisecond)
	out, errOut, err := ls.cli(t, "", "restore", "alpha", "--as", "alpha-check", "--at", at.Format(time.RFC3339Nano))
	if err != nil {
		t.Fatalf("restore --as: %v\n%s%s", err, out, errOut)
	}
	admins, _, err := ls.cli(t, "", "admin", "list", "alpha-check")
	if err != nil || !strings.Contains(admins, "offline@alpha.example.org") {
		t.Errorf("the admin added offline is not in the replica: %v\n%s", err, admins)
	}
}

// The dashboard's "Undo changes": an owner previews the site as it was
// at a moment (counts now and then) and restores it; audited. An editor
// cannot; a bad time is refused and changes nothing.
func TestReplicaDashboardUndo(t *testing.T) {
	ls := startLive(t, "--replica", "file://"+filepath.Join(t.TempDir(), "replica"))
	email, pw := ls.newTenant(t, "alpha")
	host := "alpha." + liveBase
	api := ls.Browser()
	token := ls.Login(t, "alpha", email, pw)
	before := ls.replicaStatus(t, "alpha").Local // the login opened it
	ls.post(t, api, token, "alpha", "Kept post")
	pos := ls.awaitReplicated(t, "alpha", before)
	ls.syncReplica(t)
	at := time.Now()
	time.Sleep(2 * time.Millisecond)
	ls.post(t, api, token, "alpha", "Mistaken post")
	ls.awaitReplicated(t, "alpha", pos)

	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, pw)
	if p := ls.Form(t, c, host, "/admin/undo/preview", map[string][]string{"csrf_token": {csrf}, "when": {"yesterday at noon"}}); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("preview of a bad time: %d, want 422", p.Status)
	}
	p := ls.Form(t, c, host, "/admin/undo/preview", map[string][]string{"csrf_token": {csrf}, "when": {at.Format(time.RFC3339Nano)}})
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "<th scope=\"row\">News posts</th><td>2</td><td>1</td>") {
		t.Fatalf("preview: %d\n%s", p.Status, grepLines(p.Body, "News posts"))
	}
	if got := ls.postTitles(t, "alpha"); !strings.Contains(got, "Mistaken post") {
		t.Fatalf("a preview changed the site: %s", got)
	}
	m := regexp.MustCompile(`name="at" value="([^"]+)"`).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no confirm form in the preview:\n%s", p.Body)
	}
	if p := ls.Form(t, c, host, "/admin/undo", map[string][]string{"csrf_token": {csrf}, "at": {"not a time"}}); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("undo without a previewed time: %d, want 422", p.Status)
	}
	r := ls.Form(t, c, host, "/admin/undo", map[string][]string{"csrf_token": {csrf}, "at": {m[1]}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("undo: %d\n%s", r.Status, r.Body)
	}
	if got := ls.postTitles(t, "alpha"); !strings.Contains(got, "Kept post") || strings.Contains(got, "Mistaken post") {
		t.Errorf("after the undo: posts %s, want the kept post only", got)
	}
	// The dashboard session was made after that moment: the restored file
	// does not have it, so the owner logs in again.
	if p := ls.Form(t, c, host, "/admin", nil); p.Status != http.StatusSeeOther || !strings.Contains(p.Location, "/admin/login") {
		t.Errorf("the dashboard after the undo, with a session younger than the moment: %d %s, want a redirect to the login", p.Status, p.Location)
	}
	ls.stop()
	cat, err := catalog.Open(context.Background(), ls.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	log, err := cat.AuditLog(context.Background(), 20)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range log {
		found = found || e.Action == "tenant.restore_at" && strings.Contains(e.Actor, email)
	}
	if !found {
		t.Errorf("no tenant.restore_at by %s in the audit log: %+v", email, log)
	}
}
