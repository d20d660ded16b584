package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// dataDir is another data dir that commands can be run in: through the
// control socket of the server that owns it, or, with no server, in this
// process under its lock. Either way the command code is the one an
// operator's CLI would run there.
type dataDir struct {
	dir    string
	served bool
	local  *platform // when not served
	unlock func()
}

// reachDataDir connects to data dir dir, creating it if it does not exist.
func reachDataDir(ctx context.Context, dir string, like *platform) (*dataDir, error) {
	for deadline := time.Now().Add(15 * time.Second); ; {
		if isServed(ctx, dir) {
			return &dataDir{dir: dir, served: true}, nil
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		unlock, err := lockDataDir(dir)
		if err == nil {
			p, err := openPlatform(ctx, dir, 16, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				unlock()
				return nil, err
			}
			p.base, p.portSuffix = like.base, ""
			return &dataDir{dir: dir, local: p, unlock: unlock}, nil
		}
		if !errors.Is(err, errDirBusy) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: %w; try again when it has finished", dir, errDirBusy)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// isServed reports whether a server answers on dir's control socket.
func isServed(ctx context.Context, dir string) bool {
	_, served, _ := sendControl(ctx, dir, controlRequest{Args: []string{"tenant", "list", "--json"}}, io.Discard, io.Discard)
	return served
}

func (d *dataDir) Close() {
	if d.local != nil {
		d.local.Close()
		d.unlock()
	}
}

// run runs an operator command in d and returns its output; a failure's
// error is the command's own one-line message.
func (d *dataDir) run(ctx context.Context, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	args = append(args, "--data", d.dir)
	var err error
	if d.served {
		var code int
		var served bool
		code, served, err = sendControl(ctx, d.dir, controlRequest{Args: args, Cwd: d.dir}, &out, &errOut)
		if err == nil && !served {
			err = fmt.Errorf("the server of %s went away", d.dir)
		}
		if err == nil && code != 0 {
			err = errExit{code}
		}
	} else {
		e := &cmdEnv{p: d.local, stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, cwd: d.dir, actor: "cli"}
		err = runCommand(ctx, e, args)
		if err != nil {
			exitCode(&errOut, err) // prints the one line, as the CLI would
		}
	}
	if err != nil {
		msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(errOut.String()), "chapterhouse: "))
		if msg == "" {
			msg = err.Error()
		}
		return out.String(), errors.New(msg)
	}
	return out.String(), nil
}

func cmdMove(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	to := fs.String("to", "", "the data dir to move the tenant to")
	pos, err := e.parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *to == "" {
		return &usageError{"move: --to DATA_DIR is required"}
	}
	t, err := e.p.catalog.Tenant(pos[0])
	if err != nil {
		return err
	}
	dest := e.path(*to)
	if same, _ := sameDir(dest, e.p.dir); same {
		return fmt.Errorf("move: %s is this tenant's data dir already", dest)
	}
	end, err := e.p.ops.begin("a move", t.ID, "slug "+t.Slug)
	if err != nil {
		return err
	}
	defer end()
	m := &mover{e: e, t: t, destDir: dest}
	err = m.move(ctx)
	if err != nil {
		return fmt.Errorf("move %s: %w", t.Slug, err)
	}
	return nil
}

func sameDir(a, b string) (bool, error) {
	ra, err := filepath.EvalSymlinks(a)
	if err != nil {
		return false, err
	}
	rb, err := filepath.EvalSymlinks(b)
	if err != nil {
		return false, err
	}
	return ra == rb, nil
}

// mover moves one tenant to another data dir: freeze, drain, export, import
// there (frozen, digest checked), verify, thaw there, remove here.
type mover struct {
	e       *cmdEnv
	t       tenantdb.Tenant
	destDir string
	dest    *dataDir
	frozen  bool // we froze the source
	created bool // the tenant exists at the destination
	files   []string
}

func (m *mover) move(ctx context.Context) (err error) {
	e, t := m.e, m.t
	m.dest, err = reachDataDir(ctx, m.destDir, e.p)
	if err != nil {
		return fmt.Errorf("destination %s: %w", m.destDir, err)
	}
	defer m.dest.Close()
	defer func() {
		for _, f := range m.files {
			os.Remove(f)
		}
		if err != nil {
			m.undo(context.WithoutCancel(ctx))
		}
	}()
	how := "its server"
	if !m.dest.served {
		how = "this process (no server runs there)"
	}
	e.printf("moving %s to %s through %s\n", t.Slug, m.destDir, how)

	domains, err := e.p.catalog.Domains(ctx, t.ID)
	if err != nil {
		return err
	}
	if err := m.preflight(ctx, domains); err != nil {
		return err
	}

	// Freeze: writes get 503 from now on; the drain waits for the writes
	// already past the check, so the export below holds every write that
	// was acknowledged.
	start := time.Now()
	status := t.Status
	if status == tenantdb.StatusActive {
		if _, err := e.p.catalog.SetStatus(ctx, t.Slug, tenantdb.StatusFrozen); err != nil {
			return err
		}
		m.frozen = true
	}
	if err := e.p.pool.Drain(ctx, t.ID, func() error { return nil }); err != nil {
		return fmt.Errorf("draining the writes in flight: %w", err)
	}
	tmp, err := e.p.tmpDir()
	if err != nil {
		return err
	}
	file := filepath.Join(tmp, fmt.Sprintf("move-%s-%d.db", t.ID, time.Now().UnixNano()))
	m.files = append(m.files, file)
	info, err := e.p.exportTenant(ctx, t, file)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	live, err := e.p.tenantDigest(ctx, t)
	if err != nil {
		return err
	}
	exported, err := tenantdb.FileDigest(ctx, file)
	if err != nil {
		return err
	}
	if live.Sum() != exported.Sum() {
		return fmt.Errorf("the tenant changed while frozen (tables %v); nothing was moved", live.Diff(exported))
	}
	sum := exported.Sum()
	e.printf("exported %s (%s, digest %s)\n", t.Slug, humanSize(info.Size), sum)

	domainsFile := file + ".domains.json"
	m.files = append(m.files, domainsFile)
	if err := writeFileAtomic(domainsFile, domains); err != nil {
		return err
	}
	// The destination imports it frozen: nothing is written there before
	// its digest is checked.
	destStatus := tenantdb.StatusFrozen
	if status == tenantdb.StatusSuspended {
		destStatus = status
	}
	if _, err := m.dest.run(ctx, "import", t.Slug, file, "--id", t.ID, "--name", t.Name, "--status", destStatus,
		"--expect-digest", sum, "--domains", domainsFile); err != nil {
		return fmt.Errorf("the destination refused the import: %v", err)
	}
	m.created = true
	out, err := m.dest.run(ctx, "tenant", "digest", t.Slug)
	if err != nil {
		return fmt.Errorf("digest at the destination: %v", err)
	}
	if got := strings.Fields(out); len(got) == 0 || got[0] != sum {
		return fmt.Errorf("the destination's digest %q is not the source's %s", strings.TrimSpace(out), sum)
	}
	e.printf("verified: the destination's digest equals the source's\n")
	if status == tenantdb.StatusActive {
		if _, err := m.dest.run(ctx, "tenant", "thaw", t.Slug); err != nil {
			return fmt.Errorf("thawing at the destination: %v", err)
		}
	}
	window := time.Since(start)

	// The destination serves the tenant; here it stops routing, and its
	// file goes to the trash.
	name := fmt.Sprintf("%s-%s-moved.db", t.ID, e.p.now().UTC().Format("20060102T150405.000Z"))
	if err := e.p.catalog.RemoveTenant(ctx, t, name); err != nil {
		return fmt.Errorf("the tenant is served at the destination, but removing it here failed (it stays frozen here): %w", err)
	}
	m.created, m.frozen = false, false // past the point of undoing
	err = e.p.pool.Drain(ctx, t.ID, func() error {
		live := tenantdb.TenantPath(e.p.dir, t.ID)
		if err := tenantdb.SettleWAL(live); err != nil {
			return err
		}
		return moveTenantFiles(live, filepath.Join(e.p.dir, "trash", name))
	})
	if err != nil {
		return fmt.Errorf("the tenant is served at the destination; moving its old file to the trash failed: %w", err)
	}
	hosts := make([]string, len(domains))
	for i, d := range domains {
		hosts[i] = d.Host
	}
	e.audit(ctx, "tenant.move", t.ID, fmt.Sprintf("%s to %s (digest %s, %d domains, writes refused for %s)", t.Slug, m.destDir, sum, len(domains), window.Round(time.Millisecond)))
	e.printf("moved %s to %s\n", t.Slug, m.destDir)
	if len(hosts) > 0 {
		e.printf("custom domains now routed there: %s\n", strings.Join(hosts, ", "))
	}
	e.printf("the source file is kept in the trash as %s\n", name)
	if status == tenantdb.StatusActive {
		e.printf("freeze window (writes refused): %s\n", window.Round(time.Millisecond))
	}
	e.printf("point %s.%s (and the custom domains' DNS) at the destination's server if it is another machine\n", t.Slug, e.p.base)
	return nil
}

// preflight checks that the destination can take the tenant: the slug and
// every custom domain are free there.
func (m *mover) preflight(ctx context.Context, domains []tenantdb.Domain) error {
	out, err := m.dest.run(ctx, "tenant", "list", "--json")
	if err != nil {
		return fmt.Errorf("destination: %v", err)
	}
	var ts []tenantdb.Tenant
	if err := json.Unmarshal([]byte(out), &ts); err != nil {
		return fmt.Errorf("destination tenant list: %w", err)
	}
	for _, t := range ts {
		if t.Slug == m.t.Slug {
			return fmt.Errorf("the destination has a tenant %q already", t.Slug)
		}
	}
	if len(domains) == 0 {
		return nil
	}
	out, err = m.dest.run(ctx, "domain", "list", "--json")
	if err != nil {
		return fmt.Errorf("destination: %v", err)
	}
	var ds []tenantdb.Domain
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		return fmt.Errorf("destination domain list: %w", err)
	}
	taken := map[string]string{}
	for _, d := range ds {
		taken[d.Host] = d.Slug
	}
	for _, d := range domains {
		if slug, ok := taken[d.Host]; ok {
			return fmt.Errorf("domain %s belongs to tenant %s at the destination", d.Host, slug)
		}
	}
	return nil
}

// undo puts the source back as it was after a failed move: the copy at
// the destination is deleted (into its trash) and the source thawed.
func (m *mover) undo(ctx context.Context) {
	if m.created {
		if _, err := m.dest.run(ctx, "tenant", "delete", m.t.Slug); err != nil {
			fmt.Fprintf(m.e.stderr, "warning: removing the partial copy at the destination: %v\n", err)
		}
	}
	if m.frozen {
		if _, err := m.e.p.catalog.SetStatus(ctx, m.t.Slug, tenantdb.StatusActive); err != nil {
			fmt.Fprintf(m.e.stderr, "warning: thawing %s again: %v\n", m.t.Slug, err)
		}
	}
}
