package pool

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// contactMail is a mail a tenant's write may queue.
var contactMail = tenantdb.OutMail{Kind: tenantdb.MailContact, To: "owner@example.org", ReplyTo: "v@example.org",
	Subject: "New message: Hello", Text: "How do I join?", HTML: "<p>How do I join?</p>"}

// TestHooksReachTenantsOpenedAfterThem: the open observer, the fence and
// the mail hook set before a tenant opens are each installed on it.
func TestHooksReachTenantsOpenedAfterThem(t *testing.T) {
	dir, ids := newTenants(t, 2)
	a, b := ids[0], ids[1]
	p := New(dir, 2, 0)
	defer p.Close()
	ctx := context.Background()

	var mu sync.Mutex
	var opens, fenced, mailed []string
	p.ObserveOpens(func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if d <= 0 {
			t.Errorf("an open took %v", d)
		}
		opens = append(opens, "open")
	})
	errFenced := errors.New("fenced")
	p.Fence(func(id string) error {
		mu.Lock()
		defer mu.Unlock()
		fenced = append(fenced, id)
		if id == b {
			return errFenced
		}
		return nil
	})
	p.OnMailQueued(func(id string) {
		mu.Lock()
		defer mu.Unlock()
		mailed = append(mailed, id)
	})

	ha, err := p.Acquire(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ha.Release()
	if err := ha.QueueMail(ctx, contactMail); err != nil {
		t.Fatalf("a's write: %v", err)
	}
	hb, err := p.Acquire(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer hb.Release()
	if err := hb.QueueMail(ctx, contactMail); !errors.Is(err, errFenced) {
		t.Fatalf("b's write under a refusing fence: %v, want the fence's error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(opens) != 2 || fmt.Sprint(fenced) != fmt.Sprint([]string{a, b}) || fmt.Sprint(mailed) != fmt.Sprint([]string{a}) {
		t.Errorf("opens %v, fenced %v, mailed %v; want 2 opens, [%s %s] fenced, [%s] mailed", opens, fenced, mailed, a, b, a)
	}
}

// TestOnMailQueuedReachesTenantsOpenAlready: the mail hook set while a
// tenant is open reaches it, and a tenant held out of service by a drain
// (no file open) gets it at its next open.
func TestOnMailQueuedReachesTenantsOpenAlready(t *testing.T) {
	dir, ids := newTenants(t, 2)
	a, b := ids[0], ids[1]
	p := New(dir, 2, 0)
	defer p.Close()
	ctx := context.Background()
	mailed := make(chan string, 4)
	hook := func(id string) { mailed <- id }

	ha, err := p.Acquire(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	ha.Release() // open and idle
	err = p.Drain(ctx, b, func() error {
		p.OnMailQueued(hook) // a is open, b is drained
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a, b} {
		h, err := p.Acquire(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.QueueMail(ctx, contactMail); err != nil {
			t.Fatal(err)
		}
		h.Release()
		select {
		case got := <-mailed:
			if got != id {
				t.Errorf("hook told %s, want %s", got, id)
			}
		default:
			t.Errorf("no hook call for %s's mail", id)
		}
	}
}

// TestDrainOfATenantNotOpen runs fn with nothing to close, and the
// tenant opens afterwards.
func TestDrainOfATenantNotOpen(t *testing.T) {
	dir, ids := newTenants(t, 1)
	p := New(dir, 1, 0)
	defer p.Close()
	ctx := context.Background()
	ran := false
	// In a goroutine of its own, a panic in Drain (with the pool's lock
	// held) ends the test binary at once instead of deadlocking Close.
	done := make(chan error, 1)
	go func() { done <- p.Drain(ctx, ids[0], func() error { ran = true; return nil }) }()
	if err := <-done; err != nil || !ran {
		t.Fatalf("drain: %v, fn ran %v", err, ran)
	}
	h, err := p.Acquire(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	h.Release()
}

// TestDrainClosesTheOpenFile: fn runs with the tenant's file closed (a
// restore may replace it), so the old connection no longer reads.
func TestDrainClosesTheOpenFile(t *testing.T) {
	dir, ids := newTenants(t, 1)
	p := New(dir, 1, 0)
	defer p.Close()
	ctx := context.Background()
	h, err := p.Acquire(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	old := h.DB
	h.Release()
	err = p.Drain(ctx, ids[0], func() error {
		if open, _ := p.IsOpen(ids[0]); open {
			t.Error("the tenant is open during fn")
		}
		if _, err := old.Site(ctx); err == nil {
			t.Error("the drained tenant's old connection still reads")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDrainsOfOneTenantTakeTurns: a second drain waits for the first's
// fn to end, and gives up (running nothing) when its ctx ends first.
func TestDrainsOfOneTenantTakeTurns(t *testing.T) {
	dir, ids := newTenants(t, 1)
	id := ids[0]
	p := New(dir, 1, 0)
	defer p.Close()
	ctx := context.Background()
	inFirst, endFirst := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- p.Drain(ctx, id, func() error { close(inFirst); <-endFirst; return nil })
	}()
	<-inFirst
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	if err := p.Drain(cancelled, id, func() error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("a drain during another: %v, fn ran %v; want context.Canceled and no fn", err, ran)
	}
	close(endFirst)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := p.Drain(ctx, id, func() error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("a drain after the first: %v, fn ran %v", err, ran)
	}
}

// TestDrainThatGivesUpLeavesTheTenantInService: a drain whose ctx ends
// while the tenant is in use changes nothing: the holder's release puts
// the tenant on the idle list once, it is served without a reopen, and a
// later drain goes through.
func TestDrainThatGivesUpLeavesTheTenantInService(t *testing.T) {
	dir, ids := newTenants(t, 1)
	id := ids[0]
	p := New(dir, 1, 0)
	defer p.Close()
	ctx := context.Background()
	h, err := p.Acquire(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Drain(cancelled, id, func() error { t.Error("fn ran"); return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("drain of a held tenant with its ctx done: %v", err)
	}
	p.mu.Lock()
	held := p.idle.Len()
	p.mu.Unlock()
	h.Release()
	p.mu.Lock()
	released := p.idle.Len()
	p.mu.Unlock()
	if held != 0 || released != 1 {
		t.Errorf("idle list: %d while held, %d after release; want 0 and 1", held, released)
	}
	opens := p.Stats.Opens.Load()
	h, err = p.Acquire(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Site(ctx); err != nil {
		t.Fatal(err)
	}
	h.Release()
	if got := p.Stats.Opens.Load(); got != opens {
		t.Errorf("opens %d after the drain gave up, want %d (no reopen)", got, opens)
	}
	if err := p.Drain(ctx, id, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestKeptGenerationsAreBounded: at keptMax closed tenants' generations
// the pool forgets them all before keeping the next; below it keeps on.
func TestKeptGenerationsAreBounded(t *testing.T) {
	for _, tc := range []struct{ before, after int }{{keptMax - 1, keptMax}, {keptMax, 1}} {
		dir, ids := newTenants(t, 2)
		p := New(dir, 1, 0)
		ctx := context.Background()
		h, err := p.Acquire(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		h.Release()
		p.mu.Lock()
		for i := 0; i < tc.before; i++ {
			p.kept[fmt.Sprintf("fake%012d", i)] = keptGen{gen: 1}
		}
		p.mu.Unlock()
		h, err = p.Acquire(ctx, ids[1]) // evicts ids[0], whose generation is kept
		if err != nil {
			t.Fatal(err)
		}
		h.Release()
		p.mu.Lock()
		n := len(p.kept)
		_, kept := p.kept[ids[0]]
		p.mu.Unlock()
		if n != tc.after || !kept {
			t.Errorf("with %d kept: %d after a close (the closed one kept: %v), want %d", tc.before, n, kept, tc.after)
		}
		p.Close()
	}
}

// TestWaitersLeaveTheCount: an acquire that waited for a slot, whether
// it got one or gave up, is no longer counted as waiting.
func TestWaitersLeaveTheCount(t *testing.T) {
	dir, ids := newTenants(t, 2)
	p := New(dir, 1, 0)
	defer p.Close()
	ctx := context.Background()
	h, err := p.Acquire(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Acquire(cancelled, ids[1]); !errors.Is(err, ErrFull) {
		t.Fatalf("acquire with the pool full and ctx done: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		h2, err := p.Acquire(ctx, ids[1])
		if err == nil {
			h2.Release()
		}
		got <- err
	}()
	for {
		p.mu.Lock()
		n := p.waiters
		p.mu.Unlock()
		if n == 1 {
			break
		}
		if n != 0 {
			t.Fatalf("%d waiters, want 0 or 1", n)
		}
		runtime.Gosched()
	}
	h.Release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	n := p.waiters
	p.mu.Unlock()
	if n != 0 {
		t.Errorf("%d waiters after every acquire returned, want 0", n)
	}
}

// TestCloseClosesOpenTenants: after Close nothing of the pool reads.
func TestCloseClosesOpenTenants(t *testing.T) {
	dir, ids := newTenants(t, 1)
	p := New(dir, 1, 0)
	ctx := context.Background()
	h, err := p.Acquire(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	h.Release()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Site(ctx); err == nil {
		t.Error("a tenant of a closed pool still reads")
	}
	if _, err := p.Acquire(ctx, ids[0]); !errors.Is(err, tenantdb.ErrClosed) {
		t.Errorf("acquire after Close: %v, want ErrClosed", err)
	}
}

// replicaLog records what a pool tells its replicator; lazy makes it a
// LazyReplicator that defers every tenant.
type replicaLog struct {
	mu     sync.Mutex
	events []string
	paths  []string
}

func (r *replicaLog) Opened(_ context.Context, id, path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "opened "+id)
	r.paths = append(r.paths, path)
}

func (r *replicaLog) Closed(_ context.Context, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "closed "+id)
}

func (r *replicaLog) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.events)
}

type lazyReplicaLog struct{ replicaLog }

func (r *lazyReplicaLog) Defer(id, path string) bool { return true }

// TestReplicatorFollowsOpensAndCloses: a replicator is told of each open
// (with the file's path) and each close; a lazy one only at the
// tenant's first write, before it commits.
func TestReplicatorFollowsOpensAndCloses(t *testing.T) {
	ctx := context.Background()
	t.Run("at open", func(t *testing.T) {
		dir, ids := newTenants(t, 1)
		p := New(dir, 1, 0)
		r := &replicaLog{}
		p.Replicate(r)
		h, err := p.Acquire(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if got, want := r.String(), fmt.Sprint([]string{"opened " + ids[0]}); got != want {
			t.Errorf("after open: %s, want %s", got, want)
		}
		if len(r.paths) != 1 || r.paths[0] != tenantdb.TenantPath(dir, ids[0]) {
			t.Errorf("paths %v, want the tenant's file", r.paths)
		}
		h.Release()
		p.Close()
		if got, want := r.String(), fmt.Sprint([]string{"opened " + ids[0], "closed " + ids[0]}); got != want {
			t.Errorf("after close: %s, want %s", got, want)
		}
	})
	t.Run("lazy", func(t *testing.T) {
		dir, ids := newTenants(t, 1)
		p := New(dir, 1, 0)
		defer p.Close()
		r := &lazyReplicaLog{}
		p.Replicate(r)
		h, err := p.Acquire(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		defer h.Release()
		if _, err := h.Site(ctx); err != nil {
			t.Fatal(err)
		}
		if got := r.String(); got != "[]" {
			t.Errorf("after a read: %s, want nothing", got)
		}
		if err := h.QueueMail(ctx, contactMail); err != nil {
			t.Fatal(err)
		}
		if got, want := r.String(), fmt.Sprint([]string{"opened " + ids[0]}); got != want {
			t.Errorf("after the first write: %s, want %s", got, want)
		}
	})
}
