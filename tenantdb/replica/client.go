package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// client wraps a Litestream replica client to count what it does, to see
// each upload succeed or fail (Litestream reports neither), and to answer
// the first level-0 listing after a register from the position record:
// a tenant whose replica is in step then re-registers without listing.
type client struct {
	litestream.ReplicaClient
	r *Replicator
	e *entry

	mu     sync.Mutex
	primed *ltx.FileInfo // answers the next LTXFiles(0, 0, false), once
	last   *ltx.FileInfo // the newest level-0 file known on the replica
}

func (c *client) LTXFiles(ctx context.Context, level int, seek ltx.TXID, useMetadata bool) (ltx.FileIterator, error) {
	if level == 0 && seek == 0 && !useMetadata {
		c.mu.Lock()
		p := c.primed
		c.primed = nil
		c.mu.Unlock()
		if p != nil {
			cp := *p
			return ltx.NewFileInfoSliceIterator([]*ltx.FileInfo{&cp}), nil
		}
	}
	c.r.Stats.Lists.Add(1)
	c.e.lists.Add(1)
	itr, err := c.ReplicaClient.LTXFiles(ctx, level, seek, useMetadata)
	if err != nil {
		c.failed(err)
		return nil, err
	}
	c.r.reached()
	if level == 0 && seek == 0 && !useMetadata {
		if c.newest() != nil {
			// Not this register's first sight of the replica: the newest
			// file is one it listed and checked, or its own upload.
			return &watchIter{FileIterator: itr, c: c}, nil
		}
		files, err := c.newestComplete(ctx, itr)
		if err != nil {
			return nil, err
		}
		return &watchIter{FileIterator: ltx.NewFileInfoSliceIterator(files), c: c}, nil
	}
	return itr, nil
}

// newestComplete reads a full level-0 listing and, on NATS, checks the
// object of its newest file: one an upload cut short left incomplete
// (IncompleteError; a writer that lost its server or died before it
// uploaded the file again) is deleted and left out. This writer then
// uploads that transaction again, or its file as the one after the
// replica's newest complete file, instead of continuing after a file
// that no restore can read. A listing is made by a register out of step
// with its position record, never on the cold path of an open in step;
// only its first listing is checked (Litestream lists level 0 again for
// its retention, every few seconds while registered).
func (c *client) newestComplete(ctx context.Context, itr ltx.FileIterator) ([]*ltx.FileInfo, error) {
	var files []*ltx.FileInfo
	for itr.Next() {
		f := *itr.Item()
		files = append(files, &f)
	}
	if err := itr.Close(); err != nil {
		c.failed(err)
		return nil, err
	}
	for range maxIncomplete {
		newest := -1
		for i, f := range files {
			if newest < 0 || f.MaxTXID > files[newest].MaxTXID {
				newest = i
			}
		}
		if newest < 0 {
			break
		}
		f := files[newest]
		inc := c.r.target.incompleteFile(ctx, c.e.name, f)
		if inc == nil {
			break
		}
		if err := c.fenced(); err != nil {
			return nil, err
		}
		if err := c.ReplicaClient.DeleteLTXFiles(ctx, []*ltx.FileInfo{f}); err != nil {
			err = fmt.Errorf("replica of %s: deleting the incomplete object: %v: %w", c.e.name, inc, err)
			c.failed(err)
			return nil, err
		}
		c.r.opt.Log.Warn("replica: deleted an incomplete object, the newest of the replica; uploading from the file before it", "db", c.e.name, "error", inc)
		files = append(files[:newest], files[newest+1:]...)
	}
	return files, nil
}

// watchIter notes the newest level-0 file a full listing shows.
type watchIter struct {
	ltx.FileIterator
	c *client
}

func (w *watchIter) Next() bool {
	if !w.FileIterator.Next() {
		return false
	}
	w.c.saw(w.Item())
	return true
}

func (c *client) saw(info *ltx.FileInfo) {
	if info == nil || info.Level != 0 {
		return
	}
	c.mu.Lock()
	if c.last == nil || info.MaxTXID > c.last.MaxTXID {
		cp := *info
		c.last = &cp
	}
	c.mu.Unlock()
}

func (c *client) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	c.r.Stats.Reads.Add(1)
	c.e.reads.Add(1)
	return c.ReplicaClient.OpenLTXFile(ctx, level, minTXID, maxTXID, offset, size)
}

// WriteLTXFile uploads one file; a level-0 upload is a sync, whose lag is
// the age of the newest transaction it carries (the LTX header's time).
func (c *client) WriteLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, rd io.Reader) (*ltx.FileInfo, error) {
	if err := c.fenced(); err != nil {
		return nil, err
	}
	hr := &headerReader{r: rd}
	info, err := c.ReplicaClient.WriteLTXFile(ctx, level, minTXID, maxTXID, hr)
	if err != nil {
		c.failed(err)
		return nil, err
	}
	c.r.Stats.Bytes.Add(hr.n)
	c.r.reached()
	if level == 0 {
		now := time.Now()
		c.saw(info)
		c.e.synced(now)
		var h ltx.Header
		if hr.full() && h.UnmarshalBinary(hr.hdr[:]) == nil && h.Timestamp > 0 {
			lag := now.Sub(time.UnixMilli(h.Timestamp))
			c.e.lag.Store(int64(lag))
			if f := c.r.onLag.Load(); f != nil {
				(*f)(lag)
			}
		}
	}
	return info, nil
}

func (c *client) DeleteLTXFiles(ctx context.Context, a []*ltx.FileInfo) error {
	if err := c.fenced(); err != nil {
		return err
	}
	err := c.ReplicaClient.DeleteLTXFiles(ctx, a)
	if err != nil {
		c.failed(err)
	}
	return err
}

// fenced is Options.Fence's answer for this database (nil: go ahead).
func (c *client) fenced() error {
	if f := c.r.opt.Fence; f != nil {
		if err := f(c.e.name); err != nil {
			c.e.fenced.Store(true)
			c.failed(err)
			return fmt.Errorf("replica of %s: %w", c.e.name, err)
		}
	}
	return nil
}

func (c *client) failed(err error) {
	if errors.Is(err, context.Canceled) {
		return // a close or shutdown, not the replica's fault
	}
	c.r.Stats.SyncErrors.Add(1)
	now := time.Now()
	c.e.fail(err, now)
	if !c.e.fenced.Load() {
		c.r.failSince.CompareAndSwap(0, now.UnixNano())
	}
}

// prime has the next full level-0 listing answered by info.
func (c *client) prime(info ltx.FileInfo) {
	c.mu.Lock()
	c.primed = &info
	c.last = &info
	c.mu.Unlock()
}

func (c *client) newest() *ltx.FileInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		return nil
	}
	cp := *c.last
	return &cp
}

// headerReader passes a reader through, keeping its first bytes (an LTX
// header) and counting the rest.
type headerReader struct {
	r   io.Reader
	hdr [ltx.HeaderSize]byte
	n   int64
}

func (h *headerReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if h.n < ltx.HeaderSize {
		copy(h.hdr[h.n:], p[:n])
	}
	h.n += int64(n)
	return n, err
}

func (h *headerReader) full() bool { return h.n >= ltx.HeaderSize }
