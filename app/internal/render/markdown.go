package render

import (
	"bytes"
	"context"
	"crypto/sha256"
	"html"
	"html/template"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/chapterhouse/chapterhouse/tenantdb"
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
//
// Rendering has a budget: markdown that fails tenantdb.CheckMarkdown (too
// long, or shaped to cost more than its length, such as 50,000 nested list
// markers) is not parsed at all but shown as escaped plain-text paragraphs,
// and logged. Saves refuse such text, so only text stored before the
// limits, or written into the file by other means, takes that path.
type Markdown struct {
	html, text *memo
	log        *slog.Logger
	observe    func(ctx context.Context)

	mu     sync.Mutex
	logged map[[sha256.Size]byte]bool // texts over budget already logged
}

// NewMarkdown remembers up to memoBytes of results (0: none; every call
// converts and sanitises) and logs texts over the budget to log.
func NewMarkdown(memoBytes int, log *slog.Logger) *Markdown {
	if log == nil {
		log = slog.Default()
	}
	return &Markdown{
		html:   newMemo(memoBytes * 4 / 5),
		text:   newMemo(memoBytes / 5),
		log:    log,
		logged: map[[sha256.Size]byte]bool{},
	}
}

// Observe makes f run after every conversion (not after a memo hit), with
// the context of the call that asked for it: tests count conversions with
// it, and act between them. Call it before m is used.
func (m *Markdown) Observe(f func(ctx context.Context)) { m.observe = f }

// HTML renders src to sanitised HTML.
func (m *Markdown) HTML(src string) template.HTML {
	h, _ := m.HTMLContext(context.Background(), src)
	return h
}

// HTMLContext is HTML for a caller that renders many texts for one
// request: once ctx is done it converts nothing and returns ctx's error.
func (m *Markdown) HTMLContext(ctx context.Context, src string) (template.HTML, error) {
	if src == "" {
		return "", nil
	}
	key := sha256.Sum256([]byte(src))
	if h, ok := m.html.get(key); ok {
		return template.HTML(h), nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	h := m.convert(key, src)
	m.html.put(key, string(h))
	if m.observe != nil {
		m.observe(ctx)
	}
	return h, nil
}

// convert renders src, or, if it is over the budget, shows it as text.
func (m *Markdown) convert(key [sha256.Size]byte, src string) template.HTML {
	if err := tenantdb.CheckMarkdown("markdown", src, tenantdb.MaxMarkdownChars); err != nil {
		m.logOnce(key, err, len(src))
		return plainText(src)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if err := md.Convert([]byte(src), buf); err != nil {
		return plainText(src)
	}
	return template.HTML(sanitizer.SanitizeBytes(buf.Bytes()))
}

// logOnce logs a text over the budget the first time it is seen (the
// memory of texts seen is bounded, so one may be logged again later).
func (m *Markdown) logOnce(key [sha256.Size]byte, err error, size int) {
	m.mu.Lock()
	seen := m.logged[key]
	if !seen {
		if len(m.logged) >= 1000 {
			clear(m.logged)
		}
		m.logged[key] = true
	}
	m.mu.Unlock()
	if !seen {
		m.log.Warn("markdown over the render budget is shown as plain text", "bytes", size, "reason", err)
	}
}

// plainText shows src as escaped paragraphs (split at blank lines), cut
// at tenantdb.MaxMarkdownChars characters: linear in its length, and
// nothing in it is markup.
func plainText(src string) template.HTML {
	cut := false
	if utf8.RuneCountInString(src) > tenantdb.MaxMarkdownChars {
		src, cut = string([]rune(src)[:tenantdb.MaxMarkdownChars]), true
	}
	var b strings.Builder
	for para := range strings.SplitSeq(strings.ReplaceAll(src, "\r\n", "\n"), "\n\n") {
		if para = strings.TrimSpace(para); para != "" {
			b.WriteString("<p>")
			b.WriteString(template.HTMLEscapeString(para))
			b.WriteString("</p>\n")
		}
	}
	if cut {
		b.WriteString("<p>…</p>\n")
	}
	return template.HTML(b.String())
}

// Summary is markdown as a plain-text summary of at most n characters,
// for description and Open Graph tags and news lists.
func (m *Markdown) Summary(markdown string, n int) string {
	s, _ := m.SummaryContext(context.Background(), markdown, n)
	return s
}

// SummaryContext is Summary for a caller that renders many texts for one
// request: once ctx is done it converts nothing and returns ctx's error.
func (m *Markdown) SummaryContext(ctx context.Context, markdown string, n int) (string, error) {
	key := sha256.Sum256([]byte(strconv.Itoa(n) + "\x00" + markdown))
	if v, ok := m.text.get(key); ok {
		return v, nil
	}
	h, err := m.HTMLContext(ctx, markdown)
	if err != nil {
		return "", err
	}
	v := summarize(h, n)
	m.text.put(key, v)
	return v, nil
}

func summarize(h template.HTML, n int) string {
	text := html.UnescapeString(stripTags.Sanitize(string(h)))
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

// memo remembers the results of a pure function of a string, by the
// string's SHA-256, within a byte budget, in two generations: puts go to
// the current one, which becomes the old one when it holds half the
// budget (the old one is dropped then), and a hit in the old one moves
// the entry to the current one. So whatever is used again within half the
// budget stays, unlike a memo that starts over when full, and any result
// up to a quarter of the budget is kept: at the markdown limits the
// largest HTML is under a megabyte. A zero budget remembers nothing.
type memo struct {
	budget   int
	mu       sync.Mutex
	size     int // bytes in cur
	cur, old map[[sha256.Size]byte]string
}

func newMemo(budget int) *memo {
	return &memo{budget: budget, cur: map[[sha256.Size]byte]string{}}
}

// entryOverhead is what an entry costs beyond its value: the key and the
// map's own share, roughly.
const entryOverhead = sha256.Size + 64

func (m *memo) get(k [sha256.Size]byte) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.cur[k]; ok {
		return v, true
	}
	v, ok := m.old[k]
	if ok {
		delete(m.old, k)
		m.add(k, v)
	}
	return v, ok
}

func (m *memo) put(k [sha256.Size]byte, v string) {
	if len(v)+entryOverhead > m.budget/4 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cur[k]; !ok {
		m.add(k, v)
	}
}

// add puts k in the current generation, starting a new one first if it
// would not fit. m.mu is held.
func (m *memo) add(k [sha256.Size]byte, v string) {
	n := len(v) + entryOverhead
	if m.size+n > m.budget/2 {
		m.old, m.cur, m.size = m.cur, map[[sha256.Size]byte]string{}, 0
	}
	m.cur[k] = v
	m.size += n
}
