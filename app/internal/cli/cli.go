// Package cli is the chapterhouse program: the serve command and the
// operator commands (their table, flags and output), the control socket
// through which a running server runs them, and the lock that makes one
// process the owner of a data dir. The work itself is platform's.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// command is one operator command. Every command other than serve runs the
// same way whether a server owns the data dir (the server runs it, so it can
// drain tenants it serves) or not (this process runs it).
type command struct {
	name    string // words, "tenant create"
	args    string // usage after the name
	summary string
	stdin   bool // reads its standard input: forwarded to the server
	// stdinFlag, when set, limits reading standard input to runs given
	// this flag, so that the command does not wait on a terminal otherwise.
	stdinFlag string
	// local commands work on files alone (a backup) and need no data dir:
	// they run in the operator's process, never in the server.
	local bool
	run   func(ctx context.Context, e *cmdEnv, args []string) error
}

// commands lists every operator command; serve and help are handled by run.
func commands() []command {
	return []command{
		{name: "tenant create", args: "SLUG --name NAME [--admin-email EMAIL]", summary: "create a tenant, served at once at SLUG.<base domain>; prints its owner's password", run: cmdTenantCreate},
		{name: "tenant list", args: "[--json]", summary: "list the tenants", run: cmdTenantList},
		{name: "tenant suspend", args: "SLUG", summary: "take a tenant's site offline (503 page)", run: cmdTenantStatus(catalog.StatusSuspended)},
		{name: "tenant resume", args: "SLUG", summary: "bring a suspended tenant's site back", run: cmdTenantStatus(catalog.StatusActive)},
		{name: "tenant stats", args: "SLUG [--json]", summary: "a tenant's size on disk, storage used of its quota, whether it is open, its requests and last access", run: cmdTenantStats},
		{name: "tenant set", args: "SLUG --quota SIZE|default", summary: "set a tenant's storage quota (500MB, 2GB, bytes; 0: unlimited; default: the server's --quota)", run: cmdTenantSet},
		{name: "tenant delete", args: "SLUG", summary: "delete a tenant; its file goes to DATA/trash/", run: cmdTenantDelete},
		{name: "domain add", args: "SLUG HOST", summary: "add a custom domain to a tenant (unverified)", run: cmdDomainAdd},
		{name: "domain remove", args: "HOST", summary: "remove a custom domain; it stops routing at once", run: cmdDomainRemove},
		{name: "domain list", args: "[--json]", summary: "list the custom domains", run: cmdDomainList},
		{name: "domain verify", args: "HOST [--dns-resolver IP[:PORT]] [--force] [--slug SLUG]", summary: "check the domain's TXT record and verify it, so it routes (--force: without checking)", run: cmdDomainVerify},
		{name: "migrate", args: "[--jobs N]", summary: "migrate every tenant database now", run: cmdMigrate},
		{name: "tenant freeze", args: "SLUG", summary: "make a tenant's site read-only: reads are served, changes get 503", run: cmdTenantFreeze},
		{name: "tenant thaw", args: "SLUG", summary: "accept changes on a frozen tenant's site again", run: cmdTenantThaw},
		{name: "tenant digest", args: "SLUG", summary: "print the logical digest of a tenant's rows", run: cmdTenantDigest},
		{name: "tenant sql", args: "SLUG \"SELECT ...\" [--json] [--limit ROWS] [--timeout D]", summary: "run one read-only statement on a tenant's database (sqlite3 cannot open a live one)", run: cmdTenantSQL},
		{name: "import", args: "SLUG FILE [--replace] [--max-size BYTES] [--name NAME] [--force]", summary: "check a tenant file as untrusted and import it as a new tenant, or --replace one's content (--force: even over the storage quota)", run: cmdImport},
		{name: "backup", args: "DIR [--jobs N]", summary: "back up every tenant and the catalog into the new directory DIR, with a manifest (while serving)", run: cmdBackup},
		{name: "backup verify", args: "DIR", summary: "check every file of a backup against its manifest (sha256, integrity_check)", local: true, run: cmdBackupVerify},
		{name: "restore", args: "SLUG (--from DIR | --at TIME [--as NEWSLUG] [--replica URL]) | --all --replica URL --data DIR [--jobs N]",
			summary: "put one tenant back from a backup or as it was at TIME from the replica (drained and swapped like import --replace; --as: beside it), or rebuild an empty data dir from the replica", run: cmdRestore},
		{name: "replica status", args: "[SLUG] [--json]", summary: "replication of the catalog and the open tenants (or one tenant): position, lag, last sync, last error", run: cmdReplicaStatus},
		{name: "replica verify", args: "[--sample N] [--replica URL]", summary: "restore tenants from the replica to temp files and check integrity and digest against the live files", run: cmdReplicaVerify},
		{name: "trash list", args: "[--json]", summary: "list the files of deleted, replaced and moved tenants kept in DATA/trash/", run: cmdTrashList},
		{name: "trash restore", args: "FILE [--slug SLUG]", summary: "make a trashed file a tenant again (its old slug and id if free)", run: cmdTrashRestore},
		{name: "trash purge", args: "--older-than DURATION", summary: "delete trashed files older than DURATION (30d, 12h; 0s: all)", run: cmdTrashPurge},
		{name: "move", args: "SLUG --to DATA_DIR | --to-node NAME", summary: "move a tenant to another data dir, served or not: freeze, export, import, verify, switch; or to another node of the cluster (prints the freeze window)", run: cmdMove},
		{name: "node list", args: "[--json]", summary: "the cluster's live nodes: address, tenants owned, open, load, last heartbeat", run: cmdNodeList},
		{name: "node drain", args: "NAME", summary: "move every tenant of this node (NAME) to the least loaded others, for maintenance", run: cmdNodeDrain},
		{name: "export", args: "SLUG FILE", summary: "write a consistent one-file snapshot of a tenant (while serving)", run: cmdExport},
		{name: "admin add", args: "SLUG EMAIL [--role owner|editor] [--password-stdin]", summary: "add an admin to a tenant (password generated and printed unless read from stdin)", stdin: true, stdinFlag: "password-stdin", run: cmdAdminAdd},
		{name: "admin reset-password", args: "SLUG EMAIL [--password-stdin]", summary: "set a new password (printed) and end that admin's sessions", stdin: true, stdinFlag: "password-stdin", run: cmdAdminResetPassword},
		{name: "admin list", args: "SLUG [--json]", summary: "list a tenant's admins", run: cmdAdminList},
		{name: "admin remove", args: "SLUG EMAIL", summary: "remove an admin (the last owner stays)", run: cmdAdminRemove},
	}
}

