// Package pool keeps tenant databases open for requests: at most a
// maximum at once, opened lazily and once however many ask together,
// the least recently used idle ones closed first, and none closed while
// in use. A tenant can be drained (its users finish, new ones wait) so
// that its file can be replaced.
package pool

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// ErrFull is every open slot in use until the caller's deadline passed.
var ErrFull = errors.New("too many tenants open at once")

// Stats counts what a pool did since it started.
type Stats struct {
	Opens       atomic.Int64 // files opened
	OpenErrors  atomic.Int64
	OpenNanos   atomic.Int64 // total time spent opening
	Migrations  atomic.Int64 // opens that ran migrations
	Evictions   atomic.Int64 // idle tenants closed to make room
	IdleCloses  atomic.Int64 // idle tenants closed by the idle timeout
	FullRejects atomic.Int64 // acquires that gave up waiting for a slot
	Resumes     atomic.Int64 // opens of an unchanged file that kept its generation
}

// Pool opens tenant databases lazily and keeps at most max of them open. When
// it is full it closes the least recently used idle tenant; a tenant in use
// is never closed. Idle tenants also close after the idle timeout.
type Pool struct {
	dir     string
	max     int
	idleTTL time.Duration
	now     func() time.Time
	Stats   Stats
	onOpen  atomic.Pointer[func(time.Duration)]
	onMail  atomic.Pointer[func(id string)]
	fence   atomic.Pointer[func(id string) error]
	// repl, when set, is told of every open and close (Replicate).
	repl Replicator

	mu      sync.Mutex
	entries map[string]*entry
	// kept is, per closed tenant, the generation its file had when the
	// pool closed it and the file's state then: an open that finds the
	// file unchanged resumes that generation (tenantdb.DB.Resume), so
	// that pages cached before the close still serve after the reopen.
	kept    map[string]keptGen
	idle    list.List // entries with no users, most recently used first
	open    int       // entries counted against max: opening or open
	waiters int
	wake    chan struct{} // closed when a slot may have come free
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

type entry struct {
	id       string
	db       *tenantdb.DB
	err      error
	ready    chan struct{} // closed once the open finished
	refs     int
	lastUsed time.Time
	elem     *list.Element // position in Pool.idle while refs == 0
	counted  bool          // holds one of the max slots
	// draining is non-nil while Drain holds the tenant; it is closed when
	// the drain ends. idleNow is signalled when the last user leaves.
	draining chan struct{}
	idleNow  chan struct{}
}

// New returns a pool over the tenant files of data dir dir. It closes
// tenants idle for longer than idleTTL (never, if idleTTL is 0).
func New(dir string, max int, idleTTL time.Duration) *Pool {
	if max < 1 {
		max = 1
	}
	p := &Pool{
		dir:     dir,
		max:     max,
		idleTTL: idleTTL,
		now:     time.Now,
		entries: make(map[string]*entry),
		kept:    make(map[string]keptGen),
		wake:    make(chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go p.janitor()
	return p
}

// Replicator follows the tenants a pool opens and closes
// (tenantdb/replica): Opened after a tenant's file is open, Closed after
// its connections are closed. Each handles its own errors: a tenant
// serves whether or not its replica works.
type Replicator interface {
	Opened(ctx context.Context, id, path string)
	Closed(ctx context.Context, id string)
}

// LazyReplicator is a Replicator that can leave a tenant whose replica
// is in step unregistered until it is written: when Defer says so, the
// pool calls Opened at the tenant's first write (before it begins,
// tenantdb.DB.BeforeWrite) instead of at its open.
type LazyReplicator interface {
	Defer(id, path string) bool
}

// IdleReplicator is a Replicator that stops streaming a tenant that stays
// open but is no longer written, through tenantdb.DB.IfIdle: Watch hands
// it each tenant the pool opens (Closed ends that); the pool then calls
// Opened again before the tenant's next write.
type IdleReplicator interface {
	Watch(id string, db *tenantdb.DB)
}

// Replicate has r follow the pool's tenants, which it then opens with
// tenantdb.OpenReplicated. Call it before the first Acquire.
func (p *Pool) Replicate(r Replicator) { p.repl = r }

// replicate tells the replicator that db is open, now or, if it may
// wait, at db's first write. Litestream's connection must come after
// one of ours (tenantdb.DB.Pin).
func (p *Pool) replicate(ctx context.Context, db *tenantdb.DB) {
	id, path := db.ID, db.Path()
	register := func(ctx context.Context) {
		// A write waits for this: its frames then reach the replica
		// like any other's, within the interval.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if db.Pin(ctx) == nil {
			p.repl.Opened(ctx, id, path)
		}
	}
	lr, lazy := p.repl.(LazyReplicator)
	deferred := lazy && lr.Defer(id, path)
	if ir, ok := p.repl.(IdleReplicator); ok || deferred {
		db.BeforeWrite(register, deferred)
		if ok {
			ir.Watch(id, db)
		}
	}
	if !deferred {
		register(ctx)
	}
}

// closeDB closes db and then tells the replicator: its final sync comes
// after the last write. It keeps db's generation with the state of its
// files if nobody has asked for the tenant again meanwhile (a new entry,
// or a drain's, means the file may change under it: nothing is kept).
func (p *Pool) closeDB(db *tenantdb.DB) error {
	err := db.Close()
	if p.repl != nil {
		p.repl.Closed(context.Background(), db.ID)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.kept, db.ID)
	if err != nil || p.entries[db.ID] != nil || p.closed {
		return err
	}
	if st, ok := stampOf(db.Path()); ok {
		if len(p.kept) >= keptMax {
			clear(p.kept)
		}
		p.kept[db.ID] = keptGen{gen: db.Generation(), stamp: st}
	}
	return err
}

// keptMax bounds the generations kept for closed tenants (about 200 bytes
// each); at the bound the pool forgets them all and starts again.
const keptMax = 1 << 17

// keptGen is a closed tenant's last generation and its files' state then.
type keptGen struct {
	gen   uint64
	stamp fileStamp
}

// fileStamp is what can tell that a tenant's files changed: the database
// and its -wal file, each with its identity (device and inode: a file
// renamed into place is another file), size and modification time.
type fileStamp struct {
	db, wal os.FileInfo
}

func stampOf(path string) (fileStamp, bool) {
	db, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, false
	}
	wal, err := os.Stat(path + "-wal")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fileStamp{}, false
	}
	return fileStamp{db: db, wal: wal}, true
}

