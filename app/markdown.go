package main

import (
	"bytes"
	"html/template"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// Markdown from tenant admins is rendered with goldmark and then sanitised
// with bluemonday's user-generated-content policy: raw HTML that survives
// rendering loses scripts, event handlers and javascript: URLs (also when
// entity-encoded), because bluemonday parses the HTML the way a browser does.
var (
	md = goldmark.New(goldmark.WithExtensions(extension.GFM, extension.Typographer))

	sanitizer = func() *bluemonday.Policy {
		p := bluemonday.UGCPolicy()
		p.RequireNoFollowOnLinks(false)
		p.AddTargetBlankToFullyQualifiedLinks(false)
		p.AllowURLSchemes("http", "https", "mailto", "tel")
		return p
	}()

	bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

// renderMarkdown renders untrusted markdown to safe HTML.
func renderMarkdown(src string) template.HTML {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if err := md.Convert([]byte(src), buf); err != nil {
		return template.HTML(template.HTMLEscapeString(src))
	}
	return template.HTML(sanitizer.SanitizeBytes(buf.Bytes()))
}
