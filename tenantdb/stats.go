package tenantdb

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// Visit statistics: page views and unique visitors a day and page, kept in
// the tenant's own file (stats_daily), so they export and move with it.
// A visit is counted in memory (CountVisit: a map update under a mutex of
// this tenant, no I/O) and the counts are written in one transaction every
// StatsFlushEvery and when the database closes, so a pool eviction, an idle
// close, a drain or a server shutdown loses nothing. A visitor is a hash
// made by the caller (a salt of the day, the address and the user agent;
// see site/stats.go); which visitors were seen on a day is resolved in the
// file (stats_seen) at flush time, so a visitor counts once a day and page
// however often the tenant is closed and reopened. stats_seen keeps only
// the days still being counted.

// StatsFlushEvery is how long counted visits wait in memory at most.
var StatsFlushEvery = time.Minute

// StatsKeepDays is how many days of statistics a tenant keeps.
const StatsKeepDays = 400

// maxPendingVisitors bounds the (visitor, page) pairs a tenant remembers
// between two flushes; past it, views are still counted and a flush is
// started.
const maxPendingVisitors = 20_000

// Visitor identifies a visitor for one day, under that day's salt.
type Visitor [16]byte

type statsKey struct{ day, path string }

type seenKey struct {
	day, path string
	visitor   Visitor
}

// visitKey is a visitor on a page of the day being counted.
type visitKey struct {
	path    string
	visitor Visitor
}

// statsBuf is a tenant's counted, unwritten visits. A visit of the day
// being counted costs one map update (visits, under mu): the views of
// each page and of the site, and who was seen where, are worked out from
// it when it is written. Counts of other days, and views past
// maxPendingVisitors, wait in views and seen, the form they are written
// in.
type statsBuf struct {
	mu     sync.Mutex
	day    string              // the day of visits
	visits map[visitKey]uint32 // views of day by visitor and page
	views  map[statsKey]int64  // views of other days, and past the bound ("" path: the site)
	seen   map[seenKey]struct{}
	timer  *time.Timer
	urgent bool // timer is a flush started at once, the bound being reached
	closed bool
	// flushing serialises flushes, so that counts are written in order.
	flushing sync.Mutex
}

// CountVisit counts a view of path on day (YYYY-MM-DD, UTC) by visitor.
// It does no I/O (the count is written by the next flush) and, for a
// visitor already seen on that page and day, no allocation: one lock and
// one map update.
func (db *DB) CountVisit(day, path string, v Visitor) {
	s := &db.stats
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if day != s.day {
		s.views, s.seen = foldVisits(s.views, s.seen, s.day, s.visits)
		s.day, s.visits = day, nil
	}
	if s.visits == nil {
		s.visits = make(map[visitKey]uint32)
	}
	k := visitKey{path, v}
	full := false
	if len(s.visits) < maxPendingVisitors {
		s.visits[k]++ // cannot wrap: it is written within a minute
	} else if n, ok := s.visits[k]; ok {
		s.visits[k] = n + 1
	} else {
		// Past the bound: the view counts, and the visitor is told
		// apart by the flush this starts.
		full = true
		s.views, s.seen = foldVisits(s.views, s.seen, "", nil)
		s.views[statsKey{day, path}]++
		s.views[statsKey{day, ""}]++
	}
	switch {
	case full && !s.urgent:
		if s.timer != nil {
			s.timer.Stop()
		}
		s.urgent = true
		s.timer = time.AfterFunc(0, func() { db.FlushStats(context.Background()) })
	case s.timer == nil:
		s.timer = time.AfterFunc(StatsFlushEvery, func() { db.FlushStats(context.Background()) })
	}
	s.mu.Unlock()
}

