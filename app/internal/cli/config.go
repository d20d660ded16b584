package cli

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/hostname"
	"github.com/chapterhouse/chapterhouse/app/internal/mail"
	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/tenantdb/replica"
)

// config is how serve was asked to run. loadServeConfig is the one place
// it is read from flags and the environment.
type config struct {
	dataDir        string
	addr           string
	baseDomain     string
	maxOpen        int
	idleTimeout    time.Duration
	acquireTimeout time.Duration
	maxBody        int64
	noDemo         bool
	logFormat      string
	trustedProxies []*net.IPNet
	pageCacheMB    int
	bodyTimeout    time.Duration
	maxConns       int // 0: derived from the file limit (connLimits)
	maxConnsPerIP  int
	maxExports     int

	// askAddr is the ops listener: /tls/ask for Caddy, /metrics, /healthz,
	// /readyz. Empty: none.
	askAddr       string
	dnsResolver   string
	resolver      *net.Resolver // from dnsResolver, set by validate
	publicIPs     ipList
	domainRecheck time.Duration
	domainGrace   time.Duration

	// quota is each tenant's storage quota as typed (--quota), quotaBytes
	// as validate read it; 0: unlimited.
	quota      string
	quotaBytes int64

	// smtp and mailFrom are --smtp and --mail-from ("": mail is off).
	smtp, mailFrom          string
	mailPerHour, mailPerDay int

	// secretFile holds the login-token secrets; empty means
	// DATA/token-secrets, created on first run.
	secretFile string

	// replica is the --replica URL ("": no replication), parsed by
	// validate into replicaTarget.
	replica          string
	replicaTarget    *replica.Target
	replicaInterval  time.Duration
	replicaRetention time.Duration

	// cluster is --cluster, the NATS servers' URLs ("": a single node),
	// parsed by validate into clusterURLs; nodeID and advertise name this
	// node and the URL the other nodes forward its tenants' requests to
	// (docs/cluster.md).
	cluster     string
	clusterURLs []string
	nodeID      string
	advertise   string
}

// ipList is a repeatable --public-ip flag.
type ipList []netip.Addr

func (l *ipList) String() string {
	var s []string
	for _, ip := range *l {
		s = append(s, ip.String())
	}
	return strings.Join(s, ",")
}

func (l *ipList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		ip, err := netip.ParseAddr(part)
		if err != nil || ip.Zone() != "" {
			return fmt.Errorf("%q is not an IP address", part)
		}
		*l = append(*l, ip.Unmap())
	}
	return nil
}

// cidrList is a repeatable --trusted-proxy flag.
type cidrList []*net.IPNet

func (l *cidrList) String() string {
	var s []string
	for _, n := range *l {
		s = append(s, n.String())
	}
	return strings.Join(s, ",")
}

func (l *cidrList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if !strings.Contains(part, "/") {
			if ip := net.ParseIP(part); ip != nil {
				bits := 32
				if ip.To4() == nil {
					bits = 128
				}
				part = fmt.Sprintf("%s/%d", part, bits)
			}
		}
		_, n, err := net.ParseCIDR(part)
		if err != nil {
			return fmt.Errorf("%q is not an IP address or CIDR range", part)
		}
		*l = append(*l, n)
	}
	return nil
}

