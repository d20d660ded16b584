package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/chapterhouse/chapterhouse/app/internal/mail"
	"github.com/chapterhouse/chapterhouse/app/internal/metrics"
	"github.com/chapterhouse/chapterhouse/app/internal/netlimit"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/cluster"
)

// Run is the whole program: serve (the default) or one operator command.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	switch {
	case len(args) > 0 && (args[0] == "version" || args[0] == "--version" || args[0] == "-version"):
		fmt.Fprintln(stdout, version())
		return nil
	case len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help":
		return serve(ctx, args, getenv, stdout, stderr)
	case args[0] == "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case args[0] == "healthcheck":
		return healthcheck(ctx, args[1:], getenv, stdout)
	}
	if stderr == os.Stderr {
		// An operator command of the real program: Litestream's notes
		// (it logs restores through slog's default logger) stay out of
		// its output; warnings and errors are kept.
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	}
	switch {
	case args[0] == "restore" && hasFlag(args, "all") && !wantsHelp(args):
		return restoreAll(ctx, args[1:], getenv, stdout, stderr)
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		if len(args) > 1 { // help COMMAND
			return Run(ctx, append(args[1:], "--help"), getenv, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage())
		return nil
	}
	return operate(ctx, args, getenv, stdin, stdout, stderr)
}

// dataDirOf finds --data in args (anywhere, as with every flag), else the
// environment, else ./data, and makes it absolute.
func dataDirOf(args []string, getenv func(string) string) (string, error) {
	dir := envOr(getenv, "CHAPTERHOUSE_DATA", "data")
	for i, a := range args {
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "data" {
			continue
		}
		if hasVal {
			dir = val
		} else if i+1 < len(args) {
			dir = args[i+1]
		} else {
			return "", &usageError{"--data needs a directory"}
		}
	}
	if dir == "" {
		return "", &usageError{"--data needs a directory"}
	}
	return filepath.Abs(dir)
}

// operate runs an operator command: in the server that owns the data dir
// if one runs, else here.
func operate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, _, ok := findCommand(args)
	if !ok {
		return &usageError{fmt.Sprintf("unknown command %q\n\n%s", strings.Join(args, " "), usage())}
	}
	if cmd.local || wantsHelp(args) { // help needs no data dir and no server
		cwd, _ := os.Getwd()
		e := &cmdEnv{stdin: stdin, stdout: stdout, stderr: stderr, cwd: cwd, tty: isTerminal(stdout), actor: "cli"}
		return runCommand(ctx, e, args)
	}
	dir, err := dataDirOf(args, getenv)
	if err != nil {
		return err
	}
	clusterURLs := clusterOf(args, getenv)
	if _, err := os.Stat(catalog.Path(dir)); err != nil && cmd.name != "tenant create" && clusterURLs == "" && !hasSocket(dir) {
		return fmt.Errorf("no Chapterhouse data in %s (use --data DIR or CHAPTERHOUSE_DATA; `%s serve` creates a data dir)", dir, progName)
	}
	cwd, _ := os.Getwd()
	req := controlRequest{Args: args, Cwd: cwd, TTY: isTerminal(stdout), Prog: progName}
	if cmd.stdin && (cmd.stdinFlag == "" || hasFlag(args, cmd.stdinFlag)) {
		if req.Stdin, err = io.ReadAll(io.LimitReader(stdin, 1<<20)); err != nil {
			return err
		}
	}
	var result error
	unlock, err := lockOrForward(ctx, dir, func() bool {
		code, served, err := sendControl(ctx, dir, req, stdout, stderr)
		if served && err == nil && code != 0 {
			err = errExit{code}
		}
		result = err
		return served
	})
	if err != nil {
		return err
	}
	if unlock == nil { // the server that owns dir ran the command
		return result
	}
	defer unlock()
	cfg := serveFlags(flag.NewFlagSet("", flag.ContinueOnError), getenv)
	cfg.cluster, cfg.nodeID, cfg.advertise = "", "", "" // serve's; a command reads --cluster itself
	if err := cfg.validate(); err != nil {
		return err
	}
	var p *platform.Platform
	if clusterURLs != "" {
		p, err = openClusterPlatform(ctx, clusterURLs, dir, stderr)
	} else {
		p, err = platform.Open(ctx, dir, 16, 0, slog.New(slog.NewTextHandler(stderr, nil)))
	}
	if err != nil {
		return err
	}
	p.Configure(cfg.platformSettings())
	defer p.Close()
	recoverMoves(ctx, p)
	e := &cmdEnv{p: p, stdin: bytesOf(req.Stdin), stdout: stdout, stderr: stderr, cwd: cwd, tty: req.TTY, actor: "cli"}
	return runCommand(ctx, e, args)
}

