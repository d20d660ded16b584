package site

import (
	"fmt"
	"testing"
	"time"
)

func TestPageCacheBudget(t *testing.T) {
	pc := newPageCache(64 << 10)
	body := make([]byte, 1000)
	for i := 0; i < 200; i++ {
		pc.put(&cachedPage{key: fmt.Sprint("k", i), gen: 1, body: body})
		if i == 100 {
			if pc.get("k30", 1, time.Now()) != nil {
				t.Fatalf("k30 should have been evicted by now")
			}
		}
		pc.get("k0", 1, time.Now()) // kept warm
	}
	if pc.Size() > 64<<10 {
		t.Errorf("size %d over the budget %d", pc.Size(), 64<<10)
	}
	if pc.get("k0", 1, time.Now()) == nil {
		t.Errorf("the most recently used entry was evicted")
	}
	if pc.get("k199", 2, time.Now()) != nil {
		t.Errorf("an entry of another generation was served")
	}
	if pc.get("k199", 1, time.Now()) != nil {
		t.Errorf("a mismatched generation did not drop the entry")
	}
	pc.put(&cachedPage{key: "huge", gen: 1, body: make([]byte, 16<<10)})
	if pc.get("huge", 1, time.Now()) != nil {
		t.Errorf("an entry over an eighth of the budget was kept")
	}
	exp := time.Now().Add(time.Minute)
	pc.put(&cachedPage{key: "timed", gen: 1, body: body, expires: exp})
	if pc.get("timed", 1, exp.Add(-time.Second)) == nil || pc.get("timed", 1, exp) != nil {
		t.Errorf("expiry not honoured")
	}
}
