// Package replica streams the catalog and every open tenant file to a
// replica with Litestream (used as a library), and restores a database
// from it to any moment within the retention. Replication follows the
// pool: a tenant is registered when it opens and synced, then
// unregistered, when it closes, so a node replicates the tenants it has
// open, not every file on its disk. A position record kept beside
// Litestream's local state (DATA/litestream/<name>/) lets a tenant whose
// replica is in step re-register without listing the object store, and
// lets an open of such a tenant register nothing until its first write
// (Defer). A tenant that stays open but is no longer written goes back
// to waiting for its next write after Options.Idle (Watch).
package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// CatalogName is the catalog's name on the replica (tenant ids are 16
// characters, so none is "catalog").
const CatalogName = "catalog"

// Options tune a Replicator; zero values take the defaults.
type Options struct {
	// Interval bounds how old the newest replicated write may be (1s).
	Interval time.Duration
	// Retention is how far back a restore can go (720h).
	Retention time.Duration
	// CloseTimeout bounds the final sync of a closing database (5s): a
	// dead replica must not stall the pool's evictions for long.
	CloseTimeout time.Duration
	// Idle is how long a tenant watched in a pool (Watch) may go
	// without a write before it is synced and unregistered while it
	// stays open, to be registered again at its next write (2m: twice
	// the period at which visit statistics are written, so a tenant
	// read by people all the time does not register and unregister
	// every minute). Negative: never.
	Idle time.Duration
	Log  *slog.Logger
	// Fence, when set, is asked before every upload and deletion in a
	// database's replica; an error refuses it. A node of a cluster that
	// may have lost a tenant must not write the replica its new owner
	// writes (docs/cluster.md).
	Fence func(name string) error
	// levels, when set, replaces Litestream's compaction levels (tests).
	levels litestream.CompactionLevels
	// idleByHand: no idle loop; the test calls idleOnce.
	idleByHand bool
	// noMonitors stops compaction and retention monitors (tests that
	// count listings).
	noMonitors bool
}

// Stats counts what a Replicator did since it started, for /metrics.
type Stats struct {
	Lists      atomic.Int64 // listings of the replica
	Reads      atomic.Int64 // files read from the replica
	Bytes      atomic.Int64 // bytes shipped to the replica
	SyncErrors atomic.Int64 // failed calls to the replica
	Registers  atomic.Int64
	// Deferred counts opens that registered nothing: the file was in
	// step with its position record (Defer).
	Deferred atomic.Int64
	Restores atomic.Int64 // restores finished
	// SkippedFinalSyncs counts closes that did not wait for a final
	// sync because the replica was failing (see Unregister).
	SkippedFinalSyncs atomic.Int64
	// IdleUnregisters counts tenants synced and unregistered while open
	// because they were not written for Options.Idle (Watch).
	IdleUnregisters atomic.Int64
}

// Replicator replicates the databases registered with it to one Target.
type Replicator struct {
	target   *Target
	stateDir string
	opt      Options
	store    *litestream.Store
	Stats    Stats
	onLag    atomic.Pointer[func(time.Duration)]
	// failSince is when the replica's calls began to fail (unix ns),
	// zero while its last call succeeded.
	failSince atomic.Int64

	mu  sync.Mutex
	dbs map[string]*entry
	// closing holds a channel per database whose unregister runs; it is
	// closed when it ends. A register of the same database waits for it:
	// two Litestream DBs on one file would share its local state.
	closing map[string]chan struct{}
	// waiting holds the databases open and in step with their position
	// record, by name: registered at their first write (Defer).
	waiting map[string]bool
	// watched holds the tenants open in a pool, by name, that go back to
	// waiting once idle (Watch).
	watched map[string]*tenantdb.DB
	closed  bool
	// idleStop stops the loop that unregisters idle tenants; idleDone
	// is closed when it has returned.
	idleStop, idleDone chan struct{}
}

