// Package hold names the dangerous moments of long operations (a file
// written but not yet renamed, a tenant frozen, a catalog switched) so
// that the crash test can kill the server exactly there. At is a no-op in
// every build but the crash test's (go build -tags crashtest), where it
// blocks when CHAPTERHOUSE_HOLD names its point.
package hold

// Points lists every hold point, for the crash test and for go doc: the
// first word is the operation. "migrate.tx" is held inside goose's
// transaction, by a SQLite pre-update hook on its version table.
var Points = []string{
	"move.frozen", "move.exported", "move.imported", "move.committed", "move.thawed",
	"backup.catalog", "backup.tenant", "backup.manifest", "backup.renamed",
	"export.snapshot", "export.synced", "export.renamed",
	"import.prepared", "import.linked", "import.renamed", "import.adopted",
	"restore.checked",
	"migrate.locked", "migrate.tx", "migrate.marker",
	"mail.recorded", "mail.sent",
}
