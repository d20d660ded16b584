package tenantdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// Digest is a logical digest of a database's content: one hash per table
// over every row in primary-key order. Two files with the same rows have
// the same digest whatever their page layout, so a copy can be checked
// against its original after a VACUUM, an export or an import. Goose's
// bookkeeping table is left out: it records when each file was migrated.
type Digest struct {
	Tables map[string]string `json:"tables"` // table -> hex sha256 of its rows
	Rows   map[string]int64  `json:"rows"`   // table -> row count
}

// Sum is the digest of the whole database: a hash over the tables' names
// and hashes in name order.
func (d Digest) Sum() string {
	names := make([]string, 0, len(d.Tables))
	for n := range d.Tables {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s=%s\n", n, d.Tables[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Diff names the tables whose content differs between d and o.
func (d Digest) Diff(o Digest) []string {
	var diff []string
	for n, h := range d.Tables {
		if o.Tables[n] != h {
			diff = append(diff, n)
		}
	}
	for n := range o.Tables {
		if _, ok := d.Tables[n]; !ok {
			diff = append(diff, n)
		}
	}
	sort.Strings(diff)
	return diff
}

// Digest computes the logical digest of the tenant from one read
// transaction, so it describes one committed state.
func (db *DB) Digest(ctx context.Context) (Digest, error) {
	conn, err := db.r.Conn(ctx)
	if err != nil {
		return Digest{}, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return Digest{}, err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	return digest(ctx, conn)
}

// FileDigest computes the logical digest of a database file that nothing
// writes (an export, a backup).
func FileDigest(ctx context.Context, path string) (Digest, error) {
	db, err := sqlitefile.OpenImmutable(path)
	if err != nil {
		return Digest{}, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return Digest{}, err
	}
	defer conn.Close()
	return digest(ctx, conn)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func digest(ctx context.Context, q querier) (Digest, error) {
	tables, err := userTables(ctx, q)
	if err != nil {
		return Digest{}, err
	}
	d := Digest{Tables: make(map[string]string, len(tables)), Rows: make(map[string]int64, len(tables))}
	for _, t := range tables {
		sum, n, err := tableDigest(ctx, q, t)
		if err != nil {
			return Digest{}, fmt.Errorf("digest of table %s: %w", t, err)
		}
		d.Tables[t], d.Rows[t] = sum, n
	}
	return d, nil
}

// userTables lists the tables holding content: not SQLite's own, not
// goose's, not Litestream's (_litestream_seq and _litestream_lock, which
// it makes in a replicated file).
func userTables(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_litestream\_%' ESCAPE '\'
		AND name <> 'goose_db_version' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// tableInfo is what a copy or a digest needs of a table's columns.
type tableInfo struct {
	columns []string // in declaration order
	types   []string // declared types, upper-case
	order   string   // ORDER BY clause: the primary key, else rowid
}

func describeTable(ctx context.Context, q querier, table string) (tableInfo, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, upper(type), pk FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		return tableInfo{}, err
	}
	defer rows.Close()
	var ti tableInfo
	pk := map[int]string{}
	for rows.Next() {
		var name, typ string
		var k int
		if err := rows.Scan(&name, &typ, &k); err != nil {
			return ti, err
		}
		ti.columns = append(ti.columns, name)
		ti.types = append(ti.types, typ)
		if k > 0 {
			pk[k] = quoteIdent(name)
		}
	}
	if err := rows.Err(); err != nil {
		return ti, err
	}
	if len(ti.columns) == 0 {
		return ti, fmt.Errorf("table %s has no columns", table)
	}
	keys := make([]string, 0, len(pk))
	for i := 1; i <= len(pk); i++ {
		keys = append(keys, pk[i])
	}
	if len(keys) == 0 {
		keys = []string{"rowid"}
	}
	ti.order = strings.Join(keys, ", ")
	return ti, nil
}

func (ti tableInfo) selectAll(table string) string {
	cols := make([]string, len(ti.columns))
	for i, c := range ti.columns {
		cols[i] = quoteIdent(c)
	}
	return `SELECT ` + strings.Join(cols, ", ") + ` FROM ` + quoteIdent(table) + ` ORDER BY ` + ti.order
}

func tableDigest(ctx context.Context, q querier, table string) (string, int64, error) {
	ti, err := describeTable(ctx, q, table)
	if err != nil {
		return "", 0, err
	}
	rows, err := q.QueryContext(ctx, ti.selectAll(table))
	if err != nil {
		return "", 0, err
	}
	defer rows.Close()
	h := sha256.New()
	for _, c := range ti.columns {
		writeValue(h, c)
	}
	vals := make([]any, len(ti.columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", 0, err
		}
		h.Write([]byte{'r'})
		for _, v := range vals {
			writeValue(h, v)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// writeValue writes one value with its type and length, so that no two
// different rows hash the same bytes.
func writeValue(h interface{ Write([]byte) (int, error) }, v any) {
	var buf [9]byte
	switch v := v.(type) {
	case nil:
		h.Write([]byte{'n'})
	case int64:
		buf[0] = 'i'
		binary.BigEndian.PutUint64(buf[1:], uint64(v))
		h.Write(buf[:])
	case float64:
		buf[0] = 'f'
		binary.BigEndian.PutUint64(buf[1:], math.Float64bits(v))
		h.Write(buf[:])
	case bool:
		buf[0] = 'i'
		if v {
			buf[8] = 1
		}
		h.Write(buf[:])
	case string:
		buf[0] = 's'
		binary.BigEndian.PutUint64(buf[1:], uint64(len(v)))
		h.Write(buf[:])
		h.Write([]byte(v))
	case []byte:
		buf[0] = 'b'
		binary.BigEndian.PutUint64(buf[1:], uint64(len(v)))
		h.Write(buf[:])
		h.Write(v)
	default:
		s := fmt.Sprint(v)
		buf[0] = '?'
		binary.BigEndian.PutUint64(buf[1:], uint64(len(s)))
		h.Write(buf[:])
		h.Write([]byte(s))
	}
}

func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
