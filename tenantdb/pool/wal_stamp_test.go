package pool

import (
	"context"
	"os"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// TestReopenAfterItsWALVanishedIsANewGeneration: a closed tenant whose
// -wal file vanished meanwhile (and with it the frames of its last
// writes) holds other content even though its main file is untouched: it
// reopens at a new generation, never the kept one.
func TestReopenAfterItsWALVanishedIsANewGeneration(t *testing.T) {
	dir, ids := newTenants(t, 2)
	a, b := ids[0], ids[1]
	p := New(dir, 1, 0)
	defer p.Close()
	ctx := context.Background()
	wal := tenantdb.TenantPath(dir, a) + "-wal"
	// use acquires id, reads, releases and returns the generation.
	use := func(id string) uint64 {
		t.Helper()
		h, err := p.Acquire(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Release()
		if _, err := h.Site(ctx); err != nil {
			t.Fatal(err)
		}
		return h.Generation()
	}
	gen := use(a)
	use(b) // closes a, its -wal kept beside it
	if _, err := os.Stat(wal); err != nil {
		t.Fatalf("no -wal after close: %v", err)
	}
	if got := use(a); got != gen {
		t.Fatalf("unchanged file reopened at %d, want %d", got, gen)
	}
	use(b)
	if err := os.Remove(wal); err != nil {
		t.Fatal(err)
	}
	if got := use(a); got == gen {
		t.Fatalf("reopened at the kept generation %d after its -wal vanished", got)
	}
}
