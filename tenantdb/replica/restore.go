package replica

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// ErrNotAvailable is a restore asked for a moment the replica does not
// hold: before its first sync or beyond its retention, or a database it
// has never had.
var ErrNotAvailable = errors.New("not available in the replica")

// Restore writes the database name as it was at at (zero: its newest
// state) to the new file out, in rollback-journal mode (a plain file that
// an import can check). The restore includes the transactions the replica
// had synced strictly before at; with the 1 s sync interval that is the
// state of at most a second earlier. Litestream checks the checksum of
// every file it reads: a tampered or truncated replica fails here, and
// out is left absent. The caller still treats out as untrusted.
func (t *Target) Restore(ctx context.Context, name, out string, at time.Time) error {
	_, err := t.restore(ctx, name, out, at, false, nil)
	return err
}

// RestoreSeed is Restore that also returns what the next register of
// the restored file needs to list and read nothing (Seed; nil when the
// replica has no level-0 file). It costs one more read of the replica
// (its newest level-0 file) and, where the restore did not list level 0
// (never on NATS), one listing: at the restore, not at the first write.
func (t *Target) RestoreSeed(ctx context.Context, name, out string, at time.Time) (*Seed, error) {
	return t.restore(ctx, name, out, at, true, nil)
}

// RestoreSeedFrom is RestoreSeed of name's newest state in listing (from
// ListAll of this target; nil: list now): the restore lists nothing, and
// it holds only what the replica held when the listing began.
func (t *Target) RestoreSeedFrom(ctx context.Context, listing *Listing, name, out string) (*Seed, error) {
	if listing != nil && listing.target != t {
		return nil, fmt.Errorf("replica %s: a listing of another target (%s)", t, listing.target)
	}
	return t.restore(ctx, name, out, time.Time{}, true, listing)
}

func (t *Target) restore(ctx context.Context, name, out string, at time.Time, seed bool, listing *Listing) (*Seed, error) {
	inner, err := t.client(name)
	if err != nil {
		return nil, err
	}
	if cl, ok := inner.(io.Closer); ok {
		defer cl.Close()
	}
	if err := inner.Init(ctx); err != nil {
		return nil, fmt.Errorf("replica %s: %w", t, err)
	}
	switch {
	case listing != nil:
		inner = &listedOnce{ReplicaClient: inner, files: listing.dbs[name]}
	case t.scheme == "nats":
		files, err := t.listNATS(ctx, name)
		if err != nil {
			return nil, err
		}
		inner = &listedOnce{ReplicaClient: inner, files: files}
	}
	skip := &skipIncomplete{ReplicaClient: inner, skipped: map[fileKey]bool{}}
	for try := 0; ; try++ {
		watch := &l0Watch{ReplicaClient: skip}
		r := litestream.NewReplicaWithClient(nil, watch)
		opt := litestream.NewRestoreOptions()
		opt.OutputPath = out
		opt.Timestamp = at
		opt.IntegrityCheck = litestream.IntegrityCheckQuick
		err := r.Restore(ctx, opt)
		if err != nil {
			os.Remove(out)
			os.Remove(out + "-wal")
			os.Remove(out + "-shm")
			// A file of the plan found incomplete: plan again without it.
			if skip.found() && try < maxIncomplete {
				continue
			}
			err = t.restoreError(ctx, r, at, err)
			if left := skip.leftOut(); left != "" {
				// Litestream refuses a plan with a gap: an incomplete file
				// with later files after it is no upload cut short (its
				// writer uploads nothing after it until it is whole).
				err = fmt.Errorf("%w (left out as incomplete: %s)", err, left)
			}
			return nil, err
		}
		if seed {
			// This restore is for the database's next writer: the
			// incomplete objects go, so that its uploads continue from
			// the restored file and no later restore meets them.
			if err := skip.drop(ctx); err != nil {
				os.Remove(out)
				return nil, fmt.Errorf("replica %s: %w", t, err)
			}
		}
		if err := toRollbackJournal(ctx, out); err != nil {
			os.Remove(out)
			return nil, err
		}
		if !seed {
			return nil, nil
		}
		sd, err := watch.seed(ctx, t, name)
		if err != nil {
			os.Remove(out)
			return nil, fmt.Errorf("replica %s: the newest level-0 file of %s: %w", t, name, err)
		}
		return sd, nil
	}
}

// maxIncomplete bounds the restore's plans made again after finding an
// incomplete object in one: a writer leaves at most one behind at each
// level.
const maxIncomplete = 12

