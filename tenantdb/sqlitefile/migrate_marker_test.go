package sqlitefile

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

// TestMigrateFinishesWhenOnlyTheMarkerIsMissing: goose ran every migration
// but the process died before user_version was written (the marker comes
// last). The next Migrate finds goose at the latest version, which is not
// "too new", and only writes the marker.
func TestMigrateFinishesWhenOnlyTheMarkerIsMissing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	s, w := migrated(t, path)
	if _, err := w.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", s.Latest-1)); err != nil {
		t.Fatal(err)
	}
	ran, err := Migrate(ctx, w, w, s, filepath.Dir(path), "catalog")
	if err != nil || !ran {
		t.Fatalf("Migrate with goose at %d and user_version %d: ran %v, %v; want it to finish", s.Latest, s.Latest-1, ran, err)
	}
	if v, err := UserVersion(ctx, w); err != nil || v != s.Latest {
		t.Errorf("user_version %d (%v), want %d", v, err, s.Latest)
	}
	// A goose history past what this binary knows is too new.
	if _, err := w.ExecContext(ctx, fmt.Sprintf("INSERT INTO goose_db_version (version_id, is_applied) VALUES (%d, 1); PRAGMA user_version = %d", s.Latest+1, s.Latest-1)); err != nil {
		t.Fatal(err)
	}
	if _, err := Migrate(ctx, w, w, s, filepath.Dir(path), "catalog"); !errors.Is(err, ErrTooNew) {
		t.Errorf("Migrate with goose at %d: %v, want ErrTooNew", s.Latest+1, err)
	}
}