func bytesOf(b []byte) io.Reader { return strings.NewReader(string(b)) }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// logInterval is how long the server's log lines may wait to be written
// (see logWriter).
const logInterval = 10 * time.Millisecond

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// serve runs the server until ctx is done, then drains requests and closes
// every tenant cleanly.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseServe(args, getenv, stdout)
	if cfg == nil || err != nil {
		return err // nil for --help
	}
	defer heapFloor(getenv)()
	logw := newLogWriter(stderr, logInterval)
	defer logw.Close()
	log := newLogger(cfg.logFormat, logw)
	// The ports are bound before anything is made on disk: a first run
	// that fails on a busy port must leave no data dir behind, or the next
	// run would find one and never create the demo.
	l, err := listen(cfg)
	if err != nil {
		if addr, ok := askAddr(ctx, cfg.dataDir); ok {
			return fmt.Errorf("%w\n(a chapterhouse server already serves %s, on %s: stop it first)", err, cfg.dataDir, addr)
		}
		return err
	}
	defer l.close()
	unlock, fresh, err := ownDataDir(cfg.dataDir)
	if err != nil {
		return err
	}
	defer unlock()
	var cc *clusterConn
	if cfg.cluster != "" {
		if cc, err = connectCluster(ctx, cfg.clusterURLs, "chapterhouse node "+cfg.nodeID); err != nil {
			return err
		}
		defer cc.Close()
		if err := cc.openCatalog(ctx, cfg.dataDir); err != nil {
			return err
		}
	}
	var p *platform.Platform
	if cc != nil {
		p, err = platform.OpenWith(ctx, cfg.dataDir, cc.cat, cfg.maxOpen, cfg.idleTimeout, log)
	} else {
		p, err = platform.Open(ctx, cfg.dataDir, cfg.maxOpen, cfg.idleTimeout, log)
	}
	if err != nil {
		return err
	}
	var node *cluster.Node
	defer func() {
		p.Close() // the tenants' final syncs, while the node still holds its lease
		if node != nil {
			lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := node.Leave(lctx); err != nil {
				log.Warn("cluster: leaving", "err", err)
			}
		}
	}()
	p.Configure(cfg.platformSettings())
	p.PortSuffix = platform.PortSuffix(l.public.Addr().String())
	target := cfg.replicaTarget
	if cc != nil {
		if node, target, err = joinCluster(ctx, cfg, cc, p, log); err != nil {
			return err
		}
		log.Info("joined the cluster", "node", cfg.nodeID, "epoch", node.Epoch(), "advertise", cfg.advertise, "nats", cfg.cluster)
	}
	if target != nil {
		if err := p.StartReplication(ctx, target, cfg.replicaOptions()); err != nil {
			return err
		}
		log.Info("replicating the catalog and open tenants", "replica", target.String(), "interval", cfg.replicaInterval)
	}
	// The mailer hooks the pool before any tenant opens, so that every
	// write that queues mail wakes it.
	sender, err := mail.New(mail.Config{URL: cfg.smtp, From: cfg.mailFrom}, logw)
	if err != nil {
		return err
	}
	if sender == nil {
		log.Info("mail is off (no --smtp): mails wait in each chapter's outbox")
	} else {
		log.Info("mail on", "via", sender.String(), "from", cfg.mailFrom)
	}
	mailer := p.NewMailer(platform.MailConfig{Sender: sender, From: cfg.mailFrom, PerHour: cfg.mailPerHour, PerDay: cfg.mailPerDay})
	recoverMoves(ctx, p)
	if fresh && !cfg.noDemo && cc == nil { // a cluster's nodes do not each make a demo
		if err := platform.SeedDemo(ctx, p, stdout, progName); err != nil {
			return fmt.Errorf("creating the demo tenant: %w", err)
		}
	}
	s, err := web.New(cfg.webConfig(), p, log)
	if err != nil {
		return err
	}
	p.Started = p.Now()
	stopControl, err := serveControl(ctx, cfg.dataDir, p, l.public.Addr().String(), log)
	if err != nil {
		return err
	}
	announce(stdout, log, cfg, p, l)
	return runUntilDone(ctx, log, s, p, l, cfg.domainRecheck, mailer, stopControl)
}

