package replica

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/litestream"
	lsnats "github.com/benbjohnson/litestream/nats"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/superfly/ltx"

	"github.com/chapterhouse/chapterhouse/tenantdb/cluster"
)

// natsShared is one NATS connection and object store handle, shared by
// the replica clients of every database of a Target. Litestream's NATS
// client opens a connection per database (its connection field is not
// exported), which cost each registered tenant about 430 KB (buffers,
// goroutines, the server's side of it) measured by TestRegisteredMemory.
type natsShared struct {
	mu    sync.Mutex
	nc    *nats.Conn
	store jetstream.ObjectStore
	// stream is the bucket's stream (OBJ_<bucket>), nil if its info
	// could not be read; allowDirect says it allows direct gets
	// (readDirect).
	stream      jetstream.Stream
	allowDirect bool
	bucket      string
	// lists counts the listings of the bucket (each reads every
	// object's metadata): what a restore or a takeover costs; direct the
	// objects read by readDirect; incomplete the objects found without
	// all their chunks (IncompleteError).
	lists      atomic.Int64
	direct     atomic.Int64
	incomplete atomic.Int64
	// index answers the replica clients' listings (natsindex.go).
	index bucketIndex
}

// list lists every object of the bucket, counted in lists.
func (t *Target) list(ctx context.Context, store jetstream.ObjectStore) ([]*jetstream.ObjectInfo, error) {
	t.nats.lists.Add(1)
	infos, err := store.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	return infos, err
}

// objectStore is the shared handle, connecting first if need be.
func (t *Target) objectStore(ctx context.Context) (jetstream.ObjectStore, error) {
	s := &t.nats
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store != nil && !s.nc.IsClosed() {
		return s.store, nil
	}
	// The cluster's pings and reconnects: with nats.go's default pings
	// the uploads and a takeover's fetches would wait on a frozen server
	// for minutes.
	opts := append([]nats.Option{nats.Name("chapterhouse replica"), nats.Timeout(10 * time.Second)}, cluster.LivenessOptions()...)
	if t.u.User != nil {
		pw, _ := t.u.User.Password()
		opts = append(opts, nats.UserInfo(t.u.User.Username(), pw))
	}
	nc, err := nats.Connect("nats://"+t.u.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats: failed to connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	store, err := js.ObjectStore(ctx, strings.Trim(t.u.Path, "/"))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: object store bucket %q: %w", strings.Trim(t.u.Path, "/"), err)
	}
	// The bucket's stream, for readDirect (if its info says direct gets
	// are allowed, as object stores are made) and for counting an
	// object's chunks (missingChunks).
	bucket := strings.Trim(t.u.Path, "/")
	if st, err := js.Stream(ctx, "OBJ_"+bucket); err == nil {
		s.stream, s.bucket, s.allowDirect = st, bucket, st.CachedInfo().Config.AllowDirect
	}
	s.nc, s.store = nc, store
	return store, nil
}

// readDirect reads object name whole, when it has at most
// maxDirectChunks chunks of the object store's 128 KB (every level-0 file
// of a chapter, most compacted ones, a snapshot of a few MB), by direct
// gets: its metadata, then each chunk as the next message on the
// object's chunk subject, which any server of the bucket's stream
// answers. ObjectStore.Get creates a JetStream consumer for every read
// instead, which a cluster agrees on through its meta leader: a takeover
// restore reads some 40 files, and fetches waited seconds on those
// creations with a few restores at once (docs/cluster.md). The bytes
// are checked against the object's size and SHA-256 digest, as Get
// checks them. ok is false, for Get to read it, when the object is
// bigger or a link, or a server without the chunks yet answered, or
// anything failed or did not match.
func (t *Target) readDirect(ctx context.Context, info *jetstream.ObjectInfo) (data []byte, ok bool) {
	s := &t.nats
	s.mu.Lock()
	stream, bucket := s.stream, s.bucket
	if !s.allowDirect {
		stream = nil
	}
	s.mu.Unlock()
	if stream == nil || info.Chunks > maxDirectChunks || info.NUID == "" || info.Opts != nil && info.Opts.Link != nil {
		return nil, false
	}
	want, err := jetstream.DecodeObjectDigest(info.Digest)
	if err != nil {
		return nil, false
	}
	subject := "$O." + bucket + ".C." + info.NUID
	data = make([]byte, 0, info.Size)
	seq := uint64(1)
	for range info.Chunks {
		msg, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if err != nil || uint64(len(data)+len(msg.Data)) > info.Size {
			return nil, false
		}
		data = append(data, msg.Data...)
		seq = msg.Sequence + 1
	}
	sum := sha256.Sum256(data)
	if uint64(len(data)) != info.Size || !bytes.Equal(sum[:], want) {
		return nil, false
	}
	s.direct.Add(1)
	return data, true
}

