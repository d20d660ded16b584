//go:build crashtest

package hold

import (
	"fmt"
	"os"

	"modernc.org/sqlite"
)

// At blocks for good when CHAPTERHOUSE_HOLD names point, after printing
// "hold POINT" to stderr: the crash test kills the process there.
func At(point string) {
	if os.Getenv("CHAPTERHOUSE_HOLD") != point {
		return
	}
	fmt.Fprintf(os.Stderr, "hold %s\n", point)
	select {}
}

// init holds "migrate.tx" inside a goose migration's transaction: when
// goose records the version it applied, before it commits.
func init() {
	if os.Getenv("CHAPTERHOUSE_HOLD") != "migrate.tx" {
		return
	}
	sqlite.RegisterConnectionHook(func(c sqlite.ExecQuerierContext, dsn string) error {
		if h, ok := c.(sqlite.HookRegisterer); ok {
			h.RegisterPreUpdateHook(func(d sqlite.SQLitePreUpdateData) {
				if d.TableName == "goose_db_version" && d.NewRowID > 1 {
					At("migrate.tx")
				}
			})
		}
		return nil
	})
}