// foldVisits adds the visits of day to views and seen, the form the
// file is written in (each made when nil), and returns them.
func foldVisits(views map[statsKey]int64, seen map[seenKey]struct{}, day string, visits map[visitKey]uint32) (map[statsKey]int64, map[seenKey]struct{}) {
	if views == nil {
		views = make(map[statsKey]int64)
		seen = make(map[seenKey]struct{})
	}
	for k, n := range visits {
		views[statsKey{day, k.path}] += int64(n)
		views[statsKey{day, ""}] += int64(n)
		seen[seenKey{day, k.path, k.visitor}] = struct{}{}
		seen[seenKey{day, "", k.visitor}] = struct{}{}
	}
	return views, seen
}

// FlushStats writes the counted visits. A write that fails puts them
// back, to be written by the next flush.
func (db *DB) FlushStats(ctx context.Context) error {
	s := &db.stats
	s.flushing.Lock()
	defer s.flushing.Unlock()
	s.mu.Lock()
	views, seen, day, visits := s.views, s.seen, s.day, s.visits
	s.views, s.seen, s.visits = nil, nil, nil
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.urgent = false
	s.mu.Unlock()
	// Worked out here, outside the lock, not on the request's path.
	views, seen = foldVisits(views, seen, day, visits)
	if len(views) == 0 {
		return nil
	}
	err := db.writeStats(ctx, views, seen)
	if err != nil {
		s.mu.Lock()
		if !s.closed {
			if s.views == nil {
				s.views, s.seen = views, seen
			} else {
				for k, n := range views {
					s.views[k] += n
				}
				for k := range seen {
					s.seen[k] = struct{}{}
				}
			}
			if s.timer == nil {
				s.timer = time.AfterFunc(StatsFlushEvery, func() { db.FlushStats(context.Background()) })
			}
		}
		s.mu.Unlock()
		return fmt.Errorf("writing visit statistics: %w", err)
	}
	return nil
}

// writeStats adds views and the visitors not yet seen to the file in one
// transaction. It does not move the generation on: no page shows them, so
// the page cache stays valid.
func (db *DB) writeStats(ctx context.Context, views map[statsKey]int64, seen map[seenKey]struct{}) error {
	defer db.beforeWrite(ctx)()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO stats_seen (day, path, visitor) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	visitors := make(map[statsKey]int64, len(views))
	oldest := ""
	for k := range seen {
		res, err := ins.ExecContext(ctx, k.day, k.path, hex.EncodeToString(k.visitor[:]))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			visitors[statsKey{k.day, k.path}]++
		}
	}
	up, err := tx.PrepareContext(ctx, `INSERT INTO stats_daily (day, path, views, visitors) VALUES (?, ?, ?, ?)
		ON CONFLICT (day, path) DO UPDATE SET views = views + excluded.views, visitors = visitors + excluded.visitors`)
	if err != nil {
		return err
	}
	defer up.Close()
	for k, n := range views {
		if _, err := up.ExecContext(ctx, k.day, k.path, n, visitors[k]); err != nil {
			return err
		}
		if oldest == "" || k.day < oldest {
			oldest = k.day
		}
	}
	// The visitors of days no longer counted are of no use, and their
	// salt is gone: delete them. So are statistics past the retention.
	if _, err := tx.ExecContext(ctx, `DELETE FROM stats_seen WHERE day < ?`, oldest); err != nil {
		return err
	}
	if t, err := time.Parse(DateLayout, oldest); err == nil {
		cut := t.AddDate(0, 0, -StatsKeepDays).Format(DateLayout)
		if _, err := tx.ExecContext(ctx, `DELETE FROM stats_daily WHERE day < ?`, cut); err != nil {
			return err
		}
	}
	// A node of a cluster that no longer owns the tenant writes nothing
	// of it (SetFence), visit counts included: they are lost, not forked.
	if f := db.fence.Load(); f != nil {
		if err := (*f)(); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// closeStats writes what is counted and stops counting; DB.Close calls it.
func (db *DB) closeStats() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := db.FlushStats(ctx)
	db.stats.mu.Lock()
	db.stats.closed = true
	db.stats.mu.Unlock()
	// A visit counted between the flush and closed: written now.
	if err2 := db.FlushStats(ctx); err == nil {
		err = err2
	}
	return err
}

