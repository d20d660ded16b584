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
// SHA-256 over the salt, the tenant, the address and the user agent
// (each at most maxAgent bytes, so the input fits a buffer on the stack).
func (s *daySalt) visitor(tenant, addr, agent string) tenantdb.Visitor {
	var buf [32 + 3*maxAgent + 2]byte
	b := append(buf[:0], s.salt[:]...)
	b = append(b, tenant[:min(len(tenant), maxAgent)]...)
	b = append(b, 0)
	b = append(b, addr[:min(len(addr), maxAgent)]...)
	b = append(b, 0)
	b = append(b, agent[:min(len(agent), maxAgent)]...)
	sum := sha256.Sum256(b)
	var v tenantdb.Visitor
	copy(v[:], sum[:])
	return v
}

// agents remembers which user agents are bots', so that a browser's is
// checked once, not on every request: a map of at most maxAgents entries,
// emptied when full.
type agents struct {
	mu  sync.RWMutex
	bot map[string]bool
}

const maxAgents = 4096

func (a *agents) isBot(agent string) bool {
	a.mu.RLock()
	bot, ok := a.bot[agent]
	a.mu.RUnlock()
	if ok {
		return bot
	}
	bot = isBot(agent)
	a.mu.Lock()
	if a.bot == nil || len(a.bot) >= maxAgents {
		a.bot = make(map[string]bool)
	}
	a.bot[agent] = bot
	a.mu.Unlock()
	return bot
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
		agent := r.UserAgent()
		if s.visits.agents.isBot(agent) {
			return nil
		}
		t := httpx.Tenant(c)
		if t.Status == catalog.StatusFrozen {
			return nil
		}
		ds := s.visits.salt(s.now())
		httpx.DB(c).CountVisit(ds.day, r.URL.Path, ds.visitor(t.ID, c.RealIP(), agent))
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
