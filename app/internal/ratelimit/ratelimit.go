// Package ratelimit holds keyed token buckets with bounded memory: one per
// client address or account, for logins, contact messages and domain checks.
package ratelimit

import (
	"fmt"
	"math"
	"net"
	"sync"
	"time"
)

// One keyed token bucket serves every per-client limit: logins (with the
// login throttle below), contact messages, domain checks.

// Limiter is a set of token buckets keyed by string (a client address, an
// account), each holding up to burst tokens and refilled at one token per
// every. It remembers at most maxKeys keys: a full bucket carries no
// information and is forgotten first; if every bucket is in use, an
// arbitrary one is, so memory stays bounded whatever a client sends.
type Limiter struct {
	burst   float64
	every   time.Duration
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func New(burst int, every time.Duration, maxKeys int) *Limiter {
	return &Limiter{burst: float64(burst), every: every, maxKeys: maxKeys, buckets: map[string]*bucket{}}
}

// level refills b up to now and returns its tokens.
func (l *Limiter) level(b *bucket, now time.Time) float64 {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = math.Min(l.burst, b.tokens+float64(d)/float64(l.every))
		b.at = now
	}
	return b.tokens
}

// Wait is how long key must wait for a token at now: 0 if it has one.
func (l *Limiter) Wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return 0
	}
	if t := l.level(b, now); t < 1 {
		return time.Duration((1 - t) * float64(l.every))
	}
	return 0
}

// Take spends one of key's tokens at now; it reports false, and the wait
// for the next one, when there is none.
func (l *Limiter) Take(key string, now time.Time) (bool, time.Duration) {
	return l.TakeN(key, 1, now)
}

// TakeN spends n of key's tokens at now, all or none (a byte budget: n
// bytes of an upload); it reports false, and the wait until there are n,
// when there are fewer. n over the burst counts as the burst, so that
// the wait ends.
func (l *Limiter) TakeN(key string, n float64, now time.Time) (bool, time.Duration) {
	n = math.Min(n, l.burst)
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	if t := l.level(b, now); t < n {
		return false, time.Duration((n - t) * float64(l.every))
	}
	b.tokens -= n
	return true, 0
}

// evict makes room for one key: every full bucket goes, or else one
// arbitrary bucket.
func (l *Limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if l.level(b, now) >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < l.maxKeys {
		return
	}
	for k := range l.buckets {
		delete(l.buckets, k)
		return
	}
}

// ClientKey groups an IPv6 client by its /64, which one subscriber
// usually holds whole; an IPv4 client is its address.
func ClientKey(ip string) string {
	parsed := net.ParseIP(ip)
	if parsed == nil {
		return ip
	}
	if v4 := parsed.To4(); v4 != nil {
		return v4.String()
	}
	return parsed.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// Error is a request refused by a limit: What was asked too often, and
// Wait is how long until the next one is allowed.
type Error struct {
	What string // "too many login attempts"
	Wait time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s; try again in %s", e.What, HumanWait(e.Wait))
}

// RetryAfter is Wait in whole seconds, rounded up, at least 1: the value
// of a Retry-After header.
func (e *Error) RetryAfter() int {
	return max(int(math.Ceil(e.Wait.Seconds())), 1)
}

// HumanWait says how long d is for a person: "a second", "40 seconds",
// "2 minutes".
func HumanWait(d time.Duration) string {
	secs := int(math.Ceil(d.Seconds()))
	switch {
	case secs <= 1:
		return "a second"
	case secs < 90:
		return fmt.Sprintf("%d seconds", secs)
	}
	return fmt.Sprintf("%d minutes", (secs+59)/60)
}
