package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/replica"
)

// cmdRestore puts one tenant back: from a backup (--from) or from the
// replica as it was at a time (--at). restore --all is restoreAll.
func cmdRestore(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	from := fs.String("from", "", "the backup directory")
	maxSize := fs.Int64("max-size", platform.DefaultMaxImport, "largest file to accept, in bytes")
	at := fs.String("at", "", "restore from the replica as it was at `TIME`: RFC 3339 or \"2h ago\"")
	as := fs.String("as", "", "with --at: restore beside the tenant as the new tenant `NEWSLUG`")
	url := fs.String("replica", "", "with --at: the replica `URL` (default: the server's --replica)")
	fs.Bool("all", false, "rebuild an empty data dir from the replica (with --replica URL --data DIR)")
	pos, err := e.parse(fs, args, 1)
	if err != nil {
		return err
	}
	slug := pos[0]
	switch {
	case *from != "" && *at != "":
		return &usageError{"restore: give --from DIR (a backup) or --at TIME (the replica), not both"}
	case *from != "":
		return restoreFromBackup(ctx, e, slug, e.path(*from), *maxSize)
	case *at == "":
		return &usageError{"restore: --from DIR (a backup) or --at TIME (the replica) is required\nusage: " + e.cmd.usageLine(e.progName())}
	}
	when, err := platform.ParseTime(*at, time.Now())
	if err != nil {
		return &usageError{"restore: --at " + err.Error()}
	}
	target, err := e.p.ReplicaTarget(*url)
	if err != nil {
		return err
	}
	res, err := e.p.RestoreAt(ctx, target, slug, when, *as)
	if err != nil {
		return err
	}
	t := res.Tenant
	stamp := when.UTC().Format(time.RFC3339Nano)
	if *as != "" {
		e.audit(ctx, "tenant.restore_at", t.ID, fmt.Sprintf("%s as it was at %s, beside %s (replica %s)", t.Slug, stamp, slug, target))
		e.printf("restored %s as it was at %s as the new tenant %s\n", slug, stamp, t.Slug)
	} else {
		e.audit(ctx, "tenant.restore_at", t.ID, fmt.Sprintf("%s as it was at %s (replica %s)", t.Slug, stamp, target))
		e.printf("restored tenant %s as it was at %s\n", t.Slug, stamp)
	}
	if res.Trashed != "" {
		e.printf("its content before the restore is kept in the trash as %s\n", res.Trashed)
	}
	e.printf("rows:   %s\n", rowSummary(res.From.Digest))
	e.printf("digest: %s\n", res.From.Digest.Sum())
	return nil
}

// restoreAll is `restore --all --replica URL --data DIR`: disaster
// recovery into an empty data dir, run in this process (no server can
// own a data dir without a catalog).
func restoreAll(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore --all", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Bool("all", true, "")
	fs.String("data", "", "")
	url := fs.String("replica", getenv("CHAPTERHOUSE_REPLICA"), "")
	jobs := fs.Int("jobs", 8, "")
	pos, err := parseInterspersed(fs, args)
	usage := fmt.Sprintf("usage: %s restore --all --replica URL --data DIR [--jobs N]", progName)
	if err != nil {
		return &usageError{fmt.Sprintf("restore --all: %v\n%s", err, usage)}
	}
	if len(pos) != 0 {
		return &usageError{fmt.Sprintf("restore --all takes no SLUG (it restores every tenant)\n%s", usage)}
	}
	if *url == "" {
		return &usageError{"restore --all: --replica URL (or CHAPTERHOUSE_REPLICA) is required\n" + usage}
	}
	if *jobs < 1 || *jobs > 256 {
		return &usageError{"restore --all: --jobs must be 1 to 256"}
	}
	target, err := replica.ParseURL(*url)
	if err != nil {
		return &usageError{"restore --all: " + err.Error()}
	}
	dir, err := dataDirOf(args, getenv)
	if err != nil {
		return err
	}
	unlock, fresh, err := ownDataDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	if !fresh {
		return fmt.Errorf("restore --all: %s holds a catalog already: it rebuilds an empty data dir (move that one away first)", dir)
	}
	fmt.Fprintf(stdout, "restoring the catalog and every tenant from %s into %s\n", target, dir)
	tty := isTerminal(stdout)
	res, err := platform.RestoreAll(ctx, target, dir, *jobs, func(label string, total int) platform.Progress {
		return newProgress(stdout, tty, label, total)
	})
	if err != nil {
		return fmt.Errorf("restore --all: %w", err)
	}
	mb := float64(res.Bytes) / (1 << 20)
	fmt.Fprintf(stdout, "restored the catalog and %d tenants (%s) in %s, %.1f MB/s; %d failed\n",
		res.Tenants, platform.HumanSize(res.Bytes), res.Duration.Round(time.Millisecond), mb/max(res.Duration.Seconds(), 1e-3), len(res.Failed))
	if cat, err := catalog.Open(ctx, dir); err == nil {
		cat.Audit(ctx, "cli", "restore.all", "", fmt.Sprintf("%d tenants from %s, %d failed", res.Tenants, target, len(res.Failed)))
		cat.Close()
	}
	if len(res.Failed) > 0 {
		fmt.Fprintf(stderr, "not restored:\n  %s\n", strings.Join(res.Failed, "\n  "))
		return fmt.Errorf("restore --all: %d of %d tenants failed", len(res.Failed), len(res.Failed)+res.Tenants)
	}
	return nil
}