// restoreError says why Litestream's restore failed, with the span the
// replica holds when the moment asked for is not in it.
func (t *Target) restoreError(ctx context.Context, r *litestream.Replica, at time.Time, err error) error {
	if !errors.Is(err, litestream.ErrTxNotAvailable) && !errors.Is(err, litestream.ErrNoSnapshots) {
		return fmt.Errorf("from %s: %w", t, err)
	}
	first, last, berr := r.TimeBounds(ctx)
	switch {
	case berr != nil:
		return fmt.Errorf("%w (%v)", ErrNotAvailable, err)
	case first.IsZero():
		return fmt.Errorf("%w: the replica %s holds nothing of it", ErrNotAvailable, t)
	case !at.IsZero() && !at.Before(first):
		return fmt.Errorf("%s: %w: the replica holds %s to %s (UTC) but no readable chain of files up to that moment (files damaged or missing?)",
			at.UTC().Format(time.RFC3339Nano), ErrNotAvailable, first.UTC().Format(time.RFC3339Nano), last.UTC().Format(time.RFC3339Nano))
	default:
		return fmt.Errorf("%s: %w: the replica holds %s to %s (UTC)", at.UTC().Format(time.RFC3339), ErrNotAvailable,
			first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339))
	}
}

type fileKey struct {
	level    int
	min, max ltx.TXID
}

func (k fileKey) String() string { return fmt.Sprintf("level %d file %s-%s", k.level, k.min, k.max) }

// skipIncomplete leaves out of a restore's listings the files whose
// objects were found incomplete (IncompleteError: an upload cut short,
// which Litestream never counted as replicated), and notes each one a
// read finds, for the restore to plan again without it.
type skipIncomplete struct {
	litestream.ReplicaClient
	mu      sync.Mutex
	skipped map[fileKey]bool
	fresh   bool // a file found since the last found()
}

func (s *skipIncomplete) LTXFiles(ctx context.Context, level int, seek ltx.TXID, useMetadata bool) (ltx.FileIterator, error) {
	itr, err := s.ReplicaClient.LTXFiles(ctx, level, seek, useMetadata)
	if err != nil {
		return nil, err
	}
	var out []*ltx.FileInfo
	s.mu.Lock()
	defer s.mu.Unlock()
	for itr.Next() {
		f := *itr.Item()
		if !s.skipped[fileKey{f.Level, f.MinTXID, f.MaxTXID}] {
			out = append(out, &f)
		}
	}
	if err := itr.Close(); err != nil {
		return nil, err
	}
	return ltx.NewFileInfoSliceIterator(out), nil
}

func (s *skipIncomplete) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	rc, err := s.ReplicaClient.OpenLTXFile(ctx, level, minTXID, maxTXID, offset, size)
	var inc *IncompleteError
	if errors.As(err, &inc) {
		k := fileKey{level, minTXID, maxTXID}
		s.mu.Lock()
		if !s.skipped[k] {
			s.skipped[k] = true
			s.fresh = true
			slog.Warn("replica: an incomplete object is left out of the restore", "error", inc)
		}
		s.mu.Unlock()
	}
	return rc, err
}

// found says whether a read found an incomplete file since it was last
// asked.
func (s *skipIncomplete) found() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fresh
	s.fresh = false
	return f
}

// leftOut names the files left out, "" if none.
func (s *skipIncomplete) leftOut() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for k := range s.skipped {
		names = append(names, k.String())
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// drop deletes the objects of the files left out.
func (s *skipIncomplete) drop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.skipped {
		f := &ltx.FileInfo{Level: k.level, MinTXID: k.min, MaxTXID: k.max}
		if err := s.ReplicaClient.DeleteLTXFiles(ctx, []*ltx.FileInfo{f}); err != nil {
			return fmt.Errorf("deleting the incomplete %s: %w", k, err)
		}
	}
	return nil
}

// Seed is what a restore learned of a database's replica: its newest
// level-0 file, read whole. Written into the Litestream state of the
// data dir the restored file goes to (Write), it lets the next register
// of that file list and read nothing: Litestream finds the replica's
// newest file among its local files, and the position record answers its
// listing. Without it, that register lists the replica (on NATS, the
// whole bucket) twice and reads the file. The restored file is another
// lineage (an import rebuilds it), so Litestream still ships it whole at
// that register, as the transaction after the replica's newest.
type Seed struct {
	target string
	name   string
	info   ltx.FileInfo
	data   []byte
}