// entry is one registered database.
type entry struct {
	name, path string
	db         *litestream.DB
	c          *client
	started    time.Time

	lists, reads atomic.Int64
	lastSync     atomic.Int64 // unix nanoseconds of the last upload
	lag          atomic.Int64 // of the last level-0 upload
	failMu       sync.Mutex
	lastErr      string
	failingSince time.Time // zero: the last call succeeded
	// fenced: an upload was refused by Options.Fence; the final sync
	// would be too.
	fenced atomic.Bool
	// live: register succeeded (its fields are set); the idle loop
	// looks at no other entry.
	live atomic.Bool
}

func (e *entry) synced(now time.Time) {
	e.lastSync.Store(now.UnixNano())
	e.failMu.Lock()
	e.failingSince = time.Time{}
	e.failMu.Unlock()
}

func (e *entry) fail(err error, now time.Time) {
	e.failMu.Lock()
	e.lastErr = err.Error()
	if e.failingSince.IsZero() {
		e.failingSince = now
	}
	e.failMu.Unlock()
}

// New starts a Replicator to target whose Litestream state lives under
// stateDir (DATA/litestream).
func New(ctx context.Context, target *Target, stateDir string, opt Options) (*Replicator, error) {
	if opt.Interval <= 0 {
		opt.Interval = time.Second
	}
	if opt.Retention <= 0 {
		opt.Retention = 720 * time.Hour
	}
	if opt.CloseTimeout <= 0 {
		opt.CloseTimeout = 5 * time.Second
	}
	if opt.Idle == 0 {
		opt.Idle = 2 * time.Minute
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, err
	}
	if err := target.Prepare(ctx); err != nil {
		return nil, err
	}
	levels := opt.levels
	if levels == nil {
		levels = litestream.DefaultCompactionLevels
	}
	s := litestream.NewStore(nil, levels)
	s.Logger = opt.Log.With("system", "litestream")
	s.SnapshotRetention = opt.Retention
	s.ShutdownSyncTimeout = opt.CloseTimeout
	s.ShutdownSyncInterval = 100 * time.Millisecond
	if opt.noMonitors {
		s.CompactionMonitorEnabled = false
		s.L0RetentionCheckInterval = 0
	}
	if err := s.Open(ctx); err != nil {
		return nil, fmt.Errorf("replica: %w", err)
	}
	r := &Replicator{target: target, stateDir: stateDir, opt: opt, store: s, dbs: map[string]*entry{}, closing: map[string]chan struct{}{},
		waiting: map[string]bool{}, watched: map[string]*tenantdb.DB{}, idleStop: make(chan struct{}), idleDone: make(chan struct{})}
	if opt.Idle > 0 && !opt.idleByHand {
		go r.idleLoop()
	} else {
		close(r.idleDone)
	}
	return r, nil
}

// Watch has the Replicator stop streaming the tenant name, open in a
// pool as db, whenever it has not been written for Options.Idle: it is
// synced and unregistered exactly as a close does (its position record
// written) while it stays open, and waits for its next write, which
// registers it again from the record, with no listing of the replica
// (db's BeforeWrite function, the pool's). A registered tenant costs
// Litestream's connection, goroutines and buffers (docs/replication.md);
// one that waits costs nothing more than without a replica. Closed ends
// the watch.
func (r *Replicator) Watch(name string, db *tenantdb.DB) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed && r.opt.Idle > 0 {
		r.watched[name] = db
	}
}

// idleLoop looks for idle tenants four times per Options.Idle: one
// goroutine per Replicator, however many tenants are open.
func (r *Replicator) idleLoop() {
	defer close(r.idleDone)
	t := time.NewTicker(max(r.opt.Idle/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-r.idleStop:
			return
		case <-t.C:
			r.idleOnce()
		}
	}
}

