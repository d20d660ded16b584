package tenantdb

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestStatsHoldAtMostMaxPendingVisitors: exactly maxPendingVisitors
// pairs wait in memory; the next new visitor starts a flush at once and
// waits in none. (The flush is held back by the test until it has
// looked.)
func TestStatsHoldAtMostMaxPendingVisitors(t *testing.T) {
	db := openTenant(t)
	s := &db.stats
	s.flushing.Lock()
	for i := range maxPendingVisitors {
		db.CountVisit("2026-12-03", "/", Visitor{byte(i), byte(i >> 8), byte(i >> 16)})
	}
	s.mu.Lock()
	held, urgent := len(s.visits), s.urgent
	s.mu.Unlock()
	if held != maxPendingVisitors || urgent {
		t.Errorf("after %d visitors: %d held, urgent %v; want all held, no flush yet", maxPendingVisitors, held, urgent)
	}
	db.CountVisit("2026-12-03", "/", Visitor{0xff, 0xff, 0xff})
	s.mu.Lock()
	held, urgent = len(s.visits), s.urgent
	s.mu.Unlock()
	s.flushing.Unlock()
	if held != maxPendingVisitors || !urgent {
		t.Errorf("one more: %d held, urgent %v; want %d held and a flush started", held, urgent, maxPendingVisitors)
	}
	must(t, db.FlushStats(context.Background()))
	pages, err := db.StatsPages(context.Background(), "2026-12-03", "2026-12-03", 10)
	must(t, err)
	if len(pages) != 1 || pages[0].Path != "/" || pages[0].Views != maxPendingVisitors+1 {
		t.Errorf("pages %+v, want / with %d views", pages, maxPendingVisitors+1)
	}
}

// TestFailedStatsFlushKeepsTheCounts: a flush the fence refuses keeps
// what was counted and arms the next flush; once the write goes through,
// every view is there once.
func TestFailedStatsFlushKeepsTheCounts(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	fenced := errors.New("fenced")
	db.SetFence(func() error { return fenced })
	db.CountVisit("2026-12-03", "/events", Visitor{1})
	if err := db.FlushStats(ctx); !errors.Is(err, fenced) {
		t.Fatalf("a fenced flush: %v", err)
	}
	db.stats.mu.Lock()
	armed := db.stats.timer != nil
	db.stats.mu.Unlock()
	if !armed {
		t.Error("after a failed flush no flush is armed: the counts wait for the next visit")
	}
	db.SetFence(func() error { return nil })
	db.CountVisit("2026-12-03", "/events", Visitor{2})
	must(t, db.FlushStats(ctx))
	days, err := db.StatsDays(ctx, "2026-12-03", "2026-12-03")
	must(t, err)
	if days[0].Views != 2 || days[0].Visitors != 2 {
		t.Errorf("%+v, want 2 views by 2 visitors", days[0])
	}
}

// TestStatsVisitorsOfEveryDayWrittenAreKept: a flush that writes two days
// keeps the visitors of both, so a visitor seen again on the older day is
// not counted twice.
func TestStatsVisitorsOfEveryDayWrittenAreKept(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	a := Visitor{7}
	db.CountVisit("2026-12-02", "/", a)
	db.CountVisit("2026-12-03", "/", a)
	must(t, db.FlushStats(ctx))
	db.CountVisit("2026-12-02", "/", a)
	must(t, db.FlushStats(ctx))
	days, err := db.StatsDays(ctx, "2026-12-02", "2026-12-03")
	must(t, err)
	if days[0].Views != 2 || days[0].Visitors != 1 || days[1].Views != 1 || days[1].Visitors != 1 {
		t.Errorf("%+v, want Dec 2: 2 views by 1 visitor, Dec 3: 1 by 1", days)
	}
}

// TestStatsKeptForStatsKeepDays: a flush deletes the figures of days more
// than StatsKeepDays before the oldest day it writes, and keeps the day at
// the limit; StatsDays takes a range of exactly StatsKeepDays.
func TestStatsKeptForStatsKeepDays(t *testing.T) {
	ctx := context.Background()
	db := openTenant(t)
	today := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	kept := today.AddDate(0, 0, -StatsKeepDays).Format(DateLayout)
	gone := today.AddDate(0, 0, -StatsKeepDays-1).Format(DateLayout)
	must(t, db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO stats_daily (day, path, views, visitors) VALUES (?, '', 5, 1), (?, '', 7, 1)`, gone, kept)
		return err
	}))
	db.CountVisit(today.Format(DateLayout), "/", Visitor{1})
	must(t, db.FlushStats(ctx))
	days, err := db.StatsDays(ctx, kept, today.Format(DateLayout))
	must(t, err)
	if len(days) != StatsKeepDays+1 || days[0].Views != 7 || days[StatsKeepDays].Views != 1 {
		t.Errorf("%d days, first %+v, last %+v; want %d, the kept day's 7 views, today's 1", len(days), days[0], days[len(days)-1], StatsKeepDays+1)
	}
	var n int
	must(t, db.r.QueryRowContext(ctx, `SELECT count(*) FROM stats_daily WHERE day = ?`, gone).Scan(&n))
	if n != 0 {
		t.Errorf("the day past the limit (%s) is still there", gone)
	}
	if _, err := db.StatsDays(ctx, gone, today.Format(DateLayout)); field(err) != "to" {
		t.Errorf("a range of %d days: %v, want a refusal of to", StatsKeepDays+1, err)
	}
}

// TestCheckStatsRowTakesItsLimits: counts of zero and a path of 300
// bytes are sound; more visitors than views, negative counts and a longer
// path are refused.
func TestCheckStatsRowTakesItsLimits(t *testing.T) {
	long := "/" + strings.Repeat("p", 299)
	for _, tc := range []struct {
		path            string
		views, visitors int64
		field           string
	}{
		{"", 0, 0, ""}, {"/", 3, 0, ""}, {long, 3, 3, ""},
		{long + "p", 3, 3, "path"}, {"x", 3, 3, "path"},
		{"/", 2, 3, "visitors"}, {"/", -1, 0, "visitors"}, {"/", 0, -1, "visitors"},
	} {
		if f := field(checkStatsRow("2026-12-03", tc.path, tc.views, tc.visitors)); f != tc.field {
			t.Errorf("%q %d views %d visitors: refused on %q, want %q", tc.path, tc.views, tc.visitors, f, tc.field)
		}
	}
}
