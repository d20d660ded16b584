package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// chapter is a chapter of a test server as an API client sees it: made
// new, with its owner's token.
type chapter struct {
	t     *testing.T
	ls    *webtest.Server
	c     *http.Client
	slug  string
	email string // the owner's
	tok   string // the owner's
}

// newChapter adds chapter slug to ls and signs its owner in.
func newChapter(t *testing.T, ls *webtest.Server, slug string) *chapter {
	t.Helper()
	email, password := ls.NewTenant(t, slug)
	return &chapter{t: t, ls: ls, c: ls.Browser(), slug: slug, email: email, tok: ls.Login(t, slug, email, password)}
}

// api sends a request to the chapter's path with the owner's token.
func (ch *chapter) api(method, path string, body any) webtest.APIResult {
	ch.t.Helper()
	return ch.apiAs(ch.tok, method, path, body)
}

// apiAs sends a request to the chapter's path with token tok ("": none).
func (ch *chapter) apiAs(tok, method, path string, body any) webtest.APIResult {
	ch.t.Helper()
	var h []string
	if tok != "" {
		h = webtest.Bearer(tok)
	}
	return ch.ls.Call(ch.t, ch.c, method, ch.ls.SiteURL(ch.slug, path), body, h...)
}

// upload posts a file as multipart (field "file") with the owner's token.
func (ch *chapter) upload(path, name string, data []byte, fields map[string]string) webtest.APIResult {
	ch.t.Helper()
	return ch.ls.Upload(ch.t, ch.c, ch.slug, path, name, data, fields, webtest.Bearer(ch.tok)...)
}

// digest is the sum of every row of the chapter: equal before and after
// a request means the request changed nothing.
func (ch *chapter) digest() string {
	ch.t.Helper()
	tn, ok := ch.ls.Platform.Catalog.TenantBySlug(ch.slug)
	if !ok {
		ch.t.Fatalf("no chapter %q", ch.slug)
	}
	d, err := ch.ls.Platform.Digest(context.Background(), tn)
	webtest.Must(ch.t, err)
	return d.Sum()
}

// refusal is a request the API must refuse: its status, the field it
// names ("" for none), and no change to the chapter's rows.
type refusal struct {
	name   string
	do     func() webtest.APIResult
	status int
	field  string
}

// refuses is the refusal of one request to ch with token tok.
func (ch *chapter) refuses(name, tok, method, path string, body any, status int, field string) refusal {
	return refusal{name, func() webtest.APIResult { return ch.apiAs(tok, method, path, body) }, status, field}
}

// checkRefusals runs each refusal as a subtest against ch's digest.
func checkRefusals(t *testing.T, ch *chapter, cases []refusal) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ch.digest()
			r := tc.do()
			msg, field := r.ErrField(t)
			if r.Status != tc.status || field != tc.field || msg == "" {
				t.Errorf("%d %.300s, want %d naming field %q", r.Status, r.Body, tc.status, tc.field)
			}
			if ch.digest() != before {
				t.Error("refused, but the chapter's rows changed")
			}
		})
	}
}