// serveFlags declares the flags of serve on fs and returns the config they
// fill, with defaults from the environment.
func serveFlags(fs *flag.FlagSet, getenv func(string) string) *config {
	cfg := &config{}
	fs.StringVar(&cfg.addr, "addr", envOr(getenv, "CHAPTERHOUSE_ADDR", ":8080"), "`address` to serve the sites on (env CHAPTERHOUSE_ADDR)")
	fs.StringVar(&cfg.baseDomain, "base-domain", envOr(getenv, "CHAPTERHOUSE_BASE_DOMAIN", "localhost"), "platform `domain`: tenants are served at <slug>.<domain> (env CHAPTERHOUSE_BASE_DOMAIN)")
	fs.IntVar(&cfg.maxOpen, "max-open-tenants", 256, "most tenant databases open at once")
	fs.DurationVar(&cfg.idleTimeout, "idle-timeout", 5*time.Minute, "close a tenant database unused for this long")
	fs.DurationVar(&cfg.acquireTimeout, "acquire-timeout", 5*time.Second, "how long a request waits for a free tenant slot before 503")
	fs.Int64Var(&cfg.maxBody, "max-body", 12<<20, "largest request body in `bytes`")
	fs.DurationVar(&cfg.bodyTimeout, "body-timeout", 30*time.Second, "how long a client may stall sending a request body or taking a response (and then average 16 KiB/s)")
	fs.IntVar(&cfg.maxConns, "max-conns", 0, "most public connections open at once; 0: derived from the open-file limit")
	fs.IntVar(&cfg.maxConnsPerIP, "max-conns-per-ip", 64, "most public connections from one client address (IPv6: a /64); 0: no cap")
	fs.IntVar(&cfg.maxExports, "max-exports", 4, "export downloads at once (one per chapter)")
	fs.BoolVar(&cfg.noDemo, "no-demo", false, "do not create the demo tenant in a new data dir")
	fs.StringVar(&cfg.logFormat, "log-format", envOr(getenv, "CHAPTERHOUSE_LOG_FORMAT", "text"), "log format: text or json")
	fs.IntVar(&cfg.pageCacheMB, "page-cache-mb", 64, "memory for rendered public pages, in `MiB` (0: no cache)")
	fs.StringVar(&cfg.secretFile, "secret-file", getenv("CHAPTERHOUSE_SECRET_FILE"), "`file` of login-token secrets, one per line, the first signing (env CHAPTERHOUSE_SECRET_FILE; default DATA/token-secrets, generated)")
	fs.Var((*cidrList)(&cfg.trustedProxies), "trusted-proxy", "`CIDR` of a reverse proxy whose X-Forwarded-For is believed (repeatable)")
	fs.StringVar(&cfg.askAddr, "ask-addr", envOr(getenv, "CHAPTERHOUSE_ASK_ADDR", "127.0.0.1:8081"),
		"ops `address`: /tls/ask for Caddy, /metrics, /healthz, /readyz; keep it private; \"\" for none (env CHAPTERHOUSE_ASK_ADDR)")
	fs.StringVar(&cfg.dnsResolver, "dns-resolver", getenv("CHAPTERHOUSE_DNS_RESOLVER"),
		"DNS resolver `IP[:port]` for verifying custom domains; default the system's (env CHAPTERHOUSE_DNS_RESOLVER)")
	cfg.publicIPs.Set(getenv("CHAPTERHOUSE_PUBLIC_IP"))
	fs.Var(&cfg.publicIPs, "public-ip", "the platform's public `IP`, shown as the A/AAAA record for custom domains (repeatable; env CHAPTERHOUSE_PUBLIC_IP)")
	fs.DurationVar(&cfg.domainRecheck, "domain-recheck", time.Hour, "check every custom domain's TXT record this often; 0: never")
	fs.DurationVar(&cfg.domainGrace, "domain-grace", 24*time.Hour, "a verified domain whose TXT record vanished keeps routing this long; 0: stops at once")
	fs.StringVar(&cfg.quota, "quota", envOr(getenv, "CHAPTERHOUSE_QUOTA", "200MB"),
		"each tenant's storage `size` unless `tenant set --quota` gives it its own: 500MB, 2GB, bytes; 0: unlimited (env CHAPTERHOUSE_QUOTA)")
	fs.StringVar(&cfg.smtp, "smtp", getenv("CHAPTERHOUSE_SMTP"),
		"send mail through this `URL`: smtp://user:pass@host:587 (STARTTLS), smtps://...:465, or log: to print mails to the log; none: mail is off (env CHAPTERHOUSE_SMTP)")
	fs.StringVar(&cfg.mailFrom, "mail-from", getenv("CHAPTERHOUSE_MAIL_FROM"), "the `address` mails are sent from, in each chapter's name (env CHAPTERHOUSE_MAIL_FROM)")
	fs.IntVar(&cfg.mailPerHour, "mail-per-hour", platform.DefaultMailPerHour, "most mails one chapter sends in an hour")
	fs.IntVar(&cfg.mailPerDay, "mail-per-day", platform.DefaultMailPerDay, "most mails one chapter sends in a day")
	fs.StringVar(&cfg.replica, "replica", getenv("CHAPTERHOUSE_REPLICA"),
		"stream the catalog and open tenants to `URL`: file:///dir, nats://host:port/bucket, s3://bucket/prefix (env CHAPTERHOUSE_REPLICA; docs/replication.md)")
	fs.DurationVar(&cfg.replicaInterval, "replica-interval", time.Second, "with --replica: how old the newest replicated write may be")
	fs.DurationVar(&cfg.replicaRetention, "replica-retention", 720*time.Hour, "with --replica: how far back a restore can go")
	clusterFlag(fs, &cfg.cluster, getenv)
	fs.StringVar(&cfg.nodeID, "node-id", getenv("CHAPTERHOUSE_NODE_ID"), "with --cluster: this node's `name`, unique in the cluster (env CHAPTERHOUSE_NODE_ID)")
	fs.StringVar(&cfg.advertise, "advertise", getenv("CHAPTERHOUSE_ADVERTISE"),
		"with --cluster: the `URL` other nodes forward this node's chapters' requests to, http://ADDR:PORT (env CHAPTERHOUSE_ADVERTISE)")
	return cfg
}