// parseServe reads serve's flags and environment; a nil config without an
// error is --help.
func parseServe(args []string, getenv func(string) string, stdout io.Writer) (*config, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataFlag := fs.String("data", envOr(getenv, "CHAPTERHOUSE_DATA", "data"), "data `dir` (env CHAPTERHOUSE_DATA)")
	cfg := serveFlags(fs, getenv)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(stdout, progName+" [serve] [flags]",
			"serve every tenant's site, and the operator commands over DATA/control.sock (the default command)", fs)
		return nil, nil
	}
	if err != nil {
		return nil, &usageError{fmt.Sprintf("serve: %v\n(`%s serve --help` lists the flags)", err, progName)}
	}
	if len(pos) > 0 {
		return nil, &usageError{fmt.Sprintf("serve: unexpected argument %q", pos[0])}
	}
	if err := cfg.validate(); err != nil {
		return nil, &usageError{"serve: " + err.Error()}
	}
	if cfg.dataDir, err = filepath.Abs(*dataFlag); err != nil {
		return nil, err
	}
	if err := checkSocketPath(cfg.dataDir); err != nil {
		return nil, &usageError{"serve: " + err.Error()}
	}
	return cfg, nil
}

// ownDataDir creates dir if need be and takes its lock for this server;
// fresh says it held no catalog yet (a first run).
func ownDataDir(dir string) (unlock func(), fresh bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	_, statErr := os.Stat(catalog.Path(dir))
	fresh = errors.Is(statErr, os.ErrNotExist)
	unlock, err = lockDataDir(dir)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w (is a server already running on it?)", dir, err)
	}
	return unlock, fresh, nil
}

// listeners are the public listener and the ops listener (nil without
// --ask-addr), and the caps on the public one's connections.
type listeners struct {
	public, ops net.Listener
	limit       *netlimit.Limiter
}

// listen binds the public and ops listeners; its errors name the flag and
// the environment variable that choose another address.
func listen(cfg *config) (*listeners, error) {
	public, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, listenError(cfg.addr, err, "choose another with --addr or CHAPTERHOUSE_ADDR")
	}
	l := &listeners{public: public, limit: connLimiter(cfg)}
	if cfg.askAddr != "" {
		if l.ops, err = net.Listen("tcp", cfg.askAddr); err != nil {
			public.Close()
			return nil, listenError(cfg.askAddr, err,
				`it is the ops listener: choose another with --ask-addr or CHAPTERHOUSE_ASK_ADDR ("" for none)`)
		}
	}
	return l, nil
}

// listenError says which address could not be bound, why (without the
// "listen tcp" and "bind:" of net's error) and how to choose another.
func listenError(addr string, err error, hint string) error {
	why := err
	var se *os.SyscallError
	if errors.As(err, &se) {
		why = se.Err
	}
	return fmt.Errorf("listen on %s: %w; %s", addr, why, hint)
}

// close closes the listeners that http.Server.Shutdown has not closed
// already (when serving never started).
func (l *listeners) close() {
	l.public.Close()
	if l.ops != nil {
		l.ops.Close()
	}
}

// announce prints where the server is, for the operator (stdout) and the
// log.
func announce(stdout io.Writer, log *slog.Logger, cfg *config, p *platform.Platform, l *listeners) {
	fmt.Fprintf(stdout, "chapterhouse: serving %s\n", cfg.dataDir)
	if l.ops != nil {
		// Printed before "listening on" (as is the demo site's address),
		// which tells a waiting test or script that everything is up.
		fmt.Fprintf(stdout, "ops listener: http://%s (/tls/ask /metrics /healthz /readyz)\n", l.ops.Addr())
	}
	if _, ok := p.Catalog.TenantBySlug("demo"); ok {
		fmt.Fprintf(stdout, "demo site: %s\n", p.SiteURL("demo"))
	}
	fmt.Fprintf(stdout, "listening on http://%s\n", l.public.Addr())
	log.Info("serving", "data", cfg.dataDir, "addr", l.public.Addr().String(), "ops_addr", addrOf(l.ops),
		"base_domain", cfg.baseDomain, "max_open_tenants", cfg.maxOpen,
		"max_conns", l.limit.Max(), "max_conns_per_ip", cfg.maxConnsPerIP, "open_file_limit", netlimit.FileLimit())
}