// idleOnce unregisters the watched tenants that are registered and were
// not written for Options.Idle, one after the other.
func (r *Replicator) idleOnce() {
	type watched struct {
		name string
		db   *tenantdb.DB
	}
	var ws []watched
	r.mu.Lock()
	for name, db := range r.watched {
		if e := r.dbs[name]; e != nil && e.live.Load() {
			ws = append(ws, watched{name, db})
		}
	}
	r.mu.Unlock()
	for _, w := range ws {
		select {
		case <-r.idleStop:
			return
		default:
		}
		if w.db.IfIdle(r.opt.Idle, func() bool { return r.idle(w.name) }) {
			r.Stats.IdleUnregisters.Add(1)
			// Litestream's connection is closed: ours need not be
			// pinned until it connects again.
			if err := w.db.Unpin(); err != nil {
				r.opt.Log.Warn("replica: unpin", "db", w.name, "err", err)
			}
		}
	}
}

// idle syncs the database name a last time and unregisters it, with its
// writes held off (tenantdb.DB.IfIdle), and has it wait for its next
// write. It reports whether it did: a failing or fenced replica keeps
// the tenant registered (its last changes must still be shipped), and a
// final sync that did not end in step with the replica registers it
// again at once, so that a tenant that waits is always in step.
func (r *Replicator) idle(name string) bool {
	if r.failSince.Load() != 0 {
		return false
	}
	r.mu.Lock()
	e := r.dbs[name]
	if r.closed || e == nil || !e.live.Load() || e.fenced.Load() || r.closing[name] != nil {
		r.mu.Unlock()
		return false
	}
	delete(r.dbs, name)
	done := make(chan struct{})
	r.closing[name] = done
	r.mu.Unlock()
	ctx := context.Background()
	err := r.unregister(ctx, e)
	_, ok := r.readRecord(name)
	ok = ok && err == nil
	r.mu.Lock()
	delete(r.closing, name)
	if ok && !r.closed {
		r.waiting[name] = true
	}
	r.mu.Unlock()
	close(done)
	if ok {
		return true
	}
	r.opt.Log.Info("replica: an idle tenant's final sync did not end in step; streaming it again", "db", name, "err", err)
	if err := r.Register(ctx, name, e.path); err != nil {
		r.opt.Log.Error("replica: register", "db", name, "err", err)
	}
	return false
}

// Target is where this Replicator replicates to.
func (r *Replicator) Target() *Target { return r.target }

// ObserveLag has fn told the lag of every sync: how old the newest
// transaction it carried was when the replica had it.
func (r *Replicator) ObserveLag(fn func(time.Duration)) { r.onLag.Store(&fn) }

// position is the record kept beside Litestream's local state of a
// database whose last close synced it: the replica's newest level-0
// file then, and what the file and its -wal looked like. It is removed
// at register, so that it only ever describes a replica nobody else has
// written since.
type position struct {
	Target  string       `json:"target"`
	L0      ltx.FileInfo `json:"l0"`
	Written time.Time    `json:"written"`
	// DB and WAL are the stats of the file and its -wal after the close.
	DB  fileStat `json:"db"`
	WAL fileStat `json:"wal"`
}

// fileStat is what a stat says of a file: enough to see that it changed.
type fileStat struct {
	Ino     uint64 `json:"ino"`
	Size    int64  `json:"size"`
	ModNano int64  `json:"mod_ns"`
}

func statFile(path string) (fileStat, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStat{}, err
	}
	st := fileStat{Size: fi.Size(), ModNano: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.Ino = uint64(sys.Ino)
	}
	return st, nil
}

// inStep reports, from two stats and no read, whether the file at path
// is as it was when rec was written. In WAL mode every change of the
// content goes through the -wal: a write appends to it or, once
// everything is checkpointed, starts it again with a new salt, and a
// connection without our settings (a command run while the server was
// down) truncates it when it closes. So the -wal must be the same file
// of the same size and time. The database file only must be the same
// file (a replaced file is another): a tenant only read copies the
// frames of the -wal into it when it closes (the checkpoint of its last
// connection), which moves its size and time but not its content.
func (rec position) inStep(path string) bool {
	db, err := statFile(path)
	if err != nil || db.Ino != rec.DB.Ino || rec.DB.Ino == 0 {
		return false
	}
	wal, err := statFile(path + "-wal")
	return err == nil && wal == rec.WAL
}

func (r *Replicator) recordPath(name string) string {
	return filepath.Join(r.stateDir, name, "position.json")
}