// clusterFlag declares --cluster on fs: serve and every command that uses
// the catalog take it.
func clusterFlag(fs *flag.FlagSet, v *string, getenv func(string) string) {
	fs.StringVar(v, "cluster", getenv("CHAPTERHOUSE_CLUSTER"),
		"run as a node of the cluster on these NATS `URLs`, nats://h1:4222,nats://h2:4222 (env CHAPTERHOUSE_CLUSTER; docs/cluster.md)")
}

func (cfg *config) validate() error {
	base, err := hostname.Normalize(cfg.baseDomain)
	if err != nil {
		return fmt.Errorf("--base-domain %q is not a host name", cfg.baseDomain)
	}
	cfg.baseDomain = base
	if cfg.maxOpen < 1 {
		return fmt.Errorf("--max-open-tenants must be at least 1")
	}
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, not %q", cfg.logFormat)
	}
	if cfg.pageCacheMB < 0 {
		return fmt.Errorf("--page-cache-mb must be 0 (off) or more")
	}
	if cfg.acquireTimeout <= 0 {
		return fmt.Errorf("--acquire-timeout must be positive")
	}
	if cfg.bodyTimeout <= 0 {
		return fmt.Errorf("--body-timeout must be positive")
	}
	if cfg.maxConns < 0 || cfg.maxConnsPerIP < 0 {
		return fmt.Errorf("--max-conns and --max-conns-per-ip must not be negative")
	}
	if cfg.maxExports < 1 {
		return fmt.Errorf("--max-exports must be at least 1")
	}
	if cfg.askAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.askAddr); err != nil {
			return fmt.Errorf("--ask-addr %q is not HOST:PORT", cfg.askAddr)
		}
	}
	if cfg.resolver, err = platform.NewResolver(cfg.dnsResolver); err != nil {
		return err
	}
	if cfg.domainRecheck < 0 || cfg.domainGrace < 0 {
		return fmt.Errorf("--domain-recheck and --domain-grace must not be negative")
	}
	if cfg.quotaBytes, err = platform.ParseSize(cfg.quota); err != nil {
		return fmt.Errorf("--quota: %w", err)
	}
	if cfg.mailPerHour < 1 || cfg.mailPerDay < 1 {
		return fmt.Errorf("--mail-per-hour and --mail-per-day must be at least 1")
	}
	if cfg.smtp == "log:" && cfg.mailFrom == "" {
		cfg.mailFrom = "chapterhouse@" + cfg.baseDomain
		if !strings.Contains(cfg.baseDomain, ".") {
			cfg.mailFrom = "chapterhouse@localhost.localdomain"
		}
	}
	if _, err = mail.New(mail.Config{URL: cfg.smtp, From: cfg.mailFrom}, io.Discard); err != nil {
		return err
	}
	if cfg.replica != "" {
		if cfg.replicaTarget, err = replica.ParseURL(cfg.replica); err != nil {
			return fmt.Errorf("--replica: %w", err)
		}
	}
	if cfg.replicaInterval < 10*time.Millisecond {
		return fmt.Errorf("--replica-interval must be at least 10ms")
	}
	if cfg.replicaRetention < time.Hour {
		return fmt.Errorf("--replica-retention must be at least 1h")
	}
	return cfg.validateCluster()
}

