package site

import (
	"strings"
	"testing"
	"time"
)

// pageOfCost is an entry whose cost (key, body and overhead) is exactly n.
func pageOfCost(key string, n int64) *cachedPage {
	return &cachedPage{key: key, gen: 1, body: make([]byte, n-int64(len(key))-entryOverhead)}
}

// TestPageCacheKeepsAnEntryOfExactlyAnEighth checks the size bound of one
// entry: exactly an eighth of the budget is kept, a byte more is not.
func TestPageCacheKeepsAnEntryOfExactlyAnEighth(t *testing.T) {
	pc := newPageCache(8 << 10)
	pc.put(pageOfCost("eighth", 1<<10))
	if pc.get("eighth", 1, listNow) == nil {
		t.Errorf("an entry of exactly an eighth of the budget was not kept")
	}
	pc.put(pageOfCost("more", 1<<10+1))
	if pc.get("more", 1, listNow) != nil {
		t.Errorf("an entry a byte over an eighth of the budget was kept")
	}
}

// TestPageCacheFillsItsBudgetExactly checks the eviction bound: entries
// that cost exactly the budget all stay, and one more evicts only the
// least recently used; Size counts what is held.
func TestPageCacheFillsItsBudgetExactly(t *testing.T) {
	pc := newPageCache(8 << 10)
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for _, k := range keys {
		pc.put(pageOfCost(k, 1<<10))
	}
	if pc.Size() != 8<<10 || pc.Len() != 8 || pc.Evictions() != 0 {
		t.Fatalf("8 entries of an eighth: size %d, %d entries, %d evictions; want the budget, 8, 0", pc.Size(), pc.Len(), pc.Evictions())
	}
	if pc.get("a", 1, listNow) == nil { // a is now the most recently used
		t.Fatalf("the first entry was evicted at exactly the budget")
	}
	pc.put(pageOfCost("i", 1<<10))
	if pc.get("b", 1, listNow) != nil || pc.get("a", 1, listNow) == nil || pc.get("i", 1, listNow) == nil {
		t.Errorf("one over the budget: want b (least recently used) evicted, a and i kept")
	}
	if pc.Size() != 8<<10 || pc.Evictions() != 1 {
		t.Errorf("after one eviction: size %d, %d evictions", pc.Size(), pc.Evictions())
	}
	// Replacing an entry does not count it twice.
	pc.put(pageOfCost("i", 1<<10))
	if pc.Size() != 8<<10 || pc.Len() != 8 || pc.Evictions() != 1 {
		t.Errorf("after a replacement: size %d, %d entries, %d evictions", pc.Size(), pc.Len(), pc.Evictions())
	}
	hits, misses := pc.Hits(), pc.Misses()
	pc.get("i", 1, listNow)
	pc.get("nope", 1, listNow)
	if pc.Hits() != hits+1 || pc.Misses() != misses+1 {
		t.Errorf("a hit and a miss counted as %d hits and %d misses", pc.Hits()-hits, pc.Misses()-misses)
	}
}

// TestPageCacheOffForNoBudget checks that a budget of 0 (or less) is no
// cache, and a budget of one byte is one.
func TestPageCacheOffForNoBudget(t *testing.T) {
	if newPageCache(0) != nil || newPageCache(-1) != nil {
		t.Errorf("a budget of 0 or less made a cache")
	}
	if newPageCache(1) == nil {
		t.Errorf("a budget of 1 byte made no cache")
	}
}

// TestPageCacheExpiry checks that an entry is served until just before its
// expiry, never at or after it, and that an entry without one does not
// expire.
func TestPageCacheExpiry(t *testing.T) {
	pc := newPageCache(8 << 10)
	exp := listNow.Add(time.Minute)
	e := pageOfCost("timed", 300)
	e.expires = exp
	pc.put(e)
	if pc.get("timed", 1, exp.Add(-time.Nanosecond)) == nil {
		t.Errorf("not served just before its expiry")
	}
	if pc.get("timed", 1, exp) != nil {
		t.Errorf("served at its expiry")
	}
	pc.put(pageOfCost("forever", 300))
	if pc.get("forever", 1, listNow.Add(100*365*24*time.Hour)) == nil {
		t.Errorf("an entry without an expiry expired")
	}
}

// TestEtagMatches checks If-None-Match's weak comparison.
func TestEtagMatches(t *testing.T) {
	for _, tc := range []struct {
		header, etag string
		want         bool
	}{
		{"", `"a"`, false},
		{`"a"`, `"a"`, true},
		{`"b"`, `"a"`, false},
		{`W/"a"`, `"a"`, true},
		{`"a"`, `W/"a"`, true},
		{`"x", "a"`, `"a"`, true},
		{` "x" ,W/"a" `, `"a"`, true},
		{`*`, `"a"`, true},
		{`"x", "y"`, `"a"`, false},
	} {
		if got := etagMatches(tc.header, tc.etag); got != tc.want {
			t.Errorf("etagMatches(%q, %q) = %v, want %v", tc.header, tc.etag, got, tc.want)
		}
	}
	if strings.Contains(pageCSP, "unsafe") {
		t.Errorf("the page CSP allows something unsafe: %s", pageCSP)
	}
}
