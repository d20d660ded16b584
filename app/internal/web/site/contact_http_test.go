package site_test

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/site"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

func messageCount(t *testing.T, ts *webtest.Server, slug string) int {
	t.Helper()
	ms, err := ts.DB(slug).Messages(context.Background())
	webtest.Must(t, err)
	return len(ms)
}

func validMessage() url.Values {
	return url.Values{"name": {"Pat Jones"}, "email": {"pat@example.com"}, "subject": {"Hall rental"},
		"body": {"Is the hall free on June 6?"}, "website": {""}}
}

func TestContactFormStoresOnce(t *testing.T) {
	ts := webtest.New(t)
	before := messageCount(t, ts, "demo")
	r := ts.Post(webtest.Host("demo"), "/contact", validMessage(), "X-Forwarded-For: 203.0.113.9")
	if r.Status != 303 || r.Header.Get("Location") != "/contact/thanks" {
		t.Fatalf("POST: %d to %q, want 303 to /contact/thanks\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	if got := ts.Get(webtest.Host("demo"), "/contact/thanks"); got.Status != 200 || !strings.Contains(got.Body, "Your message has been sent") {
		t.Errorf("thanks page: %d", got.Status)
	}
	ms, err := ts.DB("demo").Messages(context.Background())
	webtest.Must(t, err)
	if len(ms) != before+1 {
		t.Fatalf("%d messages, want %d: stored exactly once", len(ms), before+1)
	}
	m := ms[0]
	if m.Name != "Pat Jones" || m.Email != "pat@example.com" || m.Subject != "Hall rental" || m.Body != "Is the hall free on June 6?" {
		t.Errorf("stored %+v", m)
	}
	if m.IP != "127.0.0.1" {
		t.Errorf("stored IP %q, want the peer 127.0.0.1 (X-Forwarded-For is not believed without --trusted-proxy)", m.IP)
	}
}

func TestContactFormRejectsBadInput(t *testing.T) {
	// Each case comes from its own client address (through a trusted
	// proxy), so that the rate limit does not end the table early.
	ts := webtest.New(t, func(c *web.Config) {
		c.TrustedProxies = []*net.IPNet{{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(32, 32)}}
	})
	long := strings.Repeat("word ", 1001) // 5005 characters
	tests := []struct {
		name   string
		change func(url.Values)
		status int
		want   []string // messages shown, and the visitor's text kept
	}{
		{"empty", func(v url.Values) { v.Set("name", ""); v.Set("email", ""); v.Set("body", "  ") }, 422,
			[]string{"Your name is required.", "Your email is required.", "Message is required.", `aria-invalid="true"`, `href="#f-name"`}},
		{"body too long", func(v url.Values) { v.Set("body", long) }, 422,
			[]string{"Message must be at most 5000 characters.", html.EscapeString(strings.TrimSpace(long)), `value="Pat Jones"`}},
		{"name too long", func(v url.Values) { v.Set("name", strings.Repeat("n", 101)) }, 422,
			[]string{"Your name must be at most 100 characters."}},
		{"subject too long", func(v url.Values) { v.Set("subject", strings.Repeat("s", 201)) }, 422,
			[]string{"Subject must be at most 200 characters."}},
		{"bad email", func(v url.Values) { v.Set("email", "not-an-address") }, 422,
			[]string{"Your email does not look like an email address", `value="not-an-address"`, "Is the hall free on June 6?"}},
		{"markup is kept as text", func(v url.Values) { v.Set("email", "x"); v.Set("body", `<script>alert(1)</script>`) }, 422,
			[]string{"&lt;script&gt;alert(1)&lt;/script&gt;"}},
		{"honeypot", func(v url.Values) { v.Set("website", "http://spam.example") }, 303, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := messageCount(t, ts, "demo")
			v := validMessage()
			tc.change(v)
			r := ts.Post(webtest.Host("demo"), "/contact", v, fmt.Sprintf("X-Forwarded-For: 198.51.100.%d", i+1))
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d\n%s", r.Status, tc.status, r.Body)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Body, w) {
					t.Errorf("webtest.Response lacks %q", w)
				}
			}
			if strings.Contains(r.Body, "<script>alert") {
				t.Errorf("the visitor's markup came back live")
			}
			if tc.status == 303 && r.Header.Get("Location") != "/contact/thanks" {
				t.Errorf("honeypot: redirected to %q, want the thank-you page as if sent", r.Header.Get("Location"))
			}
			if n := messageCount(t, ts, "demo"); n != before {
				t.Errorf("%d messages after, %d before: nothing may be stored", n, before)
			}
		})
	}
}

