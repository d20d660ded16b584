package replica

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/superfly/ltx"

	"github.com/chapterhouse/chapterhouse/internal/natstest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// cutShort makes database id's level-0 file f in target's NATS bucket
// what an upload cut short by a lost server leaves (IncompleteError):
// its metadata, and its chunks purged (first false: as Put's own cleanup
// purges them) or only its first chunk missing (first true: a publish
// lost in a reconnect while the later chunks and the metadata arrived).
func cutShort(t *testing.T, target *Target, id string, f *ltx.FileInfo, first bool) {
	t.Helper()
	ctx := context.Background()
	store, err := target.objectStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := store.GetInfo(ctx, litestream.LTXFilePath(id, f.Level, f.MinTXID, f.MaxTXID))
	if err != nil {
		t.Fatal(err)
	}
	stream := target.nats.stream
	subject := "$O." + target.nats.bucket + ".C." + info.NUID
	if !first {
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
			t.Fatal(err)
		}
		return
	}
	if info.Chunks < 2 {
		t.Fatalf("%s-%s has %d chunk(s), want several", f.MinTXID, f.MaxTXID, info.Chunks)
	}
	msg, err := stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subject))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.DeleteMsg(ctx, msg.Sequence); err != nil {
		t.Fatal(err)
	}
}

