// Package views embeds the html/template files and static assets. Each
// directory is one template set: _layout.html and the other _*.html
// partials are shared by every page file in it.
package views

import "embed"

// FS holds the templates and the static assets.
//
//go:embed all:site all:platform all:admin static
var FS embed.FS
