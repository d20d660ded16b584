package tenantdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"

	"modernc.org/sqlite"
)

// ErrNotRead is a statement given to Query that would do more than read:
// a write, a schema change, ATTACH, a transaction, a PRAGMA that sets.
var ErrNotRead = errors.New("only statements that read run here")

// QueryResult is what a read-only statement returned: its columns and at
// most the rows asked for; More says that rows were left out.
type QueryResult struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
	More    bool     `json:"more"`
}

// Query runs one statement of the operator's on a connection of its own
// from the query-only readers, under an authorizer that lets it read and
// nothing else (SELECT, WITH … SELECT, and PRAGMAs that only report), for
// as long as ctx lets it, and returns at most maxRows rows. A statement
// that would do more fails with ErrNotRead, saying what was refused, and
// changes nothing. The connection is closed afterwards, whatever the
// statement did to it.
func (db *DB) Query(ctx context.Context, query string, maxRows int) (QueryResult, error) {
	conn, err := db.r.Conn(ctx)
	if err != nil {
		return QueryResult{}, err
	}
	// A connection that ran the operator's SQL is not given back to the
	// pool: driver.ErrBadConn from Raw makes database/sql close it.
	defer func() {
		conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}()
	var mu sync.Mutex
	var refused []string
	auth := func(action sqlite.AuthorizerActionCode, arg1, arg2, _, _ string) sqlite.AuthorizerReturnCode {
		if ok, what := readOnly(action, arg1, arg2); !ok {
			mu.Lock()
			refused = append(refused, what)
			mu.Unlock()
			return sqlite.AuthorizerDeny
		}
		return sqlite.AuthorizerOK
	}
	err = conn.Raw(func(dc any) error {
		ar, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return errors.New("the sqlite driver has no authorizer")
		}
		return ar.RegisterAuthorizer(auth)
	})
	if err != nil {
		return QueryResult{}, err
	}
	res, err := query1(ctx, conn, query, maxRows)
	mu.Lock()
	defer mu.Unlock()
	if len(refused) > 0 {
		return QueryResult{}, fmt.Errorf("%w (refused: %s); nothing was changed", ErrNotRead, strings.Join(refused, ", "))
	}
	return res, err
}

func query1(ctx context.Context, conn *sql.Conn, query string, maxRows int) (QueryResult, error) {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return QueryResult{}, err
	}
	defer rows.Close()
	res := QueryResult{Rows: [][]any{}}
	if res.Columns, err = rows.Columns(); err != nil {
		return QueryResult{}, err
	}
	for rows.Next() {
		if len(res.Rows) == maxRows {
			res.More = true
			break
		}
		row := make([]any, len(res.Columns))
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return QueryResult{}, err
		}
		res.Rows = append(res.Rows, row)
	}
	return res, rows.Err()
}

// reportPragmas are the PRAGMAs Query allows: each only reports. Those
// marked true take a table or index name; the others are allowed only
// without an argument (with one, most of them set).
var reportPragmas = map[string]bool{
	"table_info": true, "table_xinfo": true, "index_list": true, "index_info": true, "index_xinfo": true,
	"foreign_key_list": true, "foreign_key_check": true, "integrity_check": true, "quick_check": true,
	"table_list":   true,
	"user_version": false, "schema_version": false, "application_id": false, "page_count": false,
	"page_size": false, "freelist_count": false, "journal_mode": false, "encoding": false,
	"compile_options": false, "database_list": false, "collation_list": false, "function_list": false,
	"module_list": false, "pragma_list": false, "data_version": false,
}

// readOnly says whether Query's authorizer lets action through, and names
// it when not.
func readOnly(action sqlite.AuthorizerActionCode, arg1, arg2 string) (bool, string) {
	switch action {
	case sqlite.AuthSelect, sqlite.AuthRead, sqlite.AuthFunction, sqlite.AuthRecursive:
		return true, ""
	case sqlite.AuthPragma:
		takesName, known := reportPragmas[strings.ToLower(arg1)]
		if known && (arg2 == "" || takesName) {
			return true, ""
		}
		if arg2 != "" {
			return false, fmt.Sprintf("PRAGMA %s = %s", arg1, arg2)
		}
		return false, "PRAGMA " + arg1
	case sqlite.AuthInsert:
		return false, "INSERT into " + arg1
	case sqlite.AuthUpdate:
		return false, "UPDATE of " + arg1
	case sqlite.AuthDelete:
		return false, "DELETE from " + arg1
	case sqlite.AuthAttach:
		return false, "ATTACH"
	case sqlite.AuthDetach:
		return false, "DETACH"
	case sqlite.AuthTransaction, sqlite.AuthSavepoint:
		return false, "a transaction (" + strings.ToUpper(arg1) + ")"
	}
	return false, "a change to the schema or the file"
}
