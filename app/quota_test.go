package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"math/rand"
	"net/http"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// opaqueNoise is a w×h PNG of random opaque pixels: it does not compress,
// so it is stored at about 3 bytes a pixel.
func opaqueNoise(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rand.New(rand.NewSource(int64(w * h))).Read(img.Pix)
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 0xff
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// storageOf reads `tenant stats SLUG --json` and returns its storage.
func storageOf(t *testing.T, dir, slug string) platform.Usage {
	t.Helper()
	var st platform.TenantStats
	if err := json.Unmarshal([]byte(mustCLI(t, dir, "tenant", "stats", slug, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Storage == nil {
		t.Fatalf("tenant stats %s tells no storage", slug)
	}
	return *st.Storage
}

// TestTenantSetQuotaOfflineAndOnALiveServer sets a tenant's quota with
// `tenant set --quota`, first with no server (stored in the catalog, shown
// by tenant list and stats), then forwarded to a running server, where the
// next upload is checked against it at once; a bad size changes nothing.
func TestTenantSetQuotaOfflineAndOnALiveServer(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, dir, "", "tenant", "create", "lodge", "--name", "Lodge 7", "--admin-email", "owner@lodge.example.org"); code != 0 {
		t.Fatalf("tenant create: %s", errOut)
	}
	img := opaqueNoise(300, 300) // ~270 KB
	used := storageOf(t, dir, "lodge").Used
	smallText := platform.FormatSize(used + int64(len(img))*3/2) // one image fits, two do not
	small, err := platform.ParseSize(smallText)
	if err != nil || small < used+int64(len(img))+10_000 || small >= used+2*int64(len(img)) {
		t.Fatalf("%s (%v) does not hold one image but not two", smallText, err)
	}

	listBefore := mustCLI(t, dir, "tenant", "list", "--json")
	for _, bad := range [][]string{{"--quota", "12 parsecs"}, {"--quota", "-5MB"}, {"--quota", ""}, {}} {
		args := append([]string{"tenant", "set", "lodge"}, bad...)
		code, _, errOut := runCLI(t, dir, "", args...)
		if code == 0 || !strings.Contains(errOut, "quota") || strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
			t.Errorf("%v: exit %d, stderr %q; want non-zero and a line about the quota", args, code, errOut)
		}
	}
	if code, _, errOut := runCLI(t, dir, "", "tenant", "set", "lodge", "--quota", "12 parsecs"); !strings.Contains(errOut, `"12 parsecs" is not a size`) || code == 0 {
		t.Errorf("12 parsecs: exit %d, %q", code, errOut)
	}
	if after := mustCLI(t, dir, "tenant", "list", "--json"); after != listBefore {
		t.Errorf("bad sizes changed the tenants:\n%s\n%s", listBefore, after)
	}

	// Offline.
	out := mustCLI(t, dir, "tenant", "set", "lodge", "--quota", smallText)
	if !strings.Contains(out, "storage quota "+smallText) {
		t.Errorf("tenant set printed %q", out)
	}
	var listed []struct {
		Slug         string `json:"slug"`
		Quota        *int64 `json:"quota_bytes"`
		QuotaInForce int64  `json:"quota_in_force_bytes"`
		SizeBytes    int64  `json:"size_bytes"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, dir, "tenant", "list", "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Quota == nil || *listed[0].Quota != small || listed[0].QuotaInForce != small || listed[0].SizeBytes <= 0 {
		t.Errorf("tenant list --json after set: %+v", listed)
	}
	if u := storageOf(t, dir, "lodge"); u.Quota != small || u.QuotaDefault || u.Used != used {
		t.Errorf("tenant stats: %+v, want quota %d of its own, %d used", u, small, used)
	}
	if !auditHas(t, dir, "tenant.quota", tenantID(t, dir, "lodge")) {
		t.Error("no tenant.quota entry in the audit log")
	}

	// On a live server, whose default is larger.
	ls := startLiveIn(t, dir, "--quota", "50MB")
	out, errOut, err := ls.cli(t, "", "admin", "reset-password", "lodge", "owner@lodge.example.org")
	m := passwordLine.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("reset-password: %v %s%s", err, out, errOut)
	}
	tok := ls.Login(t, "lodge", "owner@lodge.example.org", m[1])
	c := ls.Browser()
	upload := func() int {
		t.Helper()
		return ls.Upload(t, c, "lodge", "/api/media", "noise.png", img, nil, webtest.Bearer(tok)...).Status
	}
	if s := upload(); s != http.StatusCreated {
		t.Fatalf("first upload: %d", s)
	}
	if s := upload(); s != http.StatusInsufficientStorage {
		t.Fatalf("second upload over the quota of %s: %d, want 507", smallText, s)
	}
	if _, errOut, err := ls.cli(t, "", "tenant", "set", "lodge", "--quota", "12 parsecs"); err == nil || !strings.Contains(errOut, "not a size") {
		t.Errorf("bad size through the server: %v %q", err, errOut)
	}
	if s := upload(); s != http.StatusInsufficientStorage {
		t.Fatalf("upload after a refused set: %d, want 507 still", s)
	}
	if out, errOut, err := ls.cli(t, "", "tenant", "set", "lodge", "--quota", "default"); err != nil || !strings.Contains(out, "50 MB (default)") {
		t.Fatalf("tenant set --quota default: %v %s%s", err, out, errOut)
	}
	if s := upload(); s != http.StatusCreated {
		t.Fatalf("upload once the server's default of 50MB applies: %d, want 201", s)
	}
	if u := storageOf(t, dir, "lodge"); u.Quota != 50_000_000 || !u.QuotaDefault {
		t.Errorf("tenant stats after --quota default: %+v", u)
	}
	if _, errOut, err := ls.cli(t, "", "tenant", "set", "lodge", "--quota", smallText); err != nil {
		t.Fatalf("tenant set again: %v %s", err, errOut)
	}
	if s := upload(); s != http.StatusInsufficientStorage {
		t.Errorf("upload right after the quota was lowered: %d, want 507", s)
	}
	ls.stop()

	// An import bigger than the quota of the tenant it replaces is refused
	// unless forced.
	file := t.TempDir() + "/lodge.db"
	mustCLI(t, dir, "export", "lodge", file)
	mustCLI(t, dir, "tenant", "create", "tiny", "--name", "Tiny")
	mustCLI(t, dir, "tenant", "set", "tiny", "--quota", "100KB")
	digest := mustCLI(t, dir, "tenant", "digest", "tiny")
	if code, _, errOut := runCLI(t, dir, "", "import", "tiny", file, "--replace"); code == 0 || !strings.Contains(errOut, "over its storage quota of 100 KB") || !strings.Contains(errOut, "--force") {
		t.Errorf("import --replace over the quota: exit %d, %q", code, errOut)
	}
	if after := mustCLI(t, dir, "tenant", "digest", "tiny"); after != digest {
		t.Errorf("a refused import changed the tenant")
	}
	mustCLI(t, dir, "import", "tiny", file, "--replace", "--force")

	var outB, errB bytes.Buffer
	err = run(context.Background(), []string{"serve", "--data", dir, "--quota", "12 parsecs"}, noEnv, strings.NewReader(""), &outB, &errB)
	if err == nil || !strings.Contains(err.Error(), "--quota") {
		t.Errorf("serve --quota \"12 parsecs\": %v", err)
	}
}
