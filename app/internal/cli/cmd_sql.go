package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// cmdTenantSQL runs one read-only statement on a tenant's database: the
// way to look inside a live tenant file, which sqlite3 cannot open while a
// server has it (the unix-excl VFS).
func cmdTenantSQL(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	asJSON := fs.Bool("json", false, "print JSON: {columns, rows, more}")
	limit := fs.Int("limit", 1000, "print at most this many `rows` (most 100000)")
	timeout := fs.Duration("timeout", 10*time.Second, "stop the statement after this long (most 5m)")
	pos, err := e.parse(fs, args, 2)
	if err != nil {
		return err
	}
	if *limit < 1 || *limit > 100000 {
		return &usageError{fmt.Sprintf("tenant sql: --limit must be 1 to 100000, not %d", *limit)}
	}
	if *timeout <= 0 || *timeout > 5*time.Minute {
		return &usageError{fmt.Sprintf("tenant sql: --timeout must be more than 0 and at most 5m, not %s", *timeout)}
	}
	qctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var res tenantdb.QueryResult
	err = e.p.WithTenant(qctx, pos[0], func(_ catalog.Tenant, h *pool.Handle) error {
		res, err = h.Query(qctx, pos[1], *limit)
		return err
	})
	switch {
	case errors.Is(err, tenantdb.ErrNotRead):
		return fmt.Errorf("tenant sql: %w; change a tenant through its dashboard, the API or the operator commands", err)
	case err != nil && qctx.Err() != nil && ctx.Err() == nil:
		return fmt.Errorf("tenant sql: stopped after --timeout %s: %w", *timeout, err)
	case err != nil:
		return fmt.Errorf("tenant sql: %w", err)
	}
	if *asJSON {
		for _, row := range res.Rows {
			for i, v := range row {
				if b, ok := v.([]byte); ok && utf8.Valid(b) {
					row[i] = string(b) // TEXT read as bytes; BLOBs stay base64
				}
			}
		}
		return printJSON(e.stdout, res)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(res.Columns, "\t"))
	for _, row := range res.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = cell(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.More {
		fmt.Fprintf(e.stderr, "(the first %d rows; --limit shows more)\n", *limit)
	}
	return nil
}

// cell is how a value prints in the table: NULL, numbers, text quoted
// when it holds control characters and cut at 200 characters, and a
// blob's size.
func cell(v any) string {
	var s string
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		if !utf8.Valid(v) {
			return fmt.Sprintf("<blob, %d bytes>", len(v))
		}
		s = string(v)
	case string:
		s = v
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(v)
	}
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return strconv.Quote(s)
	}
	return s
}