// DayStats is one day's views and unique visitors.
type DayStats struct {
	Day      string `json:"day"` // YYYY-MM-DD, UTC
	Views    int64  `json:"views"`
	Visitors int64  `json:"visitors"`
}

// PageStats is one page's views and daily unique visitors over some days.
type PageStats struct {
	Path     string `json:"path"`
	Views    int64  `json:"views"`
	Visitors int64  `json:"visitors"` // summed over the days: a visitor counts once a day
}

// StatsDays returns the whole site's figures for every day from from to
// to (YYYY-MM-DD, both included), days without visits as zeros.
func (db *DB) StatsDays(ctx context.Context, from, to string) ([]DayStats, error) {
	start, err := time.Parse(DateLayout, from)
	if err != nil {
		return nil, invalid("from", "%q is not a date like 2026-07-01", from)
	}
	end, err := time.Parse(DateLayout, to)
	if err != nil || end.Before(start) || end.Sub(start) > StatsKeepDays*24*time.Hour {
		return nil, invalid("to", "%q is not a date from %s and within %d days of it", to, from, StatsKeepDays)
	}
	got, err := list(ctx, db, `SELECT day, views, visitors FROM stats_daily WHERE path = '' AND day >= ? AND day <= ? ORDER BY day`,
		Window{}, func(s scanner) (DayStats, error) {
			var d DayStats
			return d, s.Scan(&d.Day, &d.Views, &d.Visitors)
		}, from, to)
	if err != nil {
		return nil, err
	}
	byDay := make(map[string]DayStats, len(got))
	for _, d := range got {
		byDay[d.Day] = d
	}
	var out []DayStats
	for t := start; !t.After(end); t = t.AddDate(0, 0, 1) {
		day := t.Format(DateLayout)
		d, ok := byDay[day]
		if !ok {
			d = DayStats{Day: day}
		}
		out = append(out, d)
	}
	return out, nil
}

// StatsPages returns the most viewed pages from from to to (both
// included), at most limit.
func (db *DB) StatsPages(ctx context.Context, from, to string, limit int) ([]PageStats, error) {
	return list(ctx, db, `SELECT path, sum(views), sum(visitors) FROM stats_daily WHERE path <> '' AND day >= ? AND day <= ?
		GROUP BY path ORDER BY sum(views) DESC, path LIMIT ?`, Window{}, func(s scanner) (PageStats, error) {
		var p PageStats
		return p, s.Scan(&p.Path, &p.Views, &p.Visitors)
	}, from, to, limit)
}

// checkStatsRow validates a stored statistics row (an import).
func checkStatsRow(day, path string, views, visitors int64) error {
	if err := checkDate("day", day); err != nil || day == "" {
		return invalid("day", "%q is not a date like 2026-07-01", day)
	}
	if err := checkStatsPath(path); err != nil {
		return err
	}
	if views < 0 || visitors < 0 || visitors > views {
		return invalid("visitors", "counts must be positive, with no more visitors (%d) than views (%d)", visitors, views)
	}
	return nil
}

func checkStatsPath(path string) error {
	if path != "" && (path[0] != '/' || len(path) > 300) {
		return invalid("path", "must be a site path of at most 300 bytes")
	}
	return checkLen("path", path, 0, 300)
}

func checkSeenRow(day, path, visitor string) error {
	if err := checkDate("day", day); err != nil || day == "" {
		return invalid("day", "%q is not a date like 2026-07-01", day)
	}
	if err := checkStatsPath(path); err != nil {
		return err
	}
	if b, err := hex.DecodeString(visitor); err != nil || len(b) != len(Visitor{}) {
		return invalid("visitor", "is not a visitor hash")
	}
	return nil
}