// maxDirectChunks bounds the objects readDirect reads: 2 MB.
const maxDirectChunks = 16

// IncompleteError is an object of the NATS bucket whose metadata is
// there and whose chunks are not all there: an upload cut short.
// JetStream's ObjectStore.Put publishes the chunks and then the metadata
// without waiting between them, and when a publish fails (the server
// lost, an acknowledgement timed out) it purges the chunks, not the
// metadata: in a cluster the other servers may hold metadata that
// names chunks which never arrived or were purged. The put returned an
// error, so Litestream never counted the file as replicated and a
// writer still alive uploads it again (the same name: the new object
// replaces it); a restore treats it as absent (restore.go). Reading it
// would wait on chunks that never come, or decode the wrong bytes.
//
// Is(os.ErrNotExist) holds, so that Litestream's reader gives up on it at
// once instead of retrying for a minute.
type IncompleteError struct {
	Name       string
	Have, Want uint64 // chunks stored, chunks the metadata names
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("object %s is incomplete: %d of its %d chunks are stored (an upload cut short)", e.Name, e.Have, e.Want)
}

func (e *IncompleteError) Is(target error) bool { return target == os.ErrNotExist }

// missingChunks is an IncompleteError when the bucket's stream holds
// fewer chunks of object info than its metadata names, else nil (also
// when the stream's info cannot be read: the caller's read then decides).
// The stream's info comes from its leader, which has every message the
// stream acknowledged; a put in progress is never seen incomplete,
// because its metadata is published after its chunks, on one
// connection, and a stream stores what it gets in order.
func (t *Target) missingChunks(ctx context.Context, info *jetstream.ObjectInfo) error {
	s := &t.nats
	s.mu.Lock()
	stream, bucket := s.stream, s.bucket
	s.mu.Unlock()
	if stream == nil || info.NUID == "" || info.Chunks == 0 || info.Opts != nil && info.Opts.Link != nil {
		return nil
	}
	subject := "$O." + bucket + ".C." + info.NUID
	si, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return nil
	}
	if have := si.State.Subjects[subject]; have < uint64(info.Chunks) {
		s.incomplete.Add(1)
		return &IncompleteError{Name: info.Name, Have: have, Want: uint64(info.Chunks)}
	}
	return nil
}

// incompleteFile is missingChunks of database db's file f, when the
// target is NATS and its object can be read (else nil).
func (t *Target) incompleteFile(ctx context.Context, db string, f *ltx.FileInfo) error {
	if t.scheme != "nats" {
		return nil
	}
	store, err := t.objectStore(ctx)
	if err != nil {
		return nil
	}
	info, err := store.GetInfo(ctx, litestream.LTXFilePath(db, f.Level, f.MinTXID, f.MaxTXID))
	if err != nil {
		return nil
	}
	return t.missingChunks(ctx, info)
}

// IncompleteObjects counts the objects of the NATS bucket found without
// all their chunks (IncompleteError) by this process's reads.
func (t *Target) IncompleteObjects() int64 { return t.nats.incomplete.Load() }

// Close closes the Target's shared NATS connection, if it has one; a
// later use connects again.
func (t *Target) Close() error {
	s := &t.nats
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc != nil {
		s.nc.Close()
		s.nc, s.store, s.stream = nil, nil, nil
	}
	return nil
}

// natsClient is a Litestream replica client for one database's prefix in
// a NATS object store bucket, over the Target's shared connection. Its
// objects are named and stamped exactly as Litestream's NATS client names
// them (<path>/ltx/<level>/<min>-<max>.ltx, the LTX time in a header), so
// either client reads what the other wrote.
type natsClient struct {
	t    *Target
	path string
}

func (c *natsClient) Type() string           { return lsnats.ReplicaClientType }
func (c *natsClient) SetLogger(*slog.Logger) {}
func (c *natsClient) Init(ctx context.Context) error {
	_, err := c.t.objectStore(ctx)
	return err
}

