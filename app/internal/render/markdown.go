package render

import (
	"bytes"
	"html"
	"html/template"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

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

	stripTags = bluemonday.StrictPolicy()

	bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

// Markdown renders untrusted markdown to safe HTML and to plain-text
// summaries. Both depend on the text alone, so they are remembered by text
// within a memory budget: a page rendered without the page cache still
// skips re-rendering the same markdown.
type Markdown struct {
	html, text *memo
}

// NewMarkdown remembers up to memoBytes of results (0: none; every call
// converts and sanitises).
func NewMarkdown(memoBytes int) *Markdown {
	return &Markdown{
		html: newMemo(memoBytes * 4 / 5),
		text: newMemo(memoBytes / 5),
	}
}

// HTML renders src to sanitised HTML.
func (m *Markdown) HTML(src string) template.HTML {
	if src == "" {
		return ""
	}
	if h, ok := m.html.get(src); ok {
		return template.HTML(h)
	}
	h := convert(src)
	m.html.put(src, string(h))
	return h
}

func convert(src string) template.HTML {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if err := md.Convert([]byte(src), buf); err != nil {
		return template.HTML(template.HTMLEscapeString(src))
	}
	return template.HTML(sanitizer.SanitizeBytes(buf.Bytes()))
}

// Summary is markdown as a plain-text summary of at most n characters,
// for description and Open Graph tags and news lists.
func (m *Markdown) Summary(markdown string, n int) string {
	key := strconv.Itoa(n) + "\x00" + markdown
	if v, ok := m.text.get(key); ok {
		return v
	}
	v := m.summarize(markdown, n)
	m.text.put(key, v)
	return v
}

func (m *Markdown) summarize(markdown string, n int) string {
	text := html.UnescapeString(stripTags.Sanitize(string(m.HTML(markdown))))
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	r := []rune(text)[:n]
	cut := string(r)
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,.;:") + "…"
}

// memo remembers the results of a pure function of a string within a byte
// budget; when full it starts over (simple, and bounded). A zero budget
// remembers nothing.
type memo struct {
	budget int
	mu     sync.RWMutex
	size   int
	m      map[string]string
}

func newMemo(budget int) *memo {
	return &memo{budget: budget, m: map[string]string{}}
}

func (m *memo) get(k string) (string, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
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
	if m.size+n > m.budget {
		clear(m.m)
		m.size = 0
	}
	if _, ok := m.m[k]; !ok {
		m.m[k] = v
		m.size += n
	}
}