// Write puts the seed in place of the Litestream state of its database
// under stateDir (DATA/litestream): the replica's newest level-0 file
// and a position record naming it, which says nothing of the file (the
// open registers the file and ships it). Call it while the database is
// not open, after the restored file is in place.
func (s *Seed) Write(stateDir string) error {
	dir := filepath.Join(stateDir, s.name)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	db := litestream.NewDB(filepath.Join(dir, "unused.db"))
	db.SetMetaPath(dir)
	path := db.LTXPath(0, s.info.MinTXID, s.info.MaxTXID)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := writeFileAtomic(path, s.data); err != nil {
		return err
	}
	rec := position{Target: s.target, L0: s.info, Written: time.Now().UTC()}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "position.json"), b)
}

// maxSeed bounds the level-0 file a seed holds in memory; a bigger one
// (a snapshot of a big file) is left to the register to fetch.
const maxSeed = 64 << 20

// l0Watch notes the newest level-0 file of the full listings a restore
// makes.
type l0Watch struct {
	litestream.ReplicaClient
	newest *ltx.FileInfo
	listed bool
}

func (w *l0Watch) LTXFiles(ctx context.Context, level int, seek ltx.TXID, useMetadata bool) (ltx.FileIterator, error) {
	itr, err := w.ReplicaClient.LTXFiles(ctx, level, seek, useMetadata)
	if err != nil || level != 0 || seek != 0 {
		return itr, err
	}
	var all []*ltx.FileInfo
	for itr.Next() {
		cp := *itr.Item()
		all = append(all, &cp)
		if w.newest == nil || cp.MaxTXID > w.newest.MaxTXID {
			w.newest = &cp
		}
	}
	if err := itr.Close(); err != nil {
		return nil, err
	}
	w.listed = true
	return ltx.NewFileInfoSliceIterator(all), nil
}

// seed reads the newest level-0 file, listing level 0 if the restore did
// not. A file that does not decode as an LTX file is no seed: the
// register then fetches (and refuses) it as it would without one.
func (w *l0Watch) seed(ctx context.Context, t *Target, name string) (*Seed, error) {
	if !w.listed {
		itr, err := w.LTXFiles(ctx, 0, 0, false)
		if err != nil {
			return nil, err
		}
		itr.Close()
	}
	info := w.newest
	if info == nil || info.Size > maxSeed {
		return nil, nil
	}
	rc, err := w.ReplicaClient.OpenLTXFile(ctx, 0, info.MinTXID, info.MaxTXID, 0, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxSeed+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSeed || ltx.NewDecoder(bytes.NewReader(data)).Verify() != nil {
		return nil, nil
	}
	return &Seed{target: t.String(), name: name, info: *info, data: data}, nil
}

// toRollbackJournal takes the restored file out of WAL mode, so that it
// is one self-contained file.
func toRollbackJournal(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=DELETE").Scan(&mode); err != nil {
		return fmt.Errorf("restored file: %w", err)
	}
	if mode != "delete" {
		return fmt.Errorf("restored file stays in %s mode", mode)
	}
	return nil
}

// Bounds is the time span a restore of name can ask for.
func (t *Target) Bounds(ctx context.Context, name string) (first, last time.Time, err error) {
	inner, err := t.client(name)
	if err != nil {
		return first, last, err
	}
	if cl, ok := inner.(io.Closer); ok {
		defer cl.Close()
	}
	if err := inner.Init(ctx); err != nil {
		return first, last, fmt.Errorf("replica %s: %w", t, err)
	}
	return litestream.NewReplicaWithClient(nil, inner).TimeBounds(ctx)
}

// Newest is the replica's newest transaction of name (0: none).
func (t *Target) Newest(ctx context.Context, name string) (ltx.TXID, error) {
	inner, err := t.client(name)
	if err != nil {
		return 0, err
	}
	if cl, ok := inner.(io.Closer); ok {
		defer cl.Close()
	}
	if err := inner.Init(ctx); err != nil {
		return 0, fmt.Errorf("replica %s: %w", t, err)
	}
	r := litestream.NewReplicaWithClient(nil, inner)
	var max ltx.TXID
	for level := 0; level <= litestream.SnapshotLevel; level++ {
		info, err := r.MaxLTXFileInfo(ctx, level)
		if err != nil {
			return 0, err
		}
		max = maxTXID(max, info.MaxTXID)
	}
	return max, nil
}

func maxTXID(a, b ltx.TXID) ltx.TXID {
	if a > b {
		return a
	}
	return b
}
