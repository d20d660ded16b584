package sqlitefile

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/chapterhouse/chapterhouse/migrations"
	"modernc.org/sqlite"
)

// The lookaside setting takes effect on the connections tenant files use: a
// cold connection's first queries check out more slots than SQLite's
// default buffer has (123), and none of them falls back to the heap for
// want of a free slot (with the default buffer, 83 did).
func TestLookasideIsConfigured(t *testing.T) {
	if lookasideErr != nil {
		t.Fatal(lookasideErr)
	}
	ctx := context.Background()
	s := NewSchema("tenant", migrations.Tenant(), "unix-excl")
	path := filepath.Join(t.TempDir(), "t.db")
	w, err := OpenWriter(s, path, "rwc")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := Migrate(ctx, w, w, s, filepath.Dir(path), "t"); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReaders(s, path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A fresh connection's first statements parse the whole schema.
	conn, err := r.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The home page's statements, prepared and kept as a tenant keeps
	// them.
	for _, q := range []string{
		`SELECT name, tagline, about, address, phone, email, meeting_info, membership_info, social_links, accent_color, logo_id, timezone, updated_at FROM site WHERE id = 1`,
		`SELECT id, title, starts_at, ends_at, timezone, all_day, location, description, category, rrule, created_at, updated_at FROM events ORDER BY starts_at, id`,
	} {
		st, err := conn.PrepareContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		rows, err := st.QueryContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		rows.Close()
	}
	var used, high, missFull int
	err = conn.Raw(func(dc any) error {
		st := dc.(sqlite.DBStatus)
		var err error
		if used, high, err = st.Status(sqlite.DBStatusLookasideUsed, false); err != nil {
			return err
		}
		_, missFull, err = st.Status(sqlite.DBStatusLookasideMissFull, false)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if high <= 123 || missFull != 0 {
		t.Errorf("lookaside slots: %d in use, high-water %d, %d misses because it was full; want a high-water above 123 and no misses", used, high, missFull)
	}
}
