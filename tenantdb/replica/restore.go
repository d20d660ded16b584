package replica

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
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
	inner, err := t.client(name)
	if err != nil {
		return err
	}
	if cl, ok := inner.(io.Closer); ok {
		defer cl.Close()
	}
	if err := inner.Init(ctx); err != nil {
		return fmt.Errorf("replica %s: %w", t, err)
	}
	if t.scheme == "nats" {
		files, err := t.listNATS(ctx, name)
		if err != nil {
			return err
		}
		inner = &listedOnce{ReplicaClient: inner, files: files}
	}
	r := litestream.NewReplicaWithClient(nil, inner)
	opt := litestream.NewRestoreOptions()
	opt.OutputPath = out
	opt.Timestamp = at
	opt.IntegrityCheck = litestream.IntegrityCheckQuick
	if err := r.Restore(ctx, opt); err != nil {
		os.Remove(out)
		os.Remove(out + "-wal")
		os.Remove(out + "-shm")
		if errors.Is(err, litestream.ErrTxNotAvailable) || errors.Is(err, litestream.ErrNoSnapshots) {
			first, last, berr := r.TimeBounds(ctx)
			if berr == nil && first.IsZero() {
				return fmt.Errorf("%w: the replica %s holds nothing of it", ErrNotAvailable, t)
			}
			if berr == nil && !at.IsZero() && !at.Before(first) {
				return fmt.Errorf("%s: %w: the replica holds %s to %s (UTC) but no readable chain of files up to that moment (files damaged or missing?)",
					at.UTC().Format(time.RFC3339Nano), ErrNotAvailable, first.UTC().Format(time.RFC3339Nano), last.UTC().Format(time.RFC3339Nano))
			}
			if berr == nil {
				return fmt.Errorf("%s: %w: the replica holds %s to %s (UTC)", at.UTC().Format(time.RFC3339), ErrNotAvailable,
					first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339))
			}
			return fmt.Errorf("%w (%v)", ErrNotAvailable, err)
		}
		return fmt.Errorf("from %s: %w", t, err)
	}
	if err := toRollbackJournal(ctx, out); err != nil {
		os.Remove(out)
		return err
	}
	return nil
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
