package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	lsnats "github.com/benbjohnson/litestream/nats"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/superfly/ltx"
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
}

// objectStore is the shared handle, connecting first if need be.
func (t *Target) objectStore(ctx context.Context) (jetstream.ObjectStore, error) {
	s := &t.nats
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store != nil && !s.nc.IsClosed() {
		return s.store, nil
	}
	opts := []nats.Option{nats.Name("chapterhouse replica"), nats.MaxReconnects(-1), nats.ReconnectWait(2 * time.Second), nats.Timeout(10 * time.Second)}
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
	s.nc, s.store = nc, store
	return store, nil
}

// Close closes the Target's shared NATS connection, if it has one; a
// later use connects again.
func (t *Target) Close() error {
	s := &t.nats
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc != nil {
		s.nc.Close()
		s.nc, s.store = nil, nil
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

func (c *natsClient) LTXFiles(ctx context.Context, level int, seek ltx.TXID, _ bool) (ltx.FileIterator, error) {
	store, err := c.t.objectStore(ctx)
	if err != nil {
		return nil, err
	}
	list, err := store.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, fmt.Errorf("failed to list objects: %w", err)
	}
	prefix := litestream.LTXLevelDir(c.path, level) + "/"
	var out []*ltx.FileInfo
	for _, o := range list {
		name, ok := strings.CutPrefix(o.Name, prefix)
		if !ok || strings.Contains(name, "/") {
			continue
		}
		minTXID, maxTXID, err := ltx.ParseFilename(name)
		if err != nil || minTXID < seek {
			continue
		}
		created := o.ModTime
		if v := o.Headers.Get(lsnats.HeaderKeyTimestamp); v != "" {
			if ts, err := time.Parse(time.RFC3339Nano, v); err == nil {
				created = ts
			}
		}
		out = append(out, &ltx.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID, Size: int64(o.Size), CreatedAt: created})
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
		return nil, fmt.Errorf("failed to put object %s: %w", name, err)
	}
	return &ltx.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID, Size: int64(info.Size), CreatedAt: ts}, nil
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
	list, err := store.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return err
	}
	for _, o := range list {
		if strings.HasPrefix(o.Name, c.path+"/") {
			if err := store.Delete(ctx, o.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				return err
			}
		}
	}
	return nil
}
