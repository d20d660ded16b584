package tenantdb

import (
	"context"
	"testing"
)

// BenchmarkOpenReadClose is a cold tenant access: open an existing file,
// read the site settings, close it.
func BenchmarkOpenReadClose(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	ids := make([]string, 64)
	for i := range ids {
		ids[i] = NewTenantID()
		db, err := Create(ctx, dir, ids[i])
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
	b.ResetTimer()
	for i := range b.N {
		db, err := Open(ctx, dir, ids[i%len(ids)])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.Site(ctx); err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
}
