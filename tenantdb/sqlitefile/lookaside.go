package sqlitefile

import (
	"errors"
	"fmt"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite serves a connection's small, short-lived allocations (parse
// trees, cursors, a row's values) from a per-connection lookaside buffer
// before it falls back to the C heap, which in modernc.org/sqlite sits
// behind one process-wide mutex. A cold tenant's first statement parses
// the whole schema, and SQLite's default buffer (40 slots of 1,200 bytes,
// 48 KB) runs out during that. 128 slots of 512 bytes (64 KB) cover it:
// BenchmarkColdPath medians of 7 alternating runs went from 1,370 to
// 1,200 CPU-µs a request, and an idle open tenant from 175 to 189 KB of
// RSS (BenchmarkIdleTenantRSS). The setting applies to every connection
// the process opens, and only to those opened after it: lookasideErr
// says whether it took.
const (
	lookasideSlotSize = 512
	lookasideSlots    = 128
)

var lookasideErr = configureLookaside(lookasideSlotSize, lookasideSlots)

func configureLookaside(size, count int32) error {
	tls := libc.NewTLS()
	defer tls.Close()
	va := libc.Xmalloc(tls, 2*8)
	if va == 0 {
		return errors.New("configuring SQLite's lookaside: out of memory")
	}
	defer libc.Xfree(tls, va)
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_LOOKASIDE, libc.VaList(va, size, count)); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("configuring SQLite's lookaside: sqlite3_config returned %d", rc)
	}
	return nil
}