// runUntilDone serves the public and ops listeners and rechecks custom
// domains every recheck, until ctx is done or a listener fails; then it
// shuts down in order: /readyz fails at once, public requests finish (up
// to 30 seconds), the control socket closes, then the ops listener.
func runUntilDone(ctx context.Context, log *slog.Logger, s *web.Server, p *platform.Platform, l *listeners,
	recheck time.Duration, mailer *platform.Mailer, stopControl func() error) error {
	newHTTPServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       2 * time.Minute,
			WriteTimeout:      2 * time.Minute,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	}
	srv := newHTTPServer(s)
	srv.ConnState = l.limit.ConnState
	p.Metrics.WatchConns(metrics.Conns{Open: l.limit.Open, RefusedTotal: l.limit.Stats.RefusedTotal.Load,
		RefusedClient: l.limit.Stats.RefusedClient.Load, ClosedIdle: l.limit.Stats.ClosedIdle.Load})
	opsSrv := newHTTPServer(s.OpsHandler())
	recheckCtx, stopRecheck := context.WithCancel(ctx)
	recheckDone := make(chan struct{})
	go func() {
		defer close(recheckDone)
		p.RecheckLoop(recheckCtx, recheck)
	}()
	renewalsDone := make(chan struct{}) // the daily sweep of renewal reminders (docs/members.md)
	go func() {
		defer close(renewalsDone)
		p.RenewalLoop(recheckCtx, 10*time.Minute, 24*time.Hour, time.Now)
	}()
	mailDone := make(chan struct{})
	go func() {
		defer close(mailDone)
		mailer.Run(recheckCtx)
	}()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(l.limit.Listener(l.public)) }()
	if l.ops != nil {
		go func() { errc <- opsSrv.Serve(l.ops) }()
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	s.Drain()
	log.Info("shutting down: finishing requests")
	stopRecheck()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	serr := srv.Shutdown(sctx)
	cerr := stopControl()
	oerr := opsSrv.Shutdown(sctx)
	<-recheckDone
	<-renewalsDone
	<-mailDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, serr, cerr, oerr)
}

// connLimiter caps the public listener's connections: --max-conns-per-ip
// from one client (not from a --trusted-proxy, which carries many), and
// --max-conns in all, by default what the open-file limit leaves once
// every tenant database allowed open has its files: idle connections must
// never make a tenant fail to open.
func connLimiter(cfg *config) *netlimit.Limiter {
	n := cfg.maxConns
	if n == 0 {
		n = defaultMaxConns(netlimit.FileLimit(), cfg.maxOpen)
	}
	return netlimit.New(netlimit.Config{Max: n, PerClient: cfg.maxConnsPerIP, Exempt: cfg.trustedProxies})
}

// defaultMaxConns is the connection cap that leaves, of an open-file limit
// of files, fdsPerTenant for each of maxOpen tenants and fdsReserved for
// the rest, at most maxConnsCeiling and at least minConns (a file limit
// too low for the tenants gets what it can).
func defaultMaxConns(files, maxOpen int) int {
	if files <= 0 {
		return maxConnsCeiling
	}
	return min(max(files-maxOpen*fdsPerTenant-fdsReserved, minConns), maxConnsCeiling)
}

const (
	// fdsPerTenant is what an open tenant database may hold: a writer and
	// four readers, each with the file and its WAL, and slack.
	fdsPerTenant = 12
	// fdsReserved is for the catalog, the listeners, the control socket,
	// logs, exports, imports and uploads being received.
	fdsReserved = 256
	// maxConnsCeiling bounds the default whatever the file limit: each
	// connection costs some 10-20 KB of memory, so 10,000 are 100-200 MB,
	// as much as a small box should give them.
	maxConnsCeiling = 10_000
	minConns        = 64
)

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

// describeError is the one line an operator reads for err.
func describeError(err error) string {
	return err.Error()
}

// healthcheckSummary is healthcheck's line in the help.
const healthcheckSummary = "exit 0 if the server on this machine answers /healthz (for container health checks)"

// healthcheck asks the local server's /healthz, for container health checks
// in images that have no curl. It finds the server by --addr, else by
// asking the server that owns the data dir (--data, CHAPTERHOUSE_DATA) on
// its control socket, so that a serve --addr in a container's command is
// followed, else by CHAPTERHOUSE_ADDR or :8080 as serve reads them; a
// server listening on every address (":8080", "[::]:8080") is asked on
// loopback.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "", "`address` the server serves the sites on (default: the data dir's server's, else env CHAPTERHOUSE_ADDR, else :8080)")
	fs.String("data", "", "data `dir` whose server to ask (env CHAPTERHOUSE_DATA, default ./data)")
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(stdout, progName+" healthcheck [--addr ADDR] [--data DIR]", healthcheckSummary, fs)
		return nil
	}
	if err != nil || len(pos) > 0 {
		return &usageError{fmt.Sprintf("healthcheck: want only --addr ADDR or --data DIR\nusage: %s healthcheck [--addr ADDR] [--data DIR]", progName)}
	}
	if *addr == "" {
		if dir, err := dataDirOf(args, getenv); err == nil {
			*addr, _ = askAddr(ctx, dir)
		}
	}
	if *addr == "" {
		*addr = envOr(getenv, "CHAPTERHOUSE_ADDR", ":8080")
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return &usageError{fmt.Sprintf("healthcheck: --addr %q is not HOST:PORT", *addr)}
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
	}
	return nil
}