func TestContactFormRateLimit(t *testing.T) {
	ts := webtest.New(t)
	ts.AddTenant("lakeside", "Lakeside Lodge", nil)
	before := messageCount(t, ts, "demo")
	for i := 0; i < site.ContactBurst; i++ {
		if r := ts.Post(webtest.Host("demo"), "/contact", validMessage()); r.Status != 303 {
			t.Fatalf("message %d: %d, want 303", i+1, r.Status)
		}
	}
	v := validMessage()
	v.Set("body", "one too many")
	// A client-chosen X-Forwarded-For does not reset the limit.
	r := ts.Post(webtest.Host("demo"), "/contact", v, "X-Forwarded-For: 198.51.100.7")
	if r.Status != 429 {
		t.Fatalf("message past the burst: %d, want 429", r.Status)
	}
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > int(site.ContactEvery/time.Second) {
		t.Errorf("Retry-After %q, want 1..%d seconds", r.Header.Get("Retry-After"), int(site.ContactEvery/time.Second))
	}
	if !strings.Contains(r.Body, "Too many messages") || !strings.Contains(r.Body, "one too many") {
		t.Errorf("429 page does not explain or lost the text")
	}
	if n := messageCount(t, ts, "demo"); n != before+site.ContactBurst {
		t.Errorf("%d messages stored, want %d", n-before, site.ContactBurst)
	}
	// The limit is per tenant: the same address may write to another chapter.
	if r := ts.Post(webtest.Host("lakeside"), "/contact", validMessage()); r.Status != 303 {
		t.Errorf("another tenant from the same address: %d, want 303", r.Status)
	}
}

func TestContactOnFrozenTenant(t *testing.T) {
	ts := webtest.New(t)
	ts.Get(webtest.Host("demo"), "/contact") // cached while active
	before := messageCount(t, ts, "demo")
	_, err := ts.Platform.Catalog.SetStatus(context.Background(), "demo", catalog.StatusFrozen)
	webtest.Must(t, err)
	page := ts.Get(webtest.Host("demo"), "/contact")
	if page.Status != 200 || !strings.Contains(page.Body, "Messages cannot be sent right now") || !strings.Contains(page.Body, "disabled") {
		t.Errorf("GET /contact on a frozen tenant: %d, no read-only notice", page.Status)
	}
	v := validMessage()
	v.Set("body", "sent during maintenance")
	r := ts.Post(webtest.Host("demo"), "/contact", v)
	if r.Status != 503 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("POST on a frozen tenant: %d, want 503 with Retry-After", r.Status)
	}
	if !strings.Contains(r.Body, "Messages cannot be sent right now") || !strings.Contains(r.Body, "sent during maintenance") {
		t.Errorf("503 contact page lacks the notice or the visitor's text:\n%s", r.Body)
	}
	if n := messageCount(t, ts, "demo"); n != before {
		t.Errorf("a message was stored on a frozen tenant")
	}
}

// TestContactRefusedWhenMessagesFillTheirShare fills a chapter's inbox to
// a tenth of its quota: a visitor's next message is refused with 507 and a
// page that keeps their text and says why, nothing is stored, and the
// admins still save their content (visitors cannot fill their room).
func TestContactRefusedWhenMessagesFillTheirShare(t *testing.T) {
	ts := webtest.NewEmpty(t)
	ts.NewTenant(t, "inbox")
	db := ts.DB("inbox")
	long := strings.Repeat("Please call me back about the hall. ", 130) // ~4.7 KB
	for i := 0; i < 40; i++ {
		webtest.Must(t, db.AddMessage(context.Background(), &tenantdb.Message{Name: "Sender", Email: "s@example.com", Body: long}))
	}
	sp := ts.Space(t, "inbox")
	ts.SetQuota(t, "inbox", sp.MessageBytes*10) // messages hold exactly their share
	if sp.Used() >= sp.MessageBytes*10 {
		t.Fatalf("the site uses %d bytes, not under the quota of %d: the test would not tell the share from a full site", sp.Used(), sp.MessageBytes*10)
	}
	r := ts.Post(webtest.Host("inbox"), "/contact", validMessage())
	if r.Status != 507 || !strings.Contains(r.Body, "inbox is full") || !strings.Contains(r.Body, "Is the hall free on June 6?") {
		t.Errorf("message to a full inbox: %d, want 507 saying so and keeping the text\n%.2000s", r.Status, r.Body)
	}
	if n := messageCount(t, ts, "inbox"); n != 40 {
		t.Errorf("%d messages stored, want 40", n)
	}
	if err := ts.Platform.CheckRoom(context.Background(), db.DB, 0); err != nil {
		t.Errorf("the admins' saves are refused: %v", err)
	}
}
