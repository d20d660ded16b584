// Package migrations embeds the goose SQL migrations of the catalog and of
// every tenant database.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed catalog/*.sql tenant/*.sql
var files embed.FS

// Catalog holds the migrations of DATA/catalog.db.
func Catalog() fs.FS { return sub("catalog") }

// Tenant holds the migrations of every DATA/tenants/<id>.db.
func Tenant() fs.FS { return sub("tenant") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the directory is embedded at compile time
	}
	return f
}
