package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Writers keep creating posts while exports run: every export passes its
// checks, is not in WAL mode, and holds every post whose create returned
// before the export began.
func TestExportUnderWriteLoad(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	var (
		mu    sync.Mutex
		acked []int64
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := &Post{Title: fmt.Sprintf("writer %d post %d", w, i), Body: "body", Published: true}
				if err := db.SavePost(ctx, p); err != nil {
					t.Errorf("SavePost: %v", err)
					return
				}
				mu.Lock()
				acked = append(acked, p.ID)
				mu.Unlock()
			}
		}()
	}
	out := t.TempDir()
	for round := range 5 {
		mu.Lock()
		before := append([]int64(nil), acked...)
		mu.Unlock()
		dst := filepath.Join(out, fmt.Sprintf("export-%d.db", round))
		info, err := db.Export(ctx, dst)
		if err != nil {
			t.Fatalf("Export: %v", err)
		}
		if info.Version != LatestVersion() || info.Size == 0 || len(info.SHA256) != 64 {
			t.Errorf("export info %+v", info)
		}
		if _, err := CheckTenantFile(ctx, dst); err != nil {
			t.Errorf("export %d fails its check: %v", round, err)
		}
		ids := postIDs(t, dst)
		for _, id := range before {
			if !ids[id] {
				t.Errorf("export %d lacks post %d, created before the export began", round, id)
			}
		}
	}
	close(stop)
	wg.Wait()
	entries, _ := os.ReadDir(out)
	if len(entries) != 5 {
		t.Errorf("%d files in the export dir, want the 5 exports and no temp file", len(entries))
	}
}

func postIDs(t *testing.T, path string) map[int64]bool {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var mode string
	if err := raw.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode == "wal" {
		t.Errorf("%s: journal_mode %q (%v), want not wal", path, mode, err)
	}
	rows, err := raw.Query("SELECT id FROM posts")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[int64]bool{}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids[id] = true
	}
	return ids
}

func TestExportNeverOverwrites(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	dst := filepath.Join(t.TempDir(), "chapter.db")
	if err := os.WriteFile(dst, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := db.Export(ctx, dst)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Export over an existing file: %v, want ErrConflict", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "precious" {
		t.Errorf("existing file changed to %q", b)
	}
	if n := countFiles(t, filepath.Dir(dst)); n != 1 {
		t.Errorf("%d files next to the export, want 1 (no temp file left)", n)
	}
	if _, err := db.Export(ctx, filepath.Join(t.TempDir(), "no", "such", "dir.db")); err == nil {
		t.Error("Export into a missing directory succeeded")
	}
}

// The digest of an export equals the live tenant's, and changes with any
// row.
func TestDigestOfExportMatches(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	for i := range 20 {
		if err := db.SavePost(ctx, &Post{Title: fmt.Sprintf("post %d", i), Body: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	m := &Media{Name: "a.png", ContentType: "image/png", Width: 1, Height: 1}
	if err := db.AddMedia(ctx, m, []byte("not really a png")); err != nil {
		t.Fatal(err)
	}
	live, err := db.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "e.db")
	if _, err := db.Export(ctx, dst); err != nil {
		t.Fatal(err)
	}
	exported, err := FileDigest(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if live.Sum() != exported.Sum() {
		t.Fatalf("digest of export differs in tables %v", live.Diff(exported))
	}
	if live.Rows["posts"] != 20 || live.Rows["media"] != 1 {
		t.Errorf("row counts %v", live.Rows)
	}
	if err := db.SavePost(ctx, &Post{ID: 3, Title: "post 2 edited", Slug: "post-2"}); err != nil {
		t.Fatal(err)
	}
	after, err := db.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := after.Diff(exported); len(diff) != 1 || diff[0] != "posts" {
		t.Errorf("after editing a post, digest differs in %v, want [posts]", diff)
	}
}
