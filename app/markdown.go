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

// renderMarkdown renders untrusted markdown to safe HTML. The result
// depends on the text alone, so it is remembered by text (markdownMemo):
// a page rendered without the page cache still skips re-rendering
// the same markdown.
func renderMarkdown(src string) template.HTML {
	if src == "" {
		return ""
	}
	if h, ok := markdownMemo.get(src); ok {
		return template.HTML(h)
	}
	h := convertMarkdown(src)
	markdownMemo.put(src, string(h))
	return h
}

func convertMarkdown(src string) template.HTML {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if err := md.Convert([]byte(src), buf); err != nil {
		return template.HTML(template.HTMLEscapeString(src))
	}
	return template.HTML(sanitizer.SanitizeBytes(buf.Bytes()))
}

// memo remembers the results of a pure function of a string within a byte
// budget; when full it starts over (simple, and bounded).
type memo struct {
	budget int
	mu     sync.RWMutex
	size   int
	m      map[string]string
	off    bool // for benchmarks that measure the work itself
}

var markdownMemo = &memo{budget: 8 << 20, m: map[string]string{}}

func (m *memo) get(k string) (string, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.off {
		return "", false
	}
	v, ok := m.m[k]
	return v, ok
}

func (m *memo) put(k, v string) {
	n := len(k) + len(v) + 64
	if n > m.budget/16 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.off {
		return
	}
	if m.size+n > m.budget {
		clear(m.m)
		m.size = 0
	}
	if _, ok := m.m[k]; !ok {
		m.m[k] = v
		m.size += n
	}
}

func (m *memo) setOff(off bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.off = off
	clear(m.m)
	m.size = 0
}
