package tenantdb

import (
	"context"
	"testing"
)

// TestStatsPastTheBoundStillCountsViews: once maxPendingVisitors pairs
// wait in memory, a new visitor's view is still counted (the visitor may
// go untold apart until the flush this starts), and a known one's too.
func TestStatsPastTheBoundStillCountsViews(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	const extra = 5
	for i := range maxPendingVisitors + extra {
		db.CountVisit("2026-12-03", "/", Visitor{byte(i), byte(i >> 8), byte(i >> 16)})
	}
	db.CountVisit("2026-12-03", "/", Visitor{0, 0, 0}) // the first again
	must(t, db.FlushStats(ctx))
	days, err := db.StatsDays(ctx, "2026-12-03", "2026-12-03")
	must(t, err)
	d := days[0]
	if d.Views != maxPendingVisitors+extra+1 || d.Visitors < maxPendingVisitors || d.Visitors > maxPendingVisitors+extra {
		t.Errorf("%+v, want %d views and %d to %d visitors", d, maxPendingVisitors+extra+1, maxPendingVisitors, maxPendingVisitors+extra)
	}
}
