// Package render turns chapter content into HTML: the page templates,
// parsed once at start, and untrusted markdown, converted and sanitised.
package render

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// Renderer holds every page template, parsed once at start. A page is
// named by its file, "site/home.html", and executes its set's layout.
type Renderer struct {
	pages map[string]*template.Template
}

// Funcs are the template functions every page may use; md renders their
// markdown.
func Funcs(md *Markdown) template.FuncMap {
	date := func(layout string) func(any) string {
		return func(t any) string {
			switch t := t.(type) {
			case time.Time:
				return t.Format(layout)
			case *time.Time:
				if t != nil {
					return t.Format(layout)
				}
			}
			return ""
		}
	}
	return template.FuncMap{
		"markdown": md.HTML,
		"summary":  md.Summary,
		// Only a validated #rrggbb reaches a stylesheet.
		"css":      func(s string) template.CSS { return template.CSS(SafeColor(s)) },
		"date":     date("January 2, 2006"),
		"isodate":  date(time.RFC3339),
		"datetime": func(t time.Time) string { return t.Format("Mon, Jan 2, 2006 · 3:04 PM") },
		"clock":    func(t time.Time) string { return t.Format("3:04 PM") },
		"mailto":   MailtoURL,
		"srcset":   Srcset,
		// ext is a document's kind as a reader knows it: "PDF", "DOCX".
		"ext":      func(d tenantdb.Document) string { return strings.ToUpper(strings.TrimPrefix(d.Ext(), ".")) },
		"filesize": FileSize,
		"sized":    Sized,
		"add":      func(a, b int) int { return a + b },
		"sub":      func(a, b int) int { return a - b },
	}
}

// MailtoURL is the mailto: link to address with an optional subject
// (RFC 6068): every character of the address and subject that means
// something in a URL is percent-encoded, so that an address such as
// "a?bcc=x&body=y@example.org" (legal in RFC 5322) stays one recipient
// and adds no header fields. The '@' stays as it is, for mail clients
// that do not decode it.
func MailtoURL(address, subject string) template.URL {
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	u := "mailto:" + esc(address)
	if at := strings.LastIndexByte(address, '@'); at >= 0 {
		u = "mailto:" + esc(address[:at]) + "@" + esc(address[at+1:])
	}
	if subject != "" {
		u += "?subject=" + esc(subject)
	}
	return template.URL(u)
}

// SafeColor is s as a lower-case #rrggbb colour, or the default accent for
// anything that is not one.
func SafeColor(s string) string {
	if len(s) == 7 && s[0] == '#' && strings.Trim(s[1:], "0123456789abcdefABCDEF") == "" {
		return strings.ToLower(s)
	}
	return tenantdb.DefaultAccent
}

// New parses the template sets of fsys: in each directory (but static/),
// the _*.html files are shared and every other file is a page. Every set
// gets the functions of all funcs.
func New(fsys fs.FS, funcs ...template.FuncMap) (*Renderer, error) {
	all := template.FuncMap{}
	for _, f := range funcs {
		maps.Copy(all, f)
	}
	r := &Renderer{pages: map[string]*template.Template{}}
	dirs, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "static" {
			continue
		}
		shared, err := fs.Glob(fsys, d.Name()+"/_*.html")
		if err != nil {
			return nil, err
		}
		base, err := template.New("").Funcs(all).ParseFS(fsys, shared...)
		if err != nil {
			return nil, err
		}
		files, err := fs.Glob(fsys, d.Name()+"/*.html")
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if strings.HasPrefix(path.Base(f), "_") {
				continue
			}
			t, err := template.Must(base.Clone()).ParseFS(fsys, f)
			if err != nil {
				return nil, err
			}
			r.pages[f] = t
		}
	}
	return r, nil
}

// Execute renders page name into a buffer first, so that a template error
// never leaves half a page on the wire.
func (r *Renderer) Execute(w io.Writer, name string, data any) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("no template %q", name)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	entry := "layout"
	if t.Lookup(entry) == nil {
		entry = path.Base(name)
	}
	if err := t.ExecuteTemplate(buf, entry, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// Fragment runs the template entry defined in page name's set (say the
// "siteheader" of any site page) alone and returns what it wrote, to be
// kept and placed by a later Execute as it is. entry must begin and end in
// HTML text, as a header or a footer does, so that the escaping it got
// alone is the escaping it would get in place.
func (r *Renderer) Fragment(name, entry string, data any) (template.HTML, error) {
	t, ok := r.pages[name]
	if !ok {
		return "", fmt.Errorf("no template %q", name)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, entry, data); err != nil {
		return "", fmt.Errorf("render %s of %s: %w", entry, name, err)
	}
	return template.HTML(b.String()), nil // #nosec G203 -- html/template's own output
}

// Srcset is the srcset attribute of image m: its smaller copies
// (tenantdb.SizesOf its width) and the original, by width, so that a
// browser fetches the smallest that fills the space at its density; ""
// for an image with no copies.
func Srcset(m tenantdb.Media) string {
	sizes := tenantdb.SizesOf(m.Width)
	if len(sizes) == 0 {
		return "" // no copies: a srcset of the original alone would only blur its natural size
	}
	var b strings.Builder
	for _, s := range sizes {
		fmt.Fprintf(&b, "/media/%s/%s %dw, ", m.ID, s.Name, s.Width)
	}
	fmt.Fprintf(&b, "/media/%s %dw", m.ID, m.Width)
	return b.String()
}

// Sized is the address of image m in size name ("small", "medium",
// "large"), or of the original when it is not wider than that size.
func Sized(m tenantdb.Media, name string) string {
	for _, s := range tenantdb.SizesOf(m.Width) {
		if s.Name == name {
			return "/media/" + m.ID + "/" + name
		}
	}
	return "/media/" + m.ID
}

// FileSize is n bytes as a reader reads a download's size: "820 KB",
// "2.4 MB" (decimal units, as the quota's).
func FileSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d bytes", n)
	case n < 1_000_000:
		return fmt.Sprintf("%d KB", (n+500)/1000)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