// usageLine is how the command is typed, prog being how the program was
// run: "chapterhouse tenant list [--json]".
func (c command) usageLine(prog string) string {
	return strings.TrimSpace(prog + " " + c.name + " " + c.args)
}

// findCommand returns the command named by the leading words of args and
// the arguments after them.
func findCommand(args []string) (command, []string, bool) {
	var words []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		words = append(words, a)
	}
	best, n := command{}, 0
	for _, c := range commands() {
		cw := strings.Fields(c.name)
		if len(cw) <= len(words) && len(cw) > n && strings.Join(words[:len(cw)], " ") == c.name {
			best, n = c, len(cw)
		}
	}
	if n == 0 {
		return best, nil, false
	}
	return best, args[n:], true
}

// hasFlag reports whether args give --name (or -name, or --name=...)
// before a "--".
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") && n == name {
			return true
		}
	}
	return false
}

// cmdEnv is what a command runs with.
type cmdEnv struct {
	p      *platform.Platform
	cmd    command
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	cwd    string // the operator's working directory, for relative paths
	tty    bool   // stdout is a terminal
	actor  string // who, for the audit log
	// prog is how the operator ran the program ("go run ./app"), for
	// usage lines and hints; empty means this process's progName.
	prog string
}

// progName is how the operator ran the program, for hints.
func (e *cmdEnv) progName() string {
	if e.prog == "" {
		return progName
	}
	return e.prog
}

// usageError is a mistake in how a command was typed: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// flags returns a flag set for the command; --data is accepted (the data
// dir was chosen before the command runs) and ignored.
func (e *cmdEnv) flags() *flag.FlagSet {
	fs := flag.NewFlagSet(e.cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("data", "", "data `dir` (env CHAPTERHOUSE_DATA, default ./data)")
	return fs
}

// parse parses flags given before, between or after the positional
// arguments, as people type them, and checks the number of positionals.
func (e *cmdEnv) parse(fs *flag.FlagSet, args []string, positionals int) ([]string, error) {
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(e.stdout, e.cmd.usageLine(e.progName()), e.cmd.summary, fs)
		return nil, errHelpShown
	}
	if err != nil {
		return nil, &usageError{fmt.Sprintf("%s: %v\nusage: %s\n(`%s %s --help` tells more)", e.cmd.name, err, e.cmd.usageLine(e.progName()), e.progName(), e.cmd.name)}
	}
	if len(pos) != positionals {
		return nil, &usageError{fmt.Sprintf("%s: want %d argument(s), got %d\nusage: %s",
			e.cmd.name, positionals, len(pos), e.cmd.usageLine(e.progName()))}
	}
	return pos, nil
}