// level0 is database id's level-0 files in the bucket, oldest first.
func level0(t *testing.T, target *Target, id string) []*ltx.FileInfo {
	t.Helper()
	files, err := target.listNATS(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return files[0]
}

// shipBig is shipPost of bigPosts: one level-0 file of several 128 KB
// chunks.
func shipBig(t *testing.T, r *Replicator, dir, id, title string) {
	t.Helper()
	ship(t, r, dir, id, func(db *tenantdb.DB) { bigPosts(t, db, title) })
}

// bigPosts saves four posts of 88 KB of random text, title and title
// with 1 to 3 "!".
func bigPosts(t *testing.T, db *tenantdb.DB, title string) {
	t.Helper()
	for k := range 4 {
		b := make([]byte, 66000)
		rand.Read(b)
		p := &tenantdb.Post{Title: title + strings.Repeat("!", k), Body: base64.StdEncoding.EncodeToString(b)}
		if err := db.SavePost(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
}

func objectExists(t *testing.T, target *Target, id string, f *ltx.FileInfo) bool {
	t.Helper()
	ctx := context.Background()
	store, err := target.objectStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.GetInfo(ctx, litestream.LTXFilePath(id, f.Level, f.MinTXID, f.MaxTXID))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return false
	} else if err != nil {
		t.Fatal(err)
	}
	return true
}

// A chapter whose newest upload was cut short (its object's metadata in
// the bucket, its chunks not all there: what JetStream's Put leaves
// when its server goes in the middle) restores to the file before it,
// which is all Litestream counted as replicated: at once, not after a
// reader's minute of retries, and not refused as a damaged replica. A
// restore to look (Restore) leaves the object be; a restore for the
// chapter's next writer (RestoreSeed) deletes it, and that writer's
// uploads follow on from the restored file: a later restore has them.
func TestRestoreLeavesOutAnIncompleteNewestFile(t *testing.T) {
	for _, c := range []struct {
		name  string
		first bool
	}{{"chunks purged", false}, {"first chunk missing", true}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			dir, id := testTenant(t)
			r := newNATSReplicator(t, dir, "cut", Options{noMonitors: true})
			target := r.Target()
			shipPost(t, r, dir, id, "A")
			shipBig(t, r, dir, id, "B")
			files := level0(t, target, id)
			newest := files[len(files)-1]
			cutShort(t, target, id, newest, c.first)

			out := filepath.Join(t.TempDir(), "look.db")
			if err := target.Restore(ctx, id, out, time.Time{}); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if got := titles(t, out); !got["A"] || got["B"] {
				t.Errorf("restored %v, want A and not B", got)
			}
			// Found at its first open, and not opened again and again:
			// Litestream's reader retries an open that fails three times
			// with a backoff, unless the file is not found.
			if n := target.IncompleteObjects(); n == 0 || n > 2 {
				t.Errorf("the incomplete object was found %d times by one restore, want 1 or 2", n)
			}
			if !objectExists(t, target, id, newest) {
				t.Fatal("Restore deleted the incomplete object; only a restore for a writer may")
			}

			out = filepath.Join(t.TempDir(), "own.db")
			sd, err := target.RestoreSeed(ctx, id, out, time.Time{})
			if err != nil {
				t.Fatalf("RestoreSeed: %v", err)
			}
			if sd == nil || sd.info.MaxTXID != files[len(files)-2].MaxTXID {
				t.Fatalf("seed %+v, want the file before the incomplete one (max %s)", sd, files[len(files)-2].MaxTXID)
			}
			if objectExists(t, target, id, newest) {
				t.Error("RestoreSeed left the incomplete object in the bucket")
			}

			// The restored file in a data dir of its own, with its seed, as
			// restore --all puts it; written there, its replica goes on.
			d2 := t.TempDir()
			im, err := tenantdb.PrepareImport(ctx, out, t.TempDir(), 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(d2, "tenants"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(im.Path, tenantdb.TenantPath(d2, id)); err != nil {
				t.Fatal(err)
			}
			if err := sd.Write(filepath.Join(d2, "litestream")); err != nil {
				t.Fatal(err)
			}
			r.Close(ctx)
			r2, err := New(ctx, target, filepath.Join(d2, "litestream"), Options{noMonitors: true})
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close(ctx)
			shipPost(t, r2, d2, id, "C")
			out = filepath.Join(t.TempDir(), "after.db")
			if err := target.Restore(ctx, id, out, time.Time{}); err != nil {
				t.Fatalf("Restore after the new writer's upload: %v", err)
			}
			if got := titles(t, out); !got["A"] || !got["C"] || got["B"] {
				t.Errorf("restored %v, want A and C", got)
			}
		})
	}
}

// A writer whose register lists the replica (out of step with its
// position record, as after a crash) and finds the replica's newest
// level-0 file incomplete deletes it and uploads that transaction again:
// the replica is whole after its next sync, and a restore has every
// write.
func TestRegisterReplacesAnIncompleteNewestFile(t *testing.T) {
	ctx := context.Background()
	dir, id := testTenant(t)
	r := newNATSReplicator(t, dir, "reg", Options{noMonitors: true})
	target := r.Target()
	shipPost(t, r, dir, id, "A")
	shipBig(t, r, dir, id, "B")
	files := level0(t, target, id)
	newest := files[len(files)-1]
	cutShort(t, target, id, newest, true)
	if err := os.Remove(r.recordPath(id)); err != nil {
		t.Fatal(err)
	}
	shipPost(t, r, dir, id, "C")

	out := filepath.Join(t.TempDir(), "all.db")
	if err := target.Restore(ctx, id, out, time.Time{}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := titles(t, out); !got["A"] || !got["B"] || !got["C"] {
		t.Errorf("restored %v, want A, B and C", got)
	}
	store, err := target.objectStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range level0(t, target, id) {
		info, err := store.GetInfo(ctx, litestream.LTXFilePath(id, f.Level, f.MinTXID, f.MaxTXID))
		if err != nil {
			t.Fatal(err)
		}
		if err := target.missingChunks(ctx, info); err != nil {
			t.Errorf("after the register: %v", err)
		}
	}
}

// An incomplete file with later files after it is not an upload cut
// short (its writer uploads nothing after it until it is whole): the
// restore is refused (Litestream's plan has a gap), says which file was
// left out, and deletes nothing.
func TestRestoreRefusesAGapBeforeLaterFiles(t *testing.T) {
	ctx := context.Background()
	dir, id := testTenant(t)
	r := newNATSReplicator(t, dir, "gap", Options{noMonitors: true})
	target := r.Target()
	shipPost(t, r, dir, id, "A")
	shipBig(t, r, dir, id, "B")
	shipPost(t, r, dir, id, "C")
	files := level0(t, target, id)
	middle := files[len(files)-2]
	cutShort(t, target, id, middle, true)
	for _, restore := range []func(string) error{
		func(out string) error { return target.Restore(ctx, id, out, time.Time{}) },
		func(out string) error { _, err := target.RestoreSeed(ctx, id, out, time.Time{}); return err },
	} {
		out := filepath.Join(t.TempDir(), "gap.db")
		err := restore(out)
		want := "left out as incomplete: level 0 file " + middle.MinTXID.String() + "-" + middle.MaxTXID.String()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("restore: %v, want a refusal naming the file (%s)", err, want)
		}
		if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("a refused restore left its output: %v", serr)
		}
	}
	if !objectExists(t, target, id, middle) {
		t.Error("a refused restore deleted the incomplete object")
	}
}

// After a failed put, the client deletes the object if the put left it
// incomplete, and keeps a complete object of that name (an earlier put
// whose acknowledgement was lost).
func TestFailedPutDropsOnlyAnIncompleteObject(t *testing.T) {
	ctx := context.Background()
	dir, id := testTenant(t)
	r := newNATSReplicator(t, dir, "put", Options{noMonitors: true})
	target := r.Target()
	shipBig(t, r, dir, id, "B")
	files := level0(t, target, id)
	f := files[len(files)-1]
	c := &natsClient{t: target, path: id}
	c.dropIncomplete(ctx, f.Level, f.MinTXID, f.MaxTXID)
	if !objectExists(t, target, id, f) {
		t.Fatal("a complete object was deleted after a failed put")
	}
	cutShort(t, target, id, f, true)
	c.dropIncomplete(ctx, f.Level, f.MinTXID, f.MaxTXID)
	if objectExists(t, target, id, f) {
		t.Error("an incomplete object stayed after a failed put")
	}
	var inc *IncompleteError
	if _, err := c.OpenLTXFile(ctx, f.Level, f.MinTXID, f.MaxTXID, 0, 0); !errors.Is(err, os.ErrNotExist) || errors.As(err, &inc) {
		t.Errorf("OpenLTXFile of the deleted object: %v, want not found", err)
	}
}

// A writer's NATS server stopped in the middle of its uploads, in a
// cluster of three with a bucket of three replicas (the writer knows one
// server, and reconnects to another it learnt of): a restore from
// another server has every post whose sync returned, at once, whatever
// the cut left in the bucket, and deletes any object it left incomplete.
// The rounds say how many such objects the restores met.
func TestServerStoppedInTheMiddleOfUploads(t *testing.T) {
	ctx := context.Background()
	var met int64
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("CHAPTERHOUSE_CUT_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	for round := range rounds {
		nc := natstest.Start(t, 3)
		conn, err := nats.Connect(nc.URLs())
		if err != nil {
			t.Fatal(err)
		}
		js, err := jetstream.New(conn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "cut", Storage: jetstream.FileStorage, Replicas: 3}); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		dir, id := testTenant(t)
		target, err := ParseURL(nc.URL(0) + "/cut")
		if err != nil {
			t.Fatal(err)
		}
		r, err := New(ctx, target, filepath.Join(dir, "litestream"), Options{noMonitors: true})
		if err != nil {
			t.Fatal(err)
		}
		db, err := openPinned(ctx, dir, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Register(ctx, id, db.Path()); err != nil {
			t.Fatal(err)
		}
		var acked []string
		stopped := make(chan struct{})
		go func() {
			time.Sleep(time.Duration(300+round%4*250) * time.Millisecond)
			nc.Stop(0)
			close(stopped)
		}()
		var after time.Time
		for i := 0; ; i++ {
			title := fmt.Sprintf("round %d post %d", round, i)
			bigPosts(t, db, title)
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := r.Sync(sctx, id); err == nil {
				acked = append(acked, title)
			}
			cancel()
			select {
			case <-stopped:
				if after.IsZero() {
					after = time.Now()
				}
			default:
			}
			if !after.IsZero() && time.Since(after) > time.Second {
				break
			}
		}
		// The writer is gone (its database closed, nothing more synced);
		// a node with another server restores its chapter.
		db.Close()
		other, err := ParseURL(nc.URL(1) + "/cut")
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		out := filepath.Join(t.TempDir(), "restored.db")
		_, err = other.RestoreSeed(rctx, id, out, time.Time{})
		cancel()
		if err != nil {
			t.Fatalf("round %d: restore after the server stopped: %v", round, err)
		}
		got := titles(t, out)
		for _, title := range acked {
			if !got[title] {
				t.Errorf("round %d: %q was synced and is not restored", round, title)
			}
		}
		met += other.IncompleteObjects()
		t.Logf("round %d: %d syncs returned, %d posts restored, %d incomplete objects met", round, len(acked), len(got)/4, other.IncompleteObjects())
		other.Close()
		r.Close(ctx)
	}
	t.Logf("incomplete objects met in all: %d", met)
}
