package replica

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	lsnats "github.com/benbjohnson/litestream/nats"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/superfly/ltx"
)

// bucketIndex is every database's LTX files in a Target's NATS bucket,
// kept by one watch of the bucket's metadata: the watch delivers each
// object's newest metadata once (what a listing reads), then every put
// and delete as it happens. It answers the listings of the Target's
// replica clients (natsClient.LTXFiles) from memory.
//
// A NATS object store cannot list one database's objects: its metadata
// subjects carry the base64 of the whole name, so a listing reads every
// object of the bucket. Litestream lists a database's level-0 files when
// it registers one without a position record (its first replication, or
// after a record was lost), and compaction lists a level every few
// seconds while a tenant writes: with a listing each, a node's first
// replication of 8,000 existing tenants slowed from 30 to 4 a second
// (docs/replication.md) and every create paid a listing of the whole
// bucket.
//
// The index may lag the server by the watch's delivery (milliseconds).
// That is safe for what it answers because each database has one writer:
// the node that owns it (a cluster's fence) or the only server. This
// node's own uploads and deletes enter the index when they succeed,
// before the watch shows them, so Litestream always sees its own files.
// What must see the replica as it is now reads it instead: a restore, a
// takeover's listing (ListAll), verify.
type bucketIndex struct {
	mu  sync.Mutex
	cur *indexWatch
	// dbs is database name -> object name -> file; gone the objects
	// this node deleted whose deletion the watch has not shown yet (a
	// put of theirs that the watch delivers late must not bring them
	// back).
	dbs  map[string]map[string]ltx.FileInfo
	gone map[string]struct{}
	// retry is when a failed watch may be started again; until then
	// listings read the bucket.
	retry time.Time
	// watches counts the watches started (each reads the bucket's
	// metadata once, as a listing does).
	watches int64
}

// indexWatch is one watch of the bucket: ready closes when it has
// delivered the bucket's state, ended when it stopped (the connection
// closed or failed).
type indexWatch struct {
	ready, ended chan struct{}
}

// watchRetry is how long after a watch ends before another is started.
const watchRetry = 5 * time.Second

// files is database db's files at level, by MinTXID from seek on, and
// true; or false when the index cannot answer (no watch, or one still
// reading the bucket when ctx ended) and the caller lists the bucket.
func (t *Target) indexedFiles(ctx context.Context, store jetstream.ObjectStore, db string, level int, seek ltx.TXID) ([]*ltx.FileInfo, bool, error) {
	x := &t.nats.index
	w := x.watch(store)
	if w == nil {
		return nil, false, nil
	}
	select {
	case <-w.ready:
	case <-w.ended:
		return nil, false, nil
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cur != w {
		return nil, false, nil
	}
	var out []*ltx.FileInfo
	for _, f := range x.dbs[db] {
		if f.Level == level && f.MinTXID >= seek {
			cp := f
			out = append(out, &cp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MinTXID < out[j].MinTXID })
	return out, true, nil
}

// watch is the current watch, starting one if there is none and the
// last did not end within watchRetry; nil if none may start now.
func (x *bucketIndex) watch(store jetstream.ObjectStore) *indexWatch {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cur != nil {
		select {
		case <-x.cur.ended:
			x.cur = nil
		default:
			return x.cur
		}
	}
	if time.Now().Before(x.retry) {
		return nil
	}
	w := &indexWatch{ready: make(chan struct{}), ended: make(chan struct{})}
	x.cur, x.dbs, x.gone = w, map[string]map[string]ltx.FileInfo{}, map[string]struct{}{}
	x.watches++
	go x.run(store, w)
	return w
}

// run applies the watch's updates until it ends (the connection closed:
// Target.Close, or a failure), then lets a new watch start after
// watchRetry.
func (x *bucketIndex) run(store jetstream.ObjectStore, w *indexWatch) {
	defer func() {
		x.mu.Lock()
		if x.cur == w {
			x.retry = time.Now().Add(watchRetry)
		}
		x.mu.Unlock()
		close(w.ended)
	}()
	// The watch lives as long as its context (nats.go unsubscribes when
	// it is done); its creation waits for the JetStream default timeout.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watcher, err := store.Watch(ctx)
	if err != nil {
		return
	}
	defer watcher.Stop()
	ready := false
	for info := range watcher.Updates() {
		if info == nil {
			if !ready {
				ready = true
				close(w.ready)
			}
			continue
		}
		x.apply(w, info)
	}
}

// apply notes one object's metadata as the watch delivered it.
func (x *bucketIndex) apply(w *indexWatch, info *jetstream.ObjectInfo) {
	db, f, ok := parseObject(info)
	if !ok {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cur != w {
		return
	}
	if info.Deleted {
		delete(x.gone, info.Name)
		x.remove(db, info.Name)
		return
	}
	if _, ok := x.gone[info.Name]; ok {
		return
	}
	x.add(db, info.Name, f)
}

// put and del note this node's own upload or delete of an object, once
// the server has it.
func (x *bucketIndex) put(db, name string, f ltx.FileInfo) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cur == nil {
		return
	}
	delete(x.gone, name)
	x.add(db, name, f)
}

func (x *bucketIndex) del(db, name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cur == nil {
		return
	}
	x.gone[name] = struct{}{}
	x.remove(db, name)
}

func (x *bucketIndex) add(db, name string, f ltx.FileInfo) {
	m := x.dbs[db]
	if m == nil {
		m = map[string]ltx.FileInfo{}
		x.dbs[db] = m
	}
	m[name] = f
}

func (x *bucketIndex) remove(db, name string) {
	if m := x.dbs[db]; m != nil {
		delete(m, name)
		if len(m) == 0 {
			delete(x.dbs, db)
		}
	}
}

// parseObject is the database and LTX file an object's metadata names
// (<db>/ltx/<level>/<min>-<max>.ltx, its time in Litestream's header);
// false for any other object.
func parseObject(info *jetstream.ObjectInfo) (db string, f ltx.FileInfo, ok bool) {
	db, rest, ok := strings.Cut(info.Name, "/ltx/")
	if !ok {
		return "", f, false
	}
	lv, file, ok := strings.Cut(rest, "/")
	level, err := strconv.Atoi(lv)
	if !ok || err != nil || strings.Contains(file, "/") {
		return "", f, false
	}
	minTXID, maxTXID, err := ltx.ParseFilename(file)
	if err != nil {
		return "", f, false
	}
	created := info.ModTime
	if v := info.Headers.Get(lsnats.HeaderKeyTimestamp); v != "" {
		if ts, err := time.Parse(time.RFC3339Nano, v); err == nil {
			created = ts
		}
	}
	return db, ltx.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID, Size: int64(info.Size), CreatedAt: created}, true
}

// BucketLists counts the listings of the NATS bucket: each reads every
// object's metadata (restores, takeovers, listings the index could not
// answer); the index's watches count one each.
func (t *Target) BucketLists() int64 {
	x := &t.nats.index
	x.mu.Lock()
	defer x.mu.Unlock()
	return t.nats.lists.Load() + x.watches
}

// IndexedFiles is how many LTX files, every database's, the bucket's
// index holds.
func (t *Target) IndexedFiles() int {
	x := &t.nats.index
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for _, files := range x.dbs {
		n += len(files)
	}
	return n
}
