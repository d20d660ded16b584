package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/chapterhouse/chapterhouse"

// goPackage is what `go list -deps -json` says of a package.
type goPackage struct {
	ImportPath string
	Name       string
	Doc        string
	Standard   bool
	Imports    []string
	Deps       []string
	Module     *struct{ Path string }
}

// listPackages runs `go list -deps -json ./...` in the module's root and
// returns the module's own packages by path relative to the root ("app",
// "app/internal/web/site", "tenantdb"), each with its dependencies named
// the same way (the module's own) or in full (others).
func listPackages(t *testing.T) map[string]goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = ".."
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errOut.String())
	}
	pkgs := map[string]goPackage{}
	dec := json.NewDecoder(&out)
	for {
		var p goPackage
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || p.Module.Path != module {
			continue
		}
		p.ImportPath = ours(p.ImportPath)
		for i, d := range p.Deps {
			p.Deps[i] = ours(d)
		}
		for i, d := range p.Imports {
			p.Imports[i] = ours(d)
		}
		pkgs[p.ImportPath] = p
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages of the module", len(pkgs))
	}
	return pkgs
}

// ours turns the import path of one of the module's packages into its
// path from the module's root; others stay as they are.
func ours(path string) string {
	if path == module {
		return "."
	}
	if rel, ok := strings.CutPrefix(path, module+"/"); ok {
		return rel
	}
	return path
}

// The layers of the program, from the top: each may use those below it,
// never one above. The README's Layout section draws the same map.
var (
	// leaves import no package of the app: only tenantdb (the storage of
	// a tenant file) and the standard library or third parties.
	leaves = []string{
		"app/internal/hostname", "app/internal/ical", "app/internal/imaging",
		"app/internal/metrics", "app/internal/password", "app/internal/ratelimit",
		"app/internal/render", "app/internal/testdns", "app/internal/netlimit",
		"internal/hold", "app/internal/mail", "app/internal/mailpit",
	}
	// interfaces are the faces of a chapter's site; they share only
	// httpx and, for the logged-in ones, auth.
	interfaces = []string{
		"app/internal/web/site", "app/internal/web/admin",
		"app/internal/web/api", "app/internal/web/auth",
	}
)

// TestLayout fails when an import breaks the architecture: the rules are
// those of the README's Layout section.
func TestLayout(t *testing.T) {
	pkgs := listPackages(t)
	dependsOn := func(pkg, dep string) bool {
		p, ok := pkgs[pkg]
		if !ok {
			t.Fatalf("no package %s", pkg)
		}
		return slices.ContainsFunc(p.Deps, func(d string) bool {
			return d == dep || strings.HasPrefix(d, dep+"/")
		})
	}
	forbid := func(pkg, dep, why string) {
		t.Helper()
		if dependsOn(pkg, dep) {
			t.Errorf("%s depends on %s: %s", pkg, dep, why)
		}
	}
	below := []string{"app/internal/platform", "tenantdb"}
	for path := range pkgs {
		if strings.HasPrefix(path, "tenantdb") {
			below = append(below, path)
		}
	}
	for _, pkg := range append(below, leaves...) {
		forbid(pkg, "github.com/labstack/echo/v4", "storage, platform and leaf packages know no HTTP framework")
		forbid(pkg, "app/internal/web", "storage, platform and leaf packages serve no HTTP")
		forbid(pkg, "app/internal/cli", "only main runs the program")
	}
	for path := range pkgs {
		if strings.HasPrefix(path, "tenantdb") {
			forbid(path, "app", "tenantdb is below the app")
		}
	}
	forbid("tenantdb/sqlitefile", "tenantdb", "the file mechanics are below the tenant file, the catalog and the pool")
	forbid("tenantdb", "tenantdb/pool", "a tenant file knows no pool")
	for path := range pkgs {
		if path == "tenantdb/catalog" {
			forbid("tenantdb", "tenantdb/catalog", "a tenant file knows no catalog")
			forbid("tenantdb/pool", "tenantdb/catalog", "the pool opens files by id; the catalog is not its business")
			forbid("tenantdb/catalog", "tenantdb/pool", "the catalog opens no tenant")
		}
	}
	for _, leaf := range leaves {
		for _, d := range pkgs[leaf].Deps {
			if strings.HasPrefix(d, "app/") {
				t.Errorf("leaf package %s imports %s: a leaf imports no package of the app", leaf, d)
			}
		}
	}
	for _, a := range interfaces {
		for _, b := range interfaces {
			if a == b || b == "app/internal/web/auth" && (a == "app/internal/web/admin" || a == "app/internal/web/api") {
				continue
			}
			forbid(a, b, "interfaces share code through httpx, platform or a leaf, not through each other")
		}
		forbid(a, "app/internal/web/webtest", "the test harness is for tests")
	}
	forbid("app/internal/web/httpx", "app/internal/web/site", "httpx is below every interface")
	forbid("app/internal/web/httpx", "app/internal/web/admin", "httpx is below every interface")
	forbid("app/internal/web/httpx", "app/internal/web/api", "httpx is below every interface")
	forbid("app/internal/web/httpx", "app/internal/web/auth", "httpx is below every interface")
	for path, p := range pkgs {
		for _, d := range p.Imports {
			switch {
			case d == "app/internal/cli" && path != "app":
				t.Errorf("%s imports cli: only main does", path)
			case d == "app/internal/web" && path != "app/internal/cli" && path != "app/internal/web/webtest":
				t.Errorf("%s imports web: only cli (and the test harness) compose the server", path)
			}
		}
	}
}

// TestPackagesHaveDocs checks that every package of the app says in its
// doc comment what it is for.
func TestPackagesHaveDocs(t *testing.T) {
	for path, p := range listPackages(t) {
		if strings.HasPrefix(path, "app") && !strings.HasPrefix(strings.TrimSpace(p.Doc), "Package "+p.Name) &&
			!(p.Name == "main" && strings.HasPrefix(p.Doc, "Command ")) {
			t.Errorf("%s has no doc comment starting %q (has %q)", path, "Package "+p.Name, p.Doc)
		}
	}
}

// TestReadmeLayoutMatchesPackages checks that the README's Layout section
// lists every package of the module, and nothing that is not one.
func TestReadmeLayoutMatchesPackages(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Layout\n")
	if !ok {
		t.Fatal("README.md has no Layout section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	// The tree: one line per package, its path first, then what it is.
	var listed []string
	for _, m := range regexp.MustCompile(`(?m)^    ([a-z][a-z0-9/]*)/\s`).FindAllStringSubmatch(section, -1) {
		listed = append(listed, m[1])
	}
	var have []string
	for path := range listPackages(t) {
		have = append(have, path)
	}
	sort.Strings(listed)
	sort.Strings(have)
	for _, p := range have {
		if !slices.Contains(listed, p) {
			t.Errorf("package %s is not in the README's Layout section", p)
		}
	}
	for _, p := range listed {
		if !slices.Contains(have, p) {
			t.Errorf("the README's Layout section lists %s, which is not a package", p)
		}
	}
}