// LTXFiles lists the database's files at level from the bucket's index
// (bucketIndex), or, while it has none, from a listing of the bucket.
func (c *natsClient) LTXFiles(ctx context.Context, level int, seek ltx.TXID, _ bool) (ltx.FileIterator, error) {
	store, err := c.t.objectStore(ctx)
	if err != nil {
		return nil, err
	}
	if out, ok, err := c.t.indexedFiles(ctx, store, c.path, level, seek); err != nil {
		return nil, err
	} else if ok {
		return ltx.NewFileInfoSliceIterator(out), nil
	}
	list, err := c.t.list(ctx, store)
	if err != nil {
		return nil, fmt.Errorf("failed to list objects: %w", err)
	}
	var out []*ltx.FileInfo
	for _, o := range list {
		db, f, ok := parseObject(o)
		if ok && db == c.path && f.Level == level && f.MinTXID >= seek {
			out = append(out, &f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MinTXID < out[j].MinTXID })
	return ltx.NewFileInfoSliceIterator(out), nil
}

func (c *natsClient) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	store, err := c.t.objectStore(ctx)
	if err != nil {
		return nil, err
	}
	name := litestream.LTXFilePath(c.path, level, minTXID, maxTXID)
	info, err := store.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, os.ErrNotExist
	} else if err != nil {
		return nil, fmt.Errorf("failed to get object %s: %w", name, err)
	}
	if data, ok := c.t.readDirect(ctx, info); ok {
		if offset > int64(len(data)) {
			offset = int64(len(data))
		}
		data = data[offset:]
		if size > 0 && size < int64(len(data)) {
			data = data[:size]
		}
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	// Not read directly: too big, or a chunk not found. Get waits for
	// chunks that are not stored until its reader's deadline.
	if err := c.t.missingChunks(ctx, info); err != nil {
		return nil, err
	}
	obj, err := store.Get(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, os.ErrNotExist
	} else if err != nil {
		return nil, fmt.Errorf("failed to get object %s: %w", name, err)
	}
	if offset > 0 {
		if _, err := io.CopyN(io.Discard, obj, offset); err != nil {
			obj.Close()
			return nil, fmt.Errorf("failed to discard offset bytes: %w", err)
		}
	}
	if size > 0 {
		return struct {
			io.Reader
			io.Closer
		}{io.LimitReader(obj, size), obj}, nil
	}
	return obj, nil
}

func (c *natsClient) WriteLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, r io.Reader) (*ltx.FileInfo, error) {
	store, err := c.t.objectStore(ctx)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	hdr, _, err := ltx.PeekHeader(io.TeeReader(r, &buf))
	if err != nil {
		return nil, fmt.Errorf("extract timestamp from LTX header: %w", err)
	}
	ts := time.UnixMilli(hdr.Timestamp).UTC()
	name := litestream.LTXFilePath(c.path, level, minTXID, maxTXID)
	info, err := store.Put(ctx, jetstream.ObjectMeta{Name: name, Headers: nats.Header{lsnats.HeaderKeyTimestamp: {ts.Format(time.RFC3339Nano)}}}, io.MultiReader(&buf, r))
	if err != nil {
		c.dropIncomplete(ctx, level, minTXID, maxTXID)
		return nil, fmt.Errorf("failed to put object %s: %w", name, err)
	}
	f := ltx.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID, Size: int64(info.Size), CreatedAt: ts}
	c.t.nats.index.put(c.path, name, f)
	return &f, nil
}

// dropIncomplete deletes the object of a file after a failed put, if the put left
// its metadata stored and its chunks not (IncompleteError), and the
// connection still allows it: the file is uploaded again at the next
// sync, and meanwhile no reader meets it. A complete object of that name
// (an earlier put whose acknowledgement was lost) stays.
func (c *natsClient) dropIncomplete(ctx context.Context, level int, minTXID, maxTXID ltx.TXID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	f := &ltx.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID}
	if c.t.incompleteFile(ctx, c.path, f) != nil {
		c.DeleteLTXFiles(ctx, []*ltx.FileInfo{f})
	}
}

func (c *natsClient) DeleteLTXFiles(ctx context.Context, a []*ltx.FileInfo) error {
	store, err := c.t.objectStore(ctx)
	if err != nil {
		return err
	}
	for _, f := range a {
		name := litestream.LTXFilePath(c.path, f.Level, f.MinTXID, f.MaxTXID)
		if err := store.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("failed to delete object %s: %w", name, err)
		}
		c.t.nats.index.del(c.path, name)
	}
	return nil
}

// DeleteAll deletes this database's objects (Litestream's client deletes
// the whole bucket's).
func (c *natsClient) DeleteAll(ctx context.Context) error {
	store, err := c.t.objectStore(ctx)
	if err != nil {
		return err
	}
	list, err := c.t.list(ctx, store)
	if err != nil {
		return err
	}
	for _, o := range list {
		if strings.HasPrefix(o.Name, c.path+"/") {
			if err := store.Delete(ctx, o.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				return err
			}
			c.t.nats.index.del(c.path, o.Name)
		}
	}
	return nil
}