func (r *Replicator) readRecord(name string) (position, bool) {
	var p position
	b, err := os.ReadFile(r.recordPath(name))
	if err != nil || json.Unmarshal(b, &p) != nil || p.Target != r.target.String() || p.L0.MaxTXID == 0 {
		return p, false
	}
	return p, true
}

// Opened registers the database name at path, whose application
// connection is open already (Litestream's own connection must come
// second; see docs/replication.md). Errors are logged and kept for
// Status: the database serves unreplicated rather than not at all.
func (r *Replicator) Opened(ctx context.Context, name, path string) {
	if err := r.Register(ctx, name, path); err != nil {
		r.opt.Log.Error("replica: register", "db", name, "err", err)
	}
}

// Defer reports whether the database name at path may wait for its
// first write to be registered: the file is in step with its position
// record (a stat of the file and its -wal, no call to the replica). If
// so, it is open and waiting until Opened (at that write) or Closed; a
// tenant that is only read so costs no more to open than without a
// replica. A file that is not in step (a first open, or a change made
// while the server was down) must be registered at its open.
func (r *Replicator) Defer(name, path string) bool {
	rec, ok := r.readRecord(name)
	if !ok || !rec.inStep(path) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.dbs[name] != nil || r.closing[name] != nil {
		return false
	}
	r.waiting[name] = true
	r.Stats.Deferred.Add(1)
	return true
}

