package main

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// Move under write load between two servers, each with its own data dir
// on loopback: every acknowledged write is at the destination, the digests
// are equal, the custom domain routes there, the source keeps its file in
// the trash.
func TestMoveBetweenServersUnderWriteLoad(t *testing.T) {
	a, b := startLive(t), startLive(t)
	email, password := a.newTenant(t, "alpha")
	a.newTenant(t, "stays")
	if _, errOut, err := a.cli(t, "", "domain", "add", "alpha", "www.alpha.example"); err != nil {
		t.Fatal(errOut)
	}
	a.cli(t, "", "domain", "verify", "www.alpha.example", "--force")
	id := tenantID(t, a.dir, "alpha")
	token := a.Login(t, "alpha", email, password)
	w := apiWriters(t, a.Addr, a.base, a.Port(), "alpha", token, 3)
	w.waitFor(t, 30)

	out, errOut, err := a.cli(t, "", "move", "alpha", "--to", b.dir)
	if err != nil {
		t.Fatalf("move: %v\n%s%s", err, out, errOut)
	}
	t.Log(out)
	w.halt()
	if len(w.errs) > 0 {
		t.Fatalf("writers failed: %v", w.errs)
	}
	acked := w.snapshot()
	if len(acked) < 30 {
		t.Fatalf("only %d writes acknowledged", len(acked))
	}
	if !regexp.MustCompile(`freeze window \(writes refused\): \S+`).MatchString(out) || !strings.Contains(out, "through its server") {
		t.Errorf("move output lacks the freeze window or the way it reached the destination:\n%s", out)
	}
	sum := regexp.MustCompile(`digest ([0-9a-f]{64})`).FindStringSubmatch(out)
	if sum == nil {
		t.Fatalf("move output names no digest:\n%s", out)
	}
	if got := digestOf(t, b, "alpha"); got != sum[1] {
		t.Errorf("destination digest %s, source's %s", got, sum[1])
	}
	titles := postTitles(t, tenantdb.TenantPath(b.dir, id))
	for _, title := range acked {
		if !titles[title] {
			t.Errorf("acknowledged %q is not at the destination", title)
		}
	}

	c := a.Browser()
	if r := a.Call(t, c, "GET", a.SiteURL("alpha", "/"), nil); r.Status != http.StatusNotFound {
		t.Errorf("source still serves alpha: %d", r.Status)
	}
	if r := a.Call(t, c, "GET", "http://www.alpha.example:"+a.Port()+"/", nil); r.Status != http.StatusNotFound {
		t.Errorf("source still routes the custom domain: %d", r.Status)
	}
	if r := b.Call(t, b.Browser(), "GET", "http://www.alpha.example:"+b.Port()+"/news", nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "writer ") {
		t.Errorf("destination does not serve the custom domain: %d", r.Status)
	}
	if r := a.Call(t, c, "GET", a.SiteURL("stays", "/"), nil); r.Status != http.StatusOK {
		t.Errorf("the other tenant at the source: %d", r.Status)
	}
	// The tenant is writable at the destination, with the same admins.
	tokenB := b.Login(t, "alpha", email, password)
	if r := b.Call(t, b.Browser(), "POST", b.SiteURL("alpha", "/api/posts"), map[string]any{"title": "After the move", "published": true}, webtest.Bearer(tokenB)...); r.Status != http.StatusCreated {
		t.Errorf("write at the destination: %d %s", r.Status, r.Body)
	}
	if trashed, _ := filepath.Glob(filepath.Join(a.dir, "trash", id+"-*-moved.db")); len(trashed) != 1 {
		t.Errorf("source trash holds %v, want the moved file", trashed)
	}
	if !auditHas(t, a.dir, "tenant.move", id) || !auditHas(t, b.dir, "tenant.import", id) {
		t.Error("the move is not in both audit logs")
	}
	if files := webtest.Files(t, filepath.Join(a.dir, "tmp")); len(files) != 0 {
		t.Errorf("move left %v in the source's tmp", files)
	}
}

// A destination no server owns is locked and written by the moving
// process; a server started there afterwards serves the tenant.
func TestMoveToUnservedDataDir(t *testing.T) {
	a := startLive(t)
	email, password := a.newTenant(t, "alpha")
	token := a.Login(t, "alpha", email, password)
	if r := a.Call(t, a.Browser(), "POST", a.SiteURL("alpha", "/api/posts"), map[string]any{"title": "Moved offline", "published": true}, webtest.Bearer(token)...); r.Status != http.StatusCreated {
		t.Fatal(r.Status)
	}
	before := digestOf(t, a, "alpha")
	dest := filepath.Join(t.TempDir(), "dest")
	out, errOut, err := a.cli(t, "", "move", "alpha", "--to", dest)
	if err != nil {
		t.Fatalf("move: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(out, "no server runs there") {
		t.Errorf("move output:\n%s", out)
	}
	b := startLiveIn(t, dest)
	if got := digestOf(t, b, "alpha"); got != before {
		t.Errorf("digest at the destination %s, want %s", got, before)
	}
	if r := b.Call(t, b.Browser(), "GET", b.SiteURL("alpha", "/news"), nil); !strings.Contains(string(r.Body), "Moved offline") {
		t.Errorf("destination server: %d", r.Status)
	}
	b.Login(t, "alpha", email, password)
}

// A move the destination cannot take changes nothing and leaves the source
// writable.
func TestMoveRefusals(t *testing.T) {
	a, b := startLive(t), startLive(t)
	a.newTenant(t, "alpha")
	a.newTenant(t, "beta")
	a.cli(t, "", "domain", "add", "beta", "www.beta.example")
	b.newTenant(t, "alpha")
	b.newTenant(t, "other")
	b.cli(t, "", "domain", "add", "other", "www.beta.example")
	listA, _, _ := a.cli(t, "", "tenant", "list", "--json")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"move", "alpha", "--to", b.dir}, `has a tenant "alpha" already`},
		{[]string{"move", "beta", "--to", b.dir}, "www.beta.example belongs to tenant other"},
		{[]string{"move", "alpha", "--to", a.dir}, "data dir already"},
		{[]string{"move", "nosuch", "--to", b.dir}, "not found"},
		{[]string{"move", "alpha"}, "--to DATA_DIR (or --to-node NAME in a cluster) is required"},
	}
	for _, tc := range cases {
		_, errOut, err := a.cli(t, "", tc.args...)
		if err == nil || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %v %q, want %q", tc.args, err, errOut, tc.want)
		}
	}
	if after, _, _ := a.cli(t, "", "tenant", "list", "--json"); after != listA {
		t.Errorf("refused moves changed the source:\n%s\n%s", listA, after)
	}
	if out, _, _ := b.cli(t, "", "tenant", "list"); strings.Contains(out, "beta") {
		t.Errorf("refused move left a tenant at the destination:\n%s", out)
	}
}
