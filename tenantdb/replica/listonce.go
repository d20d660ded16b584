package replica

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/benbjohnson/litestream"
	lsnats "github.com/benbjohnson/litestream/nats"
	"github.com/nats-io/nats.go/jetstream"
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

// listNATS lists database name's LTX files in the target's NATS bucket,
// by level, in the order Litestream's client gives them (by MinTXID).
func (t *Target) listNATS(ctx context.Context, name string) (map[int][]*ltx.FileInfo, error) {
	store, err := t.objectStore(ctx)
	if err != nil {
		return nil, fmt.Errorf("replica %s: %w", t, err)
	}
	infos, err := store.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, fmt.Errorf("replica %s: listing: %w", t, err)
	}
	files := map[int][]*ltx.FileInfo{}
	prefix := name + "/ltx/"
	for _, info := range infos {
		rest, ok := strings.CutPrefix(info.Name, prefix)
		if !ok {
			continue
		}
		lv, file, ok := strings.Cut(rest, "/")
		level, err := strconv.Atoi(lv)
		if !ok || err != nil {
			continue
		}
		minTXID, maxTXID, err := ltx.ParseFilename(file)
		if err != nil {
			continue
		}
		created := info.ModTime
		if v := info.Headers.Get(lsnats.HeaderKeyTimestamp); v != "" {
			if ts, err := time.Parse(time.RFC3339Nano, v); err == nil {
				created = ts
			}
		}
		files[level] = append(files[level], &ltx.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID, Size: int64(info.Size), CreatedAt: created})
	}
	for _, fs := range files {
		sort.Slice(fs, func(i, j int) bool { return fs[i].MinTXID < fs[j].MinTXID })
	}
	return files, nil
}
