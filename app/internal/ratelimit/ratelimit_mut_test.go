package ratelimit

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestWaitSaysHowLongUntilAToken: an unknown key waits for nothing; a key
// that spent its burst waits for the part of a token it lacks, and a
// clock that goes back refills nothing.
func TestWaitSaysHowLongUntilAToken(t *testing.T) {
	l := New(2, time.Minute, 10)
	if w := l.Wait("a", t0); w != 0 {
		t.Errorf("unknown key: %v", w)
	}
	l.Take("a", t0)
	if w := l.Wait("a", t0); w != 0 {
		t.Errorf("one token left: %v", w)
	}
	l.Take("a", t0)
	if w := l.Wait("a", t0); w != time.Minute {
		t.Errorf("none left: %v, want 1m", w)
	}
	if w := l.Wait("a", t0.Add(15*time.Second)); w != 45*time.Second {
		t.Errorf("a quarter refilled: %v, want 45s", w)
	}
	if w := l.Wait("a", t0); w != 45*time.Second {
		t.Errorf("the clock went back: %v, want still 45s", w)
	}
	if w := l.Wait("a", t0.Add(time.Minute)); w != 0 {
		t.Errorf("a token refilled: %v", w)
	}
	// Refill stops at the burst: an hour later there are 2 tokens, not 60.
	for i := range 3 {
		ok, _ := l.Take("a", t0.Add(time.Hour))
		if ok != (i < 2) {
			t.Errorf("take %d an hour later: %v", i+1, ok)
		}
	}
}

// TestTakeNIsAllOrNone: n tokens are spent together or not at all, the
// wait is for the n missing, and n over the burst counts as the burst.
func TestTakeNIsAllOrNone(t *testing.T) {
	l := New(10, time.Second, 10)
	if ok, _ := l.TakeN("a", 10, t0); !ok {
		t.Fatal("the whole burst refused")
	}
	if ok, wait := l.TakeN("a", 4, t0.Add(3*time.Second)); ok || wait != time.Second {
		t.Errorf("4 with 3 there: %v, wait %v; want refused, 1s", ok, wait)
	}
	if ok, _ := l.TakeN("a", 3, t0.Add(3*time.Second)); !ok {
		t.Error("3 with 3 there refused (the refused 4 took some)")
	}
	if ok, wait := l.TakeN("b", 25, t0); !ok || wait != 0 {
		t.Errorf("25 of a burst of 10 from a full bucket: %v %v, want taken as 10", ok, wait)
	}
	if ok, wait := l.TakeN("b", 25, t0); ok || wait != 10*time.Second {
		t.Errorf("25 again: %v, wait %v; want refused for the burst's 10s", ok, wait)
	}
}

// TestEvictForgetsFullBucketsFirst: at the bound of keys, every full
// bucket (which carries nothing) goes before a bucket in use; with every
// bucket in use one goes, so the bound holds.
func TestEvictForgetsFullBucketsFirst(t *testing.T) {
	l := New(2, time.Minute, 10)
	l.Take("spent", t0)
	l.Take("spent", t0)
	for _, k := range []string{"k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"} {
		l.Take(k, t0.Add(-time.Hour)) // full again by t0
	}
	l.Take("new", t0)
	if len(l.buckets) != 2 {
		t.Errorf("%d keys after eviction, want the spent one and the new one", len(l.buckets))
	}
	if ok, _ := l.Take("spent", t0); ok {
		t.Error("the spent key was forgotten (and refilled) before the full ones")
	}

	busy := New(2, time.Minute, 3)
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		busy.Take(k, t0)
		if len(busy.buckets) > 3 {
			t.Fatalf("%d keys with a bound of 3", len(busy.buckets))
		}
	}
	if len(busy.buckets) != 3 {
		t.Errorf("%d keys, want the bound of 3", len(busy.buckets))
	}
}

// TestWaitsReadForPeople: Retry-After is whole seconds rounded up, at
// least 1; the message says seconds up to 89 and minutes rounded up from
// 90.
func TestWaitsReadForPeople(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "a second", time.Second: "a second", 1001 * time.Millisecond: "2 seconds",
		89 * time.Second: "89 seconds", 90 * time.Second: "2 minutes", 120 * time.Second: "2 minutes",
		121 * time.Second: "3 minutes", time.Hour: "60 minutes",
	} {
		if got := HumanWait(d); got != want {
			t.Errorf("HumanWait(%v) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1200 * time.Millisecond: 2, 40 * time.Second: 40} {
		if got := (&Error{Wait: d}).RetryAfter(); got != want {
			t.Errorf("RetryAfter(%v) = %d, want %d", d, got, want)
		}
	}
	e := &Error{What: "too many login attempts", Wait: 40 * time.Second}
	if got := e.Error(); got != "too many login attempts; try again in 40 seconds" {
		t.Errorf("Error() = %q", got)
	}
}

// TestClientKeyForms: an IPv4 address (also IPv4-mapped IPv6) is its own
// key, IPv6 its /64, and what is no address stays itself.
func TestClientKeyForms(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.1": "192.0.2.1", "::ffff:192.0.2.1": "192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64", "unix": "unix", "": "",
	} {
		if got := ClientKey(ip); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", ip, got, want)
		}
	}
	if strings.Contains(ClientKey("2001:db8::1"), "::1") {
		t.Error("an IPv6 key keeps the host part")
	}
}
