package main

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// renderer holds every page template, parsed once at start. A page is
// named by its file, "site/home.html", and executes its set's layout.
type renderer struct {
	pages map[string]*template.Template
}

func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"markdown": renderMarkdown,
		"css": func(s string) template.CSS {
			// Only a validated #rrggbb reaches here; anything else falls back.
			if len(s) == 7 && s[0] == '#' && strings.Trim(s[1:], "0123456789abcdefABCDEF") == "" {
				return template.CSS(s)
			}
			return template.CSS("#1f4e79")
		},
		"date": func(t any) string {
			switch t := t.(type) {
			case time.Time:
				return t.Format("January 2, 2006")
			case *time.Time:
				if t != nil {
					return t.Format("January 2, 2006")
				}
			}
			return ""
		},
		"isodate": func(t any) string {
			switch t := t.(type) {
			case time.Time:
				return t.Format(time.RFC3339)
			case *time.Time:
				if t != nil {
					return t.Format(time.RFC3339)
				}
			}
			return ""
		},
		"datetime":     func(t time.Time) string { return t.Format("Mon, Jan 2, 2006 · 3:04 PM") },
		"clock":        func(t time.Time) string { return t.Format("3:04 PM") },
		"add":          func(a, b int) int { return a + b },
		"themeVersion": func(accent string) string { return strings.TrimPrefix(safeColor(accent), "#") },
		"tel":          telURL,
		"mapurl":       mapURL,
		"summary":      plainText,
		"initials":     initials,
		"sub":          func(a, b int) int { return a - b },
	}
}

// newRenderer parses the template sets of fsys: in each directory, the
// _*.html files are shared and every other file is a page.
func newRenderer(fsys fs.FS, funcs template.FuncMap) (*renderer, error) {
	r := &renderer{pages: map[string]*template.Template{}}
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
		base, err := template.New("").Funcs(funcs).ParseFS(fsys, shared...)
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

// render executes page name into a buffer, so that a template error never
// leaves half a page on the wire.
func (r *renderer) render(w io.Writer, name string, data any) error {
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

// Render implements echo.Renderer.
func (r *renderer) Render(w io.Writer, name string, data any, _ echo.Context) error {
	return r.render(w, name, data)
}
