package tenantdb

import (
	"context"
	"testing"

	"modernc.org/sqlite"
)

// The lookaside setting takes effect on the connections tenants use: a
// cold connection's first queries check out more slots than SQLite's
// default buffer has (123), and none of them falls back to the heap for
// want of a free slot (with the default buffer, 83 did).
func TestLookasideIsConfigured(t *testing.T) {
	if lookasideErr != nil {
		t.Fatal(lookasideErr)
	}
	ctx := context.Background()
	db := openTenant(t)
	if _, err := db.Site(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Events(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := db.r.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
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