// parseTenant parses like parse and looks up the tenant whose slug is the
// first positional argument.
func (e *cmdEnv) parseTenant(fs *flag.FlagSet, args []string, positionals int) (catalog.Tenant, []string, error) {
	pos, err := e.parse(fs, args, positionals)
	if err != nil {
		return catalog.Tenant{}, nil, err
	}
	t, err := e.p.Catalog.Tenant(pos[0])
	return t, pos, err
}

// printJSON writes v as indented JSON, the --json output of every command.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// nonNil makes an empty list print as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" || (len(pos) > 0 && args[0] == "-") {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// path resolves a path typed by the operator against their directory.
func (e *cmdEnv) path(p string) string {
	if filepath.IsAbs(p) || e.cwd == "" {
		return filepath.Clean(p)
	}
	return filepath.Join(e.cwd, p)
}

func (e *cmdEnv) printf(format string, args ...any) {
	fmt.Fprintf(e.stdout, format, args...)
}

func (e *cmdEnv) audit(ctx context.Context, action, tenantID, detail string) {
	if err := e.p.Catalog.Audit(ctx, e.actor, action, tenantID, detail); err != nil {
		fmt.Fprintf(e.stderr, "warning: audit log: %v\n", err)
	}
}

// runCommand runs one operator command on platform p.
func runCommand(ctx context.Context, e *cmdEnv, args []string) error {
	cmd, rest, ok := findCommand(args)
	if !ok {
		return &usageError{fmt.Sprintf("unknown command %q\n\n%s", strings.Join(args, " "), usage())}
	}
	e.cmd = cmd
	if err := e.servedHere(ctx, rest); err != nil {
		return err
	}
	if err := cmd.run(ctx, e, rest); !errors.Is(err, errHelpShown) {
		return err
	}
	return nil
}

func usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s [command] [flags]\n\ncommands:\n", progName)
	fmt.Fprintf(&b, "  %-44s %s\n", "serve [--addr ADDR] [--base-domain D] ...", "serve every tenant's site (the default)")
	fmt.Fprintf(&b, "  %-44s %s\n", "healthcheck [--addr ADDR] [--data DIR]", healthcheckSummary)
	fmt.Fprintf(&b, "  %-44s %s\n", "version", "print the version and the revision it was built from (also --version)")
	cs := commands()
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		b.WriteString(fmt.Sprintf("  %-44s %s\n", c.name+" "+c.args, c.summary))
	}
	b.WriteString("\nEvery command takes --data DIR (env CHAPTERHOUSE_DATA, default ./data).\n")
	fmt.Fprintf(&b, "Run `%s COMMAND --help` for a command's flags (`%s serve --help` for the server's).\n", progName, progName)
	return b.String()
}

// errExit carries a command's exit status across the control socket.
type errExit struct{ code int }

func (e errExit) Error() string { return fmt.Sprintf("exit status %d", e.code) }

var errSilent = errors.New("")

// progress reports a batch job: a bar on a terminal, plain lines otherwise.
type progress struct {
	w          io.Writer
	tty        bool
	label      string
	total      int
	done       int
	lastPrint  time.Time
	lastPrintN int
}

func newProgress(w io.Writer, tty bool, label string, total int) *progress {
	return &progress{w: w, tty: tty, label: label, total: total}
}

// step counts one item done, with a note to print on its own line (empty
// for none).
func (p *progress) Step(note string) {
	p.done++
	if p.tty {
		if note != "" {
			fmt.Fprintf(p.w, "\r\033[K%s\n", note)
		}
		width := 30
		filled := width * p.done / max(p.total, 1)
		fmt.Fprintf(p.w, "\r\033[K%s [%s%s] %d/%d", p.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.done, p.total)
		if p.done == p.total {
			fmt.Fprintln(p.w)
		}
		return
	}
	if note != "" {
		fmt.Fprintln(p.w, note)
	}
	if p.done == p.total || time.Since(p.lastPrint) > time.Second && p.done-p.lastPrintN > 0 {
		fmt.Fprintf(p.w, "%s: %d/%d\n", p.label, p.done, p.total)
		p.lastPrint, p.lastPrintN = time.Now(), p.done
	}
}
