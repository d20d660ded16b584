package site_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
)

// TestContactStoresTrimmedText checks that a message is stored without
// the blanks around each field, and the sender's address as given.
func TestContactStoresTrimmedText(t *testing.T) {
	ts := webtest.New(t)
	v := url.Values{"name": {"  Pat Jones \n"}, "email": {" pat@example.com "}, "subject": {"\tHall "}, "body": {"\n Is it free? \n"}}
	if r := ts.Post(webtest.Host("demo"), "/contact", v); r.Status != 303 {
		t.Fatalf("POST: %d\n%s", r.Status, r.Body)
	}
	ms, err := ts.DB("demo").Messages(context.Background())
	webtest.Must(t, err)
	if m := ms[0]; m.Name != "Pat Jones" || m.Email != "pat@example.com" || m.Subject != "Hall" || m.Body != "Is it free?" {
		t.Errorf("stored %q %q %q %q, want each field trimmed", m.Name, m.Email, m.Subject, m.Body)
	}
}

// TestContactErrorSummary checks the summary above a refused form: one
// line per bad field, in the form's order, each linking to its field,
// worded for one error or for several.
func TestContactErrorSummary(t *testing.T) {
	ts := webtest.New(t)
	r := ts.Post(webtest.Host("demo"), "/contact", url.Values{"body": {" "}, "email": {"nope"}, "name": {""}})
	if r.Status != 422 {
		t.Fatalf("POST: %d", r.Status)
	}
	i := strings.Index(r.Body, `id="error-summary"`)
	if i < 0 {
		t.Fatalf("no error summary:\n%s", r.Body)
	}
	summary := r.Body[i:]
	summary = summary[:strings.Index(summary, "</ul>")]
	if !strings.Contains(summary, "Please correct these before sending") {
		t.Errorf("summary of three errors: %s", summary)
	}
	var order []string
	for _, part := range strings.Split(summary, `<li><a href="#f-`)[1:] {
		order = append(order, part[:strings.Index(part, `"`)])
	}
	if strings.Join(order, ",") != "name,email,body" {
		t.Errorf("summary lists %v, want name,email,body once each, in the form's order", order)
	}
	v := validMessage()
	v.Set("name", "")
	r = ts.Post(webtest.Host("demo"), "/contact", v)
	if r.Status != 422 || !strings.Contains(r.Body, "Please correct this before sending") || strings.Count(r.Body, `<li><a href="#f-`) != 1 {
		t.Errorf("one error: %d, want a summary of one line", r.Status)
	}
}
