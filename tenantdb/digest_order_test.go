package tenantdb

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestDigestIgnoresInsertionOrder writes the same rows into two files in
// opposite orders: their digests are equal. The sessions table has a text
// primary key, so its rows' order by key differs from their order on disk
// (rowid): a digest that read rows in file order would differ.
func TestDigestIgnoresInsertionOrder(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := []string{strings.Repeat("b", 20), strings.Repeat("a", 20), strings.Repeat("c", 20)}
	digestOf := func(order []int) string {
		db := openTenant(t)
		db.now = func() time.Time { return now }
		a := Admin{Email: "ed@example.org", Role: RoleOwner, PasswordHash: testHash}
		if err := db.AddAdmin(ctx, &a); err != nil {
			t.Fatal(err)
		}
		for _, i := range order {
			s := Session{ID: ids[i], AdminID: a.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := db.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		d, err := db.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d.Sum()
	}
	forward, backward := digestOf([]int{0, 1, 2}), digestOf([]int{2, 1, 0})
	if forward != backward {
		t.Errorf("the same sessions inserted in two orders digest differently: %s / %s", forward, backward)
	}
	if other := digestOf([]int{0, 1}); other == forward {
		t.Errorf("a file with a session fewer has the same digest")
	}
}