// Closed syncs the database name to the replica and unregisters it; the
// application's connections to it must be closed already, so that no
// write comes after the final sync. A database that waited for a write
// and had none is in step still: nothing to do.
func (r *Replicator) Closed(ctx context.Context, name string) {
	r.mu.Lock()
	for r.closing[name] != nil { // an idle unregister (or another close)
		ch := r.closing[name]
		r.mu.Unlock()
		<-ch
		r.mu.Lock()
	}
	delete(r.watched, name)
	if r.waiting[name] {
		delete(r.waiting, name)
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	if err := r.Unregister(ctx, name); err != nil {
		r.opt.Log.Error("replica: final sync", "db", name, "err", err)
	}
}

// Register starts replicating the database name at path.
func (r *Replicator) Register(ctx context.Context, name, path string) error {
	r.mu.Lock()
	for r.closing[name] != nil {
		ch := r.closing[name]
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		r.mu.Lock()
	}
	if r.closed {
		r.mu.Unlock()
		return errors.New("replicator closed")
	}
	if r.dbs[name] != nil {
		r.mu.Unlock()
		return nil
	}
	delete(r.waiting, name)
	e := &entry{name: name, path: path, started: time.Now()}
	r.dbs[name] = e
	r.mu.Unlock()
	if err := r.register(ctx, e); err != nil {
		e.fail(err, time.Now())
		r.Stats.SyncErrors.Add(1)
		return err
	}
	e.live.Store(true)
	r.Stats.Registers.Add(1)
	return nil
}

func (r *Replicator) register(ctx context.Context, e *entry) error {
	inner, err := r.target.client(e.name)
	if err != nil {
		return err
	}
	c := &client{ReplicaClient: inner, r: r, e: e}
	e.c = c
	if err := inner.Init(ctx); err != nil {
		return fmt.Errorf("replica client: %w", err)
	}
	db := litestream.NewDB(e.path)
	db.SetMetaPath(filepath.Join(r.stateDir, e.name))
	// A write goes through two stages, each on its own ticker: the WAL
	// to a local LTX file, then the upload. Half the interval each keeps
	// the sum within it.
	db.MonitorInterval = r.opt.Interval / 2
	rep := litestream.NewReplicaWithClient(db, c)
	rep.SyncInterval = r.opt.Interval / 2
	db.Replica = rep
	if rec, ok := r.readRecord(e.name); ok {
		if pos, err := db.Pos(); err == nil && pos.TXID == rec.L0.MaxTXID {
			c.prime(rec.L0)
			rep.SetPos(ltx.Pos{TXID: rec.L0.MaxTXID, PostApplyChecksum: rec.L0.PostApplyChecksum})
		}
	} else if rec.Target != "" && rec.Target != r.target.String() {
		// The local state is of another replica (a data dir restored
		// from one and served with another, or a changed --replica):
		// its files would make Litestream upload from a transaction
		// this replica does not follow. Start afresh: a snapshot.
		if err := os.RemoveAll(filepath.Join(r.stateDir, e.name)); err != nil {
			return err
		}
	}
	if err := os.Remove(r.recordPath(e.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	e.db = db
	if err := r.store.RegisterDB(db); err != nil {
		return err
	}
	// Litestream connects at its first sync. It must connect now, while
	// the application's connection is open (see tenantdb.DB.Pin),
	// and a tenant evicted before the monitor's first tick would
	// otherwise close unreplicated: Litestream's final sync runs only
	// once it has connected.
	if _, err := r.store.SyncDB(ctx, e.path, false); err != nil {
		return fmt.Errorf("first sync: %w", err)
	}
	return nil
}

// reached notes a call to the replica that succeeded.
func (r *Replicator) reached() { r.failSince.Store(0) }

// Unregister syncs the database name a last time and stops replicating
// it, recording the replica's position when the sync succeeded. While
// the replica fails (its last call failed and none succeeded since), or
// when the fence refused this database, it does not wait for a final
// sync that would only retry for Options.CloseTimeout: the evicting
// request goes on at once. The database's last changes are then in its
// local Litestream state and file, no position record says it is in
// step, and its next open registers it and ships them.
func (r *Replicator) Unregister(ctx context.Context, name string) error {
	r.mu.Lock()
	e := r.dbs[name]
	delete(r.dbs, name)
	if e == nil {
		r.mu.Unlock()
		return nil
	}
	done := make(chan struct{})
	r.closing[name] = done
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.closing, name)
		r.mu.Unlock()
		close(done)
	}()
	return r.unregister(ctx, e)
}

func (r *Replicator) unregister(ctx context.Context, e *entry) error {
	defer func() {
		if e.c != nil {
			if cl, ok := e.c.ReplicaClient.(io.Closer); ok {
				cl.Close() // a NATS client's connection: Litestream never closes it
			}
		}
	}()
	if e.db == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opt.CloseTimeout+time.Second)
	defer cancel()
	if r.failSince.Load() != 0 || e.fenced.Load() {
		// Local work only: the WAL's last frames to an LTX file, then a
		// close whose replica sync gives up at once (its context is
		// done). Nothing in between may write: the caller closed the
		// application's connections.
		syncErr := e.db.Sync(ctx)
		done, stop := context.WithCancel(ctx)
		stop()
		r.store.UnregisterDB(done, e.path)
		r.Stats.SkippedFinalSyncs.Add(1)
		return errors.Join(fmt.Errorf("final sync skipped: the replica is failing; %s ships at its next open", e.name), syncErr)
	}
	// Litestream's close cancels the replica's monitor first, and a sync
	// that the cancel cuts short makes it forget the replica's position
	// (on any error), so that its final sync lists the replica to find it
	// again (seen under load: TestRestoredFileRegistersWithoutListing).
	// The newest level-0 file this entry knows answers that listing.
	if last := e.c.newest(); last != nil {
		e.c.prime(*last)
	}
	err := r.store.UnregisterDB(ctx, e.path)
	if err != nil {
		r.Stats.SyncErrors.Add(1)
		e.fail(err, time.Now())
		return err
	}
	last := e.c.newest()
	pos, perr := e.db.Pos()
	if last == nil || perr != nil || e.db.Replica.Pos().TXID != last.MaxTXID || pos.TXID != last.MaxTXID {
		return nil // not known to be in step: the next register lists
	}
	rec := position{Target: r.target.String(), L0: *last, Written: time.Now().UTC()}
	// Without the stats, the next open registers (Defer).
	rec.DB, _ = statFile(e.path)
	rec.WAL, _ = statFile(e.path + "-wal")
	b, _ := json.Marshal(rec)
	return writeFileAtomic(r.recordPath(e.name), b)
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Sync replicates everything the database name has committed now, and
// waits until the replica has it. A database open and waiting for its
// first write (Defer) is in step: nothing to do.
func (r *Replicator) Sync(ctx context.Context, name string) error {
	r.mu.Lock()
	e, waiting := r.dbs[name], r.waiting[name]
	r.mu.Unlock()
	if waiting {
		return nil
	}
	if e == nil || e.db == nil {
		return fmt.Errorf("%s is not replicated now", name)
	}
	_, err := r.store.SyncDB(ctx, e.path, true)
	return err
}

// Close syncs and unregisters every database, then stops Litestream.
func (r *Replicator) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	close(r.idleStop)
	<-r.idleDone
	r.mu.Lock()
	r.watched = map[string]*tenantdb.DB{}
	es := make([]*entry, 0, len(r.dbs))
	for _, e := range r.dbs {
		es = append(es, e)
	}
	r.dbs = map[string]*entry{}
	r.waiting = map[string]bool{}
	r.mu.Unlock()
	var errs []error
	for _, e := range es {
		if err := r.unregister(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.name, err))
		}
	}
	errs = append(errs, r.store.Close(ctx), r.target.Close())
	return errors.Join(errs...)
}

