package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
)

// dataDir is another data dir that commands can be run in: through the
// control socket of the server that owns it, or, with no server, in this
// process under its lock. Either way the command code is the one an
// operator's CLI would run there.
type dataDir struct {
	dir    string
	served bool
	local  *platform.Platform // when not served
	unlock func()
}

// reachDataDir connects to data dir dir, creating it if it does not exist.
func reachDataDir(ctx context.Context, dir string, like *platform.Platform) (*dataDir, error) {
	unlock, err := lockOrForward(ctx, dir, func() bool { return isServed(ctx, dir) })
	if err != nil {
		return nil, err
	}
	if unlock == nil {
		return &dataDir{dir: dir, served: true}, nil
	}
	p, err := platform.Open(ctx, dir, 16, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		unlock()
		return nil, err
	}
	p.Base, p.PortSuffix = like.Base, ""
	return &dataDir{dir: dir, local: p, unlock: unlock}, nil
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

// Dir is the data dir's path.
func (d *dataDir) Dir() string { return d.dir }

// Served reports whether a server owns the data dir.
func (d *dataDir) Served() bool { return d.served }

// Run runs an operator command in d and returns its output; a failure's
// error is the command's own one-line message.
func (d *dataDir) Run(ctx context.Context, args ...string) (string, error) {
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
			ExitCode(&errOut, err) // prints the one line, as the CLI would
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
	toNode := fs.String("to-node", "", "the node of the cluster to move the tenant to")
	pos, err := e.parse(fs, args, 1)
	if err != nil {
		return err
	}
	switch {
	case *to != "" && *toNode != "":
		return &usageError{"move: give --to DATA_DIR or --to-node NAME, not both"}
	case *toNode != "":
		t, err := e.p.Catalog.Tenant(pos[0])
		if err != nil {
			return err
		}
		return moveToNode(ctx, e, t, *toNode)
	case *to == "":
		return &usageError{"move: --to DATA_DIR (or --to-node NAME in a cluster) is required"}
	}
	t, err := e.p.Catalog.Tenant(pos[0])
	if err != nil {
		return err
	}
	dest := e.path(*to)
	if same, _ := sameDir(dest, e.p.Dir); same {
		return fmt.Errorf("move: %s is this tenant's data dir already", dest)
	}
	end, err := e.p.Ops.Begin("a move", t.ID, "slug "+t.Slug)
	if err != nil {
		return err
	}
	defer end()
	remote, err := reachDataDir(ctx, dest, e.p)
	if err != nil {
		return fmt.Errorf("move %s: destination %s: %w", t.Slug, dest, err)
	}
	defer remote.Close()
	if err := e.p.Move(ctx, t, remote, e.stdout, e.stderr, e.actor); err != nil {
		return fmt.Errorf("move %s: %w", t.Slug, err)
	}
	return nil
}

// recoverMoves finishes or undoes the moves out of p's data dir that a
// crash interrupted (platform.RecoverMoves), reaching their destinations
// as a move does.
func recoverMoves(ctx context.Context, p *platform.Platform) {
	p.RecoverMoves(ctx, func(ctx context.Context, dir string) (platform.Remote, func(), error) {
		d, err := reachDataDir(ctx, dir, p)
		if err != nil {
			return nil, nil, err
		}
		return d, d.Close, nil
	})
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