// validateCluster checks --cluster, --node-id and --advertise: all three
// or none (a single node).
func (cfg *config) validateCluster() error {
	if cfg.cluster == "" {
		if cfg.nodeID != "" || cfg.advertise != "" {
			return fmt.Errorf("--node-id and --advertise need --cluster")
		}
		return nil
	}
	var err error
	if cfg.clusterURLs, err = parseClusterURLs(cfg.cluster); err != nil {
		return err
	}
	if err := validateNodeID(cfg.nodeID); err != nil {
		return err
	}
	if cfg.secretFile == "" {
		return fmt.Errorf("--cluster needs --secret-file FILE, the same file on every node: whichever node serves a chapter checks its logins")
	}
	if cfg.advertise == "" {
		return fmt.Errorf("--cluster needs --advertise http://ADDR:PORT, the address other nodes reach this one on")
	}
	u, err := url.Parse(cfg.advertise)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("--advertise %q: want http://ADDR:PORT (or https://), with no path", cfg.advertise)
	}
	cfg.advertise = u.Scheme + "://" + u.Host
	return nil
}

// parseClusterURLs reads --cluster: NATS URLs separated by commas.
func parseClusterURLs(s string) ([]string, error) {
	var urls []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		u, err := url.Parse(part)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("--cluster: %q is not a NATS server URL (nats://host:4222)", part)
		}
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			return nil, fmt.Errorf("--cluster: %q has no port (nats://host:4222)", part)
		}
		urls = append(urls, part)
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("--cluster: no NATS server URL in %q", s)
	}
	return urls, nil
}

// validateNodeID checks a node's name: 1-63 of a-z, 0-9 and '-', as it
// goes into NATS subjects and keys.
func validateNodeID(id string) error {
	if id == "" {
		return fmt.Errorf("--cluster needs --node-id NAME, this node's name (a-z, 0-9, -)")
	}
	if len(id) > 63 {
		return fmt.Errorf("--node-id %q: at most 63 characters", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("--node-id %q: only a-z, 0-9 and - (it names the node in the cluster's keys)", id)
		}
	}
	return nil
}

// replicaOptions is what the config says about replication.
func (cfg *config) replicaOptions() replica.Options {
	return replica.Options{Interval: cfg.replicaInterval, Retention: cfg.replicaRetention}
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// platformSettings is what the config says about the platform.
func (cfg *config) platformSettings() platform.Settings {
	return platform.Settings{
		BaseDomain:  cfg.baseDomain,
		ListenAddr:  cfg.addr,
		Resolver:    cfg.resolver,
		PublicIPs:   cfg.publicIPs,
		DomainGrace: cfg.domainGrace,
		Quota:       cfg.quotaBytes,
	}
}

// webConfig is what the config says about the web server.
func (cfg *config) webConfig() web.Config {
	return web.Config{
		BaseDomain:     cfg.baseDomain,
		MaxBody:        cfg.maxBody,
		AcquireTimeout: cfg.acquireTimeout,
		BodyTimeout:    cfg.bodyTimeout,
		MaxExports:     cfg.maxExports,
		TrustedProxies: cfg.trustedProxies,
		PageCacheMB:    cfg.pageCacheMB,
		DomainRecheck:  cfg.domainRecheck,
		DataDir:        cfg.dataDir,
		SecretFile:     cfg.secretFile,
	}
}