// DBStatus is one database's replication as this process knows it.
type DBStatus struct {
	Name       string `json:"name"`
	Registered bool   `json:"registered"` // open and streaming now
	// Waiting: open, in step with the replica, and registered at its
	// first write (Defer).
	Waiting   bool      `json:"waiting_for_write,omitempty"`
	LocalTXID uint64    `json:"local_txid"`
	TXID      uint64    `json:"replicated_txid"`
	Lag       float64   `json:"lag_seconds"` // of the last sync
	LastSync  time.Time `json:"last_sync,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// FailingSince is when the replica started failing for this
	// database; zero while it works.
	FailingSince time.Time `json:"failing_since,omitzero"`
	Lists        int64     `json:"lists"`
	Reads        int64     `json:"reads"`
}

// Status describes the database name: registered, or as its last close
// recorded it.
func (r *Replicator) Status(name string) (DBStatus, bool) {
	r.mu.Lock()
	e, waiting := r.dbs[name], r.waiting[name]
	r.mu.Unlock()
	if e != nil {
		return e.status(), true
	}
	if rec, ok := r.readRecord(name); ok {
		return DBStatus{Name: name, Waiting: waiting, TXID: uint64(rec.L0.MaxTXID), LocalTXID: uint64(rec.L0.MaxTXID), LastSync: rec.Written}, true
	}
	return DBStatus{Name: name}, false
}

func (e *entry) status() DBStatus {
	s := DBStatus{Name: e.name, Registered: true, Lists: e.lists.Load(), Reads: e.reads.Load()}
	if e.db != nil {
		if pos, err := e.db.Pos(); err == nil {
			s.LocalTXID = uint64(pos.TXID)
		}
		s.TXID = uint64(e.db.Replica.Pos().TXID)
	}
	s.Lag = time.Duration(e.lag.Load()).Seconds()
	if ns := e.lastSync.Load(); ns != 0 {
		s.LastSync = time.Unix(0, ns).UTC()
	}
	e.failMu.Lock()
	s.LastError, s.FailingSince = e.lastErr, e.failingSince
	e.failMu.Unlock()
	return s
}

// Registered is the status of every registered database, by name.
func (r *Replicator) Registered() []DBStatus {
	r.mu.Lock()
	es := make([]*entry, 0, len(r.dbs))
	for _, e := range r.dbs {
		es = append(es, e)
	}
	r.mu.Unlock()
	out := make([]DBStatus, 0, len(es))
	for _, e := range es {
		out = append(out, e.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Failing names the registered databases whose replica has failed for
// longer than d, for /readyz.
func (r *Replicator) Failing(d time.Duration, now time.Time) []string {
	var names []string
	for _, s := range r.Registered() {
		if !s.FailingSince.IsZero() && now.Sub(s.FailingSince) > d {
			names = append(names, s.Name)
		}
	}
	return names
}
