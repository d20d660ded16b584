package ratelimit

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

func TestRateLimiterRefillsAndStaysBounded(t *testing.T) {
	l := New(3, time.Minute, 100)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		if ok, _ := l.Take("a", now); !ok {
			t.Fatalf("request %d refused within the burst", i+1)
		}
	}
	ok, retry := l.Take("a", now)
	if ok || retry != time.Minute {
		t.Fatalf("4th: ok=%v retry=%v, want refused for 1m", ok, retry)
	}
	if ok, _ := l.Take("a", now.Add(time.Minute)); !ok {
		t.Errorf("refused after one refill")
	}
	if ok, _ := l.Take("a", now.Add(time.Minute)); ok {
		t.Errorf("allowed two after one refill")
	}
	for i := 0; i < 1000; i++ {
		l.Take(strconv.Itoa(i), now)
	}
	if n := len(l.buckets); n > 100 {
		t.Errorf("%d keys remembered, want at most 100", n)
	}
}

func TestLimiterBounded(t *testing.T) {
	l := New(2, time.Minute, 100)
	now := time.Now()
	for i := 0; i < 10_000; i++ {
		l.Take(fmt.Sprint("key", i), now)
		if n := len(l.buckets); n > 100 {
			t.Fatalf("after %d keys the limiter holds %d, want at most 100", i+1, n)
		}
	}
	// Refill: a key that spent its burst has a token again after `every`.
	l.Take("k", now)
	l.Take("k", now)
	if ok, wait := l.Take("k", now); ok || wait <= 0 || wait > time.Minute {
		t.Errorf("third take: ok %v wait %v, want refused with a wait up to a minute", ok, wait)
	}
	if ok, _ := l.Take("k", now.Add(time.Minute)); !ok {
		t.Error("no token after a minute")
	}
	if ClientKey("2001:db8:1:2:3:4:5:6") != ClientKey("2001:db8:1:2:ffff::1") {
		t.Error("one IPv6 /64 gives two keys")
	}
	if ClientKey("192.0.2.1") == ClientKey("192.0.2.2") {
		t.Error("two IPv4 addresses share a key")
	}
}