// same reports whether a and b are the same files in the same state.
func (a fileStamp) same(b fileStamp) bool {
	eq := func(x, y os.FileInfo) bool {
		if x == nil || y == nil {
			return x == nil && y == nil
		}
		return os.SameFile(x, y) && x.Size() == y.Size() && x.ModTime().Equal(y.ModTime())
	}
	return eq(a.db, b.db) && eq(a.wal, b.wal)
}

// Handle is a tenant database in use. Release it when done.
type Handle struct {
	*tenantdb.DB
	p *Pool
	e *entry
}

// Release gives the tenant back to the pool. It must be called exactly once.
func (h *Handle) Release() {
	h.p.release(h.e)
}

// Acquire returns the open database of tenant id, opening it if needed. Many
// concurrent first acquires of one tenant share one open. When the pool is
// full and no tenant is idle, Acquire waits for a free slot until ctx is
// done and then returns ErrFull.
func (p *Pool) Acquire(ctx context.Context, id string) (*Handle, error) {
	return p.acquire(&waiter{ctx: ctx}, id)
}

// AcquireBy is Acquire that also stops waiting at deadline. Its timer is
// started only if it must wait: taking a tenant that is open, as most
// requests do, costs no timer.
func (p *Pool) AcquireBy(ctx context.Context, id string, deadline time.Time) (*Handle, error) {
	w := &waiter{ctx: ctx, deadline: deadline}
	defer w.stop()
	return p.acquire(w, id)
}

func (p *Pool) acquire(w *waiter, id string) (*Handle, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, tenantdb.ErrClosed
		}
		if e := p.entries[id]; e != nil {
			if e.draining != nil {
				ch := e.draining
				p.mu.Unlock()
				if err := w.wait(ch); err != nil {
					return nil, fmt.Errorf("tenant %s: %w", id, ErrFull)
				}
				continue
			}
			e.refs++
			if e.elem != nil {
				p.idle.Remove(e.elem)
				e.elem = nil
			}
			p.mu.Unlock()
			if err := w.wait(e.ready); err != nil {
				p.release(e)
				return nil, fmt.Errorf("tenant %s: %w", id, ErrFull)
			}
			if e.err != nil {
				p.release(e)
				return nil, e.err
			}
			return &Handle{DB: e.db, p: p, e: e}, nil
		}
		if p.open >= p.max {
			if back := p.idle.Back(); back != nil {
				victim := back.Value.(*entry)
				p.remove(victim)
				p.mu.Unlock()
				p.closeDB(victim.db)
				p.Stats.Evictions.Add(1)
				continue
			}
			p.waiters++
			ch := p.wake
			p.mu.Unlock()
			err := w.wait(ch)
			p.mu.Lock()
			p.waiters--
			p.mu.Unlock()
			if err != nil {
				p.Stats.FullRejects.Add(1)
				return nil, fmt.Errorf("tenant %s: %w", id, ErrFull)
			}
			continue
		}
		e := &entry{id: id, ready: make(chan struct{}), refs: 1, counted: true}
		p.entries[id] = e
		p.open++
		p.mu.Unlock()
		return p.openEntry(w.ctx, e)
	}
}

