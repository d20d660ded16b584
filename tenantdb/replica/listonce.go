package replica

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// listedOnce answers a restore's listings of one database from a single
// listing of its NATS bucket. Litestream's NATS client lists the whole
// bucket for every level a restore asks about (eleven), which made a
// cluster's takeover restores take seconds each with a few thousand
// objects in the bucket.
type listedOnce struct {
	litestream.ReplicaClient
	files map[int][]*ltx.FileInfo
}

func (c *listedOnce) LTXFiles(ctx context.Context, level int, seek ltx.TXID, useMetadata bool) (ltx.FileIterator, error) {
	var out []*ltx.FileInfo
	for _, f := range c.files[level] {
		if f.MinTXID >= seek {
			out = append(out, f)
		}
	}
	return ltx.NewFileInfoSliceIterator(out), nil
}

// Listing is one listing of a NATS bucket's LTX files, every database's,
// shared by the restores of a cluster's takeover (RestoreSeedFrom): a
// listing reads the metadata of every object in the bucket (thousands
// after minutes of writes on a few dozen chapters), and one per restore
// made fifteen takeover restores on one node take seconds each.
//
// A restore from a Listing sees the replica as it was when the listing
// began: a file uploaded later is not in it. The caller makes sure no
// file of the databases it restores can be uploaded after that (for a
// takeover: the listing begins after this node took the records, so the
// only other writer was the dead owner, fenced since its lease ended).
type Listing struct {
	target *Target
	dbs    map[string]map[int][]*ltx.FileInfo
	began  time.Time
}

// Began is when the listing was asked for.
func (l *Listing) Began() time.Time { return l.began }

// Len is how many LTX files the listing holds, every database's.
func (l *Listing) Len() int {
	n := 0
	for _, levels := range l.dbs {
		for _, fs := range levels {
			n += len(fs)
		}
	}
	return n
}

// ListAll lists every database's LTX files in the target's bucket, once,
// for RestoreSeedFrom. Nil for a target other than NATS, whose clients
// list one database's files only.
func (t *Target) ListAll(ctx context.Context) (*Listing, error) {
	if t.scheme != "nats" {
		return nil, nil
	}
	began := time.Now()
	dbs, err := t.listBucket(ctx, "")
	if err != nil {
		return nil, err
	}
	return &Listing{target: t, dbs: dbs, began: began}, nil
}

// listNATS lists database name's LTX files in the target's NATS bucket,
// by level, in the order Litestream's client gives them (by MinTXID).
func (t *Target) listNATS(ctx context.Context, name string) (map[int][]*ltx.FileInfo, error) {
	dbs, err := t.listBucket(ctx, name)
	if err != nil {
		return nil, err
	}
	return dbs[name], nil
}

// listBucket lists the target's NATS bucket (one request per object: the
// object store's List reads every object's metadata) and sorts its LTX
// files by database and level; only database only's when it is not "".
func (t *Target) listBucket(ctx context.Context, only string) (map[string]map[int][]*ltx.FileInfo, error) {
	store, err := t.objectStore(ctx)
	if err != nil {
		return nil, fmt.Errorf("replica %s: %w", t, err)
	}
	infos, err := t.list(ctx, store)
	if err != nil {
		return nil, fmt.Errorf("replica %s: listing: %w", t, err)
	}
	dbs := map[string]map[int][]*ltx.FileInfo{}
	for _, info := range infos {
		name, f, ok := parseObject(info)
		if !ok || (only != "" && name != only) {
			continue
		}
		if dbs[name] == nil {
			dbs[name] = map[int][]*ltx.FileInfo{}
		}
		dbs[name][f.Level] = append(dbs[name][f.Level], &f)
	}
	for _, levels := range dbs {
		for _, fs := range levels {
			sort.Slice(fs, func(i, j int) bool { return fs[i].MinTXID < fs[j].MinTXID })
		}
	}
	return dbs, nil
}
