package site

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// Visit statistics are counted here, on the server, for every page a
// person reads (GET, answered 200 or 304, from the page cache or not): no
// cookie, no script, nothing sent to anyone else. A visitor is a hash of a
// salt of the day, the tenant, the client's address and its user agent;
// the salt is random, lives only in this process's memory and is replaced
// every day (UTC), so the hashes in a tenant file cannot be turned back
// into addresses, nor linked across days or chapters. Counting is a hash
// and a map update in memory (tenantdb.DB.CountVisit): the file is written
// in batches. Requests from bots (by user agent) are not counted, nor are
// those of a frozen site, whose file must not change.

// daySalt is the salt of one UTC day.
type daySalt struct {
	day  string    // YYYY-MM-DD
	end  time.Time // the next day's start
	salt [32]byte
}

// visitCounter turns requests into visitors with the salt of the day.
type visitCounter struct {
	cur    atomic.Pointer[daySalt]
	mu     sync.Mutex // held while the salt is replaced
	agents agents
}

// salt returns the salt of now's day, making a new one when the day
// changed.
func (vc *visitCounter) salt(now time.Time) *daySalt {
	if s := vc.cur.Load(); s != nil && now.Before(s.end) && !now.Before(s.end.Add(-24*time.Hour)) {
		return s
	}
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if s := vc.cur.Load(); s != nil && now.Before(s.end) && !now.Before(s.end.Add(-24*time.Hour)) {
		return s
	}
	y, m, d := now.UTC().Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	s := &daySalt{day: start.Format(tenantdb.DateLayout), end: start.AddDate(0, 0, 1)}
	rand.Read(s.salt[:])
	vc.cur.Store(s)
	return s
}

// visitor is the hash that stands for the client of a request on a day:
// SHA-256 over the salt, the tenant, the address and the digest of the
// user agent (agentSum, computed once per user agent). With the agent's
// 16-byte digest in place of its 100-odd bytes the input fits two of
// SHA-256's blocks instead of three or four, and a buffer on the stack.
func (s *daySalt) visitor(tenant, addr string, agent agentSum) tenantdb.Visitor {
	var buf [32 + maxTenant + 1 + maxAddr + 1 + len(agentSum{})]byte
	b := append(buf[:0], s.salt[:]...)
	b = append(b, tenant[:min(len(tenant), maxTenant)]...)
	b = append(b, 0)
	b = append(b, addr[:min(len(addr), maxAddr)]...)
	b = append(b, 0)
	b = append(b, agent[:]...)
	sum := sha256.Sum256(b)
	return tenantdb.Visitor(sum[:16])
}

// The longest tenant id and client address taken whole into a visitor's
// hash (a tenant id is 16 letters; an IPv6 address with a zone fits).
const (
	maxTenant = 32
	maxAddr   = 64
)

// agentSum is the first 16 bytes of SHA-256 over a user agent: what a
// visitor's hash takes of it.
type agentSum [16]byte

func sumAgent(agent string) agentSum {
	sum := sha256.Sum256([]byte(agent))
	return agentSum(sum[:16])
}

// agentInfo is what is remembered of a user agent.
type agentInfo struct {
	bot bool
	sum agentSum // of a browser's
}

// agents remembers which user agents are bots', and the digest of a
// browser's, so that an agent is checked and hashed once, not on every
// request: at most maxAgents of them, all forgotten when full. Reading
// one takes no lock (sync.Map), so requests on both cores do not contend.
type agents struct {
	m sync.Map // agent string -> agentInfo
	n atomic.Int64
}

const maxAgents = 4096

// lookup returns what is known of agent, checking it the first time.
func (a *agents) lookup(agent string) agentInfo {
	if v, ok := a.m.Load(agent); ok {
		return v.(agentInfo)
	}
	info := agentInfo{bot: isBot(agent)}
	if !info.bot {
		info.sum = sumAgent(agent)
	}
	if a.n.Add(1) > maxAgents {
		a.m.Clear()
		a.n.Store(1)
	}
	a.m.Store(agent, info)
	return info
}

func (a *agents) isBot(agent string) bool { return a.lookup(agent).bot }

// count counts a view of path on tenant t's db by the client addr with
// user agent agent at now, unless it is a bot's: the whole of what
// counting adds to a page's request.
func (vc *visitCounter) count(db *tenantdb.DB, tenant, path, addr, agent string, now time.Time) {
	info := vc.agents.lookup(agent)
	if info.bot {
		return
	}
	ds := vc.salt(now)
	db.CountVisit(ds.day, path, ds.visitor(tenant, addr, info.sum))
}

// countVisit counts a page that a person read: a GET answered with 200 or
// 304, whether from the page cache or rendered.
func (s *Handler) countVisit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		r := c.Request()
		if err != nil || r.Method != http.MethodGet {
			return err
		}
		if st := c.Response().Status; st != http.StatusOK && st != http.StatusNotModified {
			return nil
		}
		t := httpx.Tenant(c)
		if t.Status == catalog.StatusFrozen {
			return nil
		}
		s.visits.count(httpx.DB(c).DB, t.ID, r.URL.Path, c.RealIP(), r.UserAgent(), s.now())
		return nil
	}
}

// botWords are found in the user agents of crawlers, link previewers,
// monitors and HTTP libraries, lower-case.
var botWords = func() [][]byte {
	var out [][]byte
	for _, w := range []string{
		"bot", "crawl", "spider", "slurp", "archiver", "preview", "monitor", "checker", "scan",
		"curl", "wget", "python", "go-http-client", "java/", "okhttp", "libwww", "httpclient",
		"headless", "lighthouse", "facebookexternalhit", "embedly", "feed",
	} {
		out = append(out, []byte(w))
	}
	return out
}()

// maxAgent is the longest user agent taken for a browser's.
const maxAgent = 512

// isBot says whether a user agent is a program's rather than a person's
// browser: empty, longer than browsers send, or naming a bot.
func isBot(agent string) bool {
	if agent == "" || len(agent) > maxAgent {
		return true
	}
	var buf [maxAgent]byte
	b := buf[:len(agent)]
	for i := 0; i < len(agent); i++ {
		c := agent[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	for _, w := range botWords {
		if bytes.Contains(b, w) {
			return true
		}
	}
	return false
}