// openEntry opens e's database for every acquirer waiting on it. The open
// is not cancelled with the first caller's request: others may share it.
func (p *Pool) openEntry(ctx context.Context, e *entry) (*Handle, error) {
	start := time.Now()
	p.mu.Lock()
	k, resumable := p.kept[e.id]
	delete(p.kept, e.id)
	p.mu.Unlock()
	if resumable {
		st, ok := stampOf(tenantdb.TenantPath(p.dir, e.id))
		resumable = ok && st.same(k.stamp)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	var db *tenantdb.DB
	var err error
	switch {
	case resumable:
		db, err = tenantdb.Reopen(ctx, p.dir, e.id, p.repl != nil, k.gen)
	case p.repl != nil:
		db, err = tenantdb.OpenReplicated(ctx, p.dir, e.id)
	default:
		db, err = tenantdb.Open(ctx, p.dir, e.id)
	}
	if err == nil && p.repl != nil {
		p.replicate(ctx, db)
	}
	cancel()
	if resumable && err == nil && db.Generation() == k.gen {
		p.Stats.Resumes.Add(1)
	}
	if f := p.onMail.Load(); f != nil && err == nil {
		id, fn := e.id, *f
		db.OnMailQueued(func() { fn(id) })
	}
	if f := p.fence.Load(); f != nil && err == nil {
		id, fn := e.id, *f
		db.SetFence(func() error { return fn(id) })
	}
	elapsed := time.Since(start)
	p.Stats.OpenNanos.Add(int64(elapsed))
	if f := p.onOpen.Load(); f != nil && err == nil {
		(*f)(elapsed)
	}
	p.mu.Lock()
	e.db, e.err = db, err
	if err != nil {
		p.Stats.OpenErrors.Add(1)
		p.remove(e)
	} else {
		p.Stats.Opens.Add(1)
		if db.Migrated {
			p.Stats.Migrations.Add(1)
		}
	}
	close(e.ready)
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &Handle{DB: db, p: p, e: e}, nil
}

func wait(ctx context.Context, ch <-chan struct{}) error {
	return (&waiter{ctx: ctx}).wait(ch)
}

// waiter waits for the pool's channels until its ctx is done or, when it
// has one, its deadline passes; the deadline's timer starts at the first
// wait that must block.
type waiter struct {
	ctx      context.Context
	deadline time.Time // zero: none
	cancel   context.CancelFunc
}

func (w *waiter) wait(ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	default:
	}
	if !w.deadline.IsZero() && w.cancel == nil {
		w.ctx, w.cancel = context.WithDeadline(w.ctx, w.deadline)
	}
	select {
	case <-ch:
		return nil
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}

// stop releases the deadline's timer, if one was started.
func (w *waiter) stop() {
	if w.cancel != nil {
		w.cancel()
	}
}

// remove takes e out of the pool's books. p.mu is held.
func (p *Pool) remove(e *entry) {
	if p.entries[e.id] == e {
		delete(p.entries, e.id)
	}
	p.uncount(e)
}

// uncount takes e off the idle list and gives back its slot, leaving it in
// p.entries. p.mu is held.
func (p *Pool) uncount(e *entry) {
	if e.elem != nil {
		p.idle.Remove(e.elem)
		e.elem = nil
	}
	if e.counted {
		e.counted = false
		p.open--
		p.signal()
	}
}

// signal wakes every acquirer waiting for a slot. p.mu is held.
func (p *Pool) signal() {
	if p.waiters > 0 {
		close(p.wake)
		p.wake = make(chan struct{})
	}
}

func (p *Pool) release(e *entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e.refs--
	if e.refs > 0 {
		return
	}
	e.lastUsed = p.now()
	if e.idleNow != nil {
		close(e.idleNow)
		e.idleNow = nil
		return
	}
	if p.entries[e.id] == e && e.err == nil && e.db != nil {
		e.elem = p.idle.PushFront(e)
		p.signal()
	}
}

// Drain takes tenant id out of service: it stops new acquires, waits until
// every current user has released it, closes it, runs fn (which may replace
// or remove the file) and then lets acquires through again, which reopen
// the file as fn left it. Drain gives up when ctx is done before the tenant
// is idle, leaving it in service.
func (p *Pool) Drain(ctx context.Context, id string, fn func() error) error {
	if err := checkID(id); err != nil {
		return err
	}
	for {
		p.mu.Lock()
		e := p.entries[id]
		if e != nil && e.draining != nil {
			ch := e.draining
			p.mu.Unlock()
			if err := wait(ctx, ch); err != nil {
				return err
			}
			continue
		}
		if e == nil {
			// Hold the place so that nobody opens the file during fn.
			e = &entry{id: id, ready: make(chan struct{})}
			close(e.ready)
			p.entries[id] = e
		}
		e.draining = make(chan struct{})
		var idle chan struct{}
		if e.refs > 0 {
			idle = make(chan struct{})
			e.idleNow = idle
		}
		p.mu.Unlock()

		if idle != nil {
			if err := wait(ctx, idle); err != nil {
				p.mu.Lock()
				e.idleNow = nil
				close(e.draining)
				e.draining = nil
				if e.refs == 0 && e.db != nil && p.entries[id] == e {
					e.elem = p.idle.PushFront(e)
				}
				p.mu.Unlock()
				return fmt.Errorf("drain tenant %s: %w", id, err)
			}
		}
		p.mu.Lock()
		p.uncount(e)
		db := e.db
		e.db = nil
		p.mu.Unlock()

		var err error
		if db != nil {
			err = p.closeDB(db)
		}
		if err == nil {
			err = fn()
		}
		p.mu.Lock()
		delete(p.entries, id)
		close(e.draining)
		p.mu.Unlock()
		return err
	}
}

// ObserveOpens has fn told how long each successful open of a tenant
// took (for a latency histogram).
func (p *Pool) ObserveOpens(fn func(time.Duration)) {
	p.onOpen.Store(&fn)
}

// Fence has every write of the tenants opened from now on call fn with
// the tenant's id right before it commits (tenantdb.DB.SetFence). Call it
// before the first Acquire.
func (p *Pool) Fence(fn func(id string) error) { p.fence.Store(&fn) }

// OnMailQueued has fn told the id of each tenant opened from now on
// whose committed write queued mail (tenantdb.DB.OnMailQueued).
func (p *Pool) OnMailQueued(fn func(id string)) {
	p.onMail.Store(&fn)
	// The tenants open already get it too.
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, e := range p.entries {
		select {
		case <-e.ready:
			if e.db != nil {
				e.db.OnMailQueued(func() { fn(id) })
			}
		default:
		}
	}
}

// IsOpen reports whether tenant id is open and when it was last released.
func (p *Pool) IsOpen(id string) (open bool, lastUsed time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entries[id]
	if e == nil || e.db == nil {
		return false, time.Time{}
	}
	return true, e.lastUsed
}

// Len returns how many tenants are open or opening.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

func (p *Pool) janitor() {
	defer close(p.done)
	if p.idleTTL <= 0 {
		<-p.stop
		return
	}
	t := time.NewTicker(max(p.idleTTL/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.closeIdle()
		}
	}
}

// closeIdle closes the tenants idle for longer than the idle timeout.
func (p *Pool) closeIdle() {
	cutoff := p.now().Add(-p.idleTTL)
	var victims []*entry
	p.mu.Lock()
	for el := p.idle.Back(); el != nil; {
		e := el.Value.(*entry)
		if e.lastUsed.After(cutoff) {
			break // the rest were used more recently
		}
		el = el.Prev()
		p.remove(e)
		victims = append(victims, e)
	}
	p.mu.Unlock()
	for _, e := range victims {
		p.closeDB(e.db)
		p.Stats.IdleCloses.Add(1)
	}
}

// Close closes every open tenant. Call it after the users are gone: a
// tenant still in use is closed too.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var dbs []*tenantdb.DB
	for _, e := range p.entries {
		if e.db != nil {
			dbs = append(dbs, e.db)
		}
	}
	p.entries = map[string]*entry{}
	p.idle.Init()
	p.open = 0
	p.signal()
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	var errs []error
	for _, db := range dbs {
		errs = append(errs, p.closeDB(db))
	}
	return errors.Join(errs...)
}

// checkID refuses an id that no tenant can have, before it names a file.
func checkID(id string) error {
	if !tenantdb.ValidTenantID(id) {
		return fmt.Errorf("tenant id %q: %w", id, tenantdb.ErrNotFound)
	}
	return nil
}
