package main

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
)

var (
	csrfField  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	loginField = regexp.MustCompile(`name="login_token" value="([^"]+)"`)
)

type page struct {
	status   int
	location string
	body     string
	header   http.Header
	cookies  []*http.Cookie
}

// form sends a form post (or a GET when values is nil) with headers.
func (ls *adminLive) form(t *testing.T, c *http.Client, host, path string, values url.Values, headers ...string) page {
	t.Helper()
	method, body := "GET", io.Reader(nil)
	if values != nil {
		method, body = "POST", strings.NewReader(values.Encode())
	}
	req, err := http.NewRequest(method, "http://"+host+":"+ls.port+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if values != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b), header: resp.Header, cookies: resp.Cookies()}
}

func (ls *adminLive) host(slug string) string { return slug + "." + ls.base }

// dashLogin logs c in through the login form of host and returns the
// CSRF token of the dashboard.
func (ls *adminLive) dashLogin(t *testing.T, c *http.Client, host, email, password string) string {
	t.Helper()
	p := ls.form(t, c, host, "/admin/login", nil)
	m := loginField.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		t.Fatalf("login page: %d %s", p.status, p.body)
	}
	p = ls.form(t, c, host, "/admin/login", url.Values{"email": {email}, "password": {password}, "login_token": {m[1]}, "next": {"/admin"}})
	if p.status != http.StatusSeeOther || p.location != "/admin" {
		t.Fatalf("login: %d %q %s", p.status, p.location, p.body)
	}
	return ls.csrf(t, c, host)
}

func (ls *adminLive) csrf(t *testing.T, c *http.Client, host string) string {
	t.Helper()
	p := ls.form(t, c, host, "/admin", nil)
	m := csrfField.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		t.Fatalf("dashboard: %d %.300s", p.status, p.body)
	}
	return m[1]
}

func TestDashboardLogin(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "riverside")
	host := ls.host("riverside")
	c := ls.client()

	if p := ls.form(t, c, host, "/admin/posts?x=1", nil); p.status != http.StatusSeeOther || p.location != "/admin/login?next=%2Fadmin%2Fposts%3Fx%3D1" {
		t.Fatalf("logged out /admin/posts: %d %q", p.status, p.location)
	}
	p := ls.form(t, c, host, "/admin/login", nil)
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("login page headers: CSP %q, Cache-Control %q", csp, p.header.Get("Cache-Control"))
	}
	// login posts the login form from a fresh browser, with the form's
	// token unless values replace it.
	login := func(values url.Values, headers ...string) page {
		c = ls.client()
		token := loginField.FindStringSubmatch(ls.form(t, c, host, "/admin/login", nil).body)[1]
		v := url.Values{"email": {email}, "password": {password}, "login_token": {token}}
		for k, x := range values {
			v[k] = x
		}
		return ls.form(t, c, host, "/admin/login", v, headers...)
	}
	if p := login(url.Values{"login_token": {"forged"}}); p.status != http.StatusForbidden {
		t.Errorf("login without the form's token: %d, want 403", p.status)
	}
	if p := login(nil, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
		t.Errorf("cross-site login post: %d, want 403", p.status)
	}
	if p := login(url.Values{"password": {"wrong password!"}}); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "wrong email or password") {
		t.Errorf("wrong password: %d", p.status)
	}
	for _, next := range []string{"//evil.example/x", "/\\evil.example", "https://evil.example/admin", "javascript:alert(1)", "/admin\\@evil"} {
		p := login(url.Values{"next": {next}})
		if p.status != http.StatusSeeOther || p.location != "/admin" {
			t.Errorf("next=%q: redirected to %q, want /admin", next, p.location)
		}
	}
	p = login(url.Values{"next": {"/admin/events"}})
	if p.location != "/admin/events" {
		t.Errorf("next=/admin/events: redirected to %q", p.location)
	}
	var session *http.Cookie
	for _, ck := range p.cookies {
		if ck.Name == auth.SessionCookie {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Domain != "" || session.Path != "/" || session.Secure {
		t.Fatalf("session cookie over plain HTTP: %+v", session)
	}
	home := ls.form(t, c, host, "/admin", nil)
	if home.status != http.StatusOK || !strings.Contains(home.body, email) || !strings.Contains(home.body, "Dashboard") {
		t.Fatalf("dashboard: %d", home.status)
	}
	// Logging out kills the cookie's token, not only the cookie.
	csrf := csrfField.FindStringSubmatch(home.body)[1]
	if p := ls.form(t, c, host, "/admin/logout", url.Values{"csrf_token": {csrf}}); p.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", p.status)
	}
	other := ls.client()
	if p := ls.form(t, other, host, "/admin", nil, "Cookie", auth.SessionCookie+"="+session.Value); p.status != http.StatusSeeOther {
		t.Errorf("the logged-out cookie: %d, want a redirect to the login", p.status)
	}
}

func TestDashboardCookieOverTLS(t *testing.T) {
	ls := startLive(t, "--trusted-proxy", "127.0.0.1/32")
	email, password := ls.newTenant(t, "secure")
	host := ls.host("secure")
	for _, tc := range []struct {
		name   string
		proto  string
		prefix bool
	}{
		{"plain", "", false},
		{"TLS at the proxy", "https", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ls.client()
			h := []string{}
			if tc.proto != "" {
				h = []string{"X-Forwarded-Proto", tc.proto}
			}
			p := ls.form(t, c, host, "/admin/login", nil, h...)
			tok := loginField.FindStringSubmatch(p.body)[1]
			req, _ := http.NewRequest("POST", "http://"+host+":"+ls.port+"/admin/login",
				strings.NewReader(url.Values{"email": {email}, "password": {password}, "login_token": {tok}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for _, ck := range p.cookies {
				req.AddCookie(ck)
			}
			if tc.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var got *http.Cookie
			for _, ck := range resp.Cookies() {
				if strings.HasSuffix(ck.Name, auth.SessionCookie) {
					got = ck
				}
			}
			if got == nil {
				t.Fatalf("no session cookie: %d", resp.StatusCode)
			}
			if tc.prefix && (got.Name != auth.HostPrefix+auth.SessionCookie || !got.Secure) || !tc.prefix && (got.Name != auth.SessionCookie || got.Secure) {
				t.Errorf("cookie %q secure=%v", got.Name, got.Secure)
			}
		})
	}
	// From an untrusted peer, X-Forwarded-Proto is not believed.
	ls2 := startLive(t)
	ls2.newTenant(t, "plain")
	p := ls2.form(t, ls2.client(), ls2.host("plain"), "/admin/login", nil, "X-Forwarded-Proto", "https")
	for _, ck := range p.cookies {
		if strings.HasPrefix(ck.Name, auth.HostPrefix) || ck.Secure {
			t.Errorf("an untrusted X-Forwarded-Proto made cookie %q secure", ck.Name)
		}
	}
}

func TestDashboardCSRF(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "riverside")
	ls.newTenant(t, "sibling")
	host := ls.host("riverside")
	c := ls.client()
	csrf := ls.dashLogin(t, c, host, email, password)
	settings := func(name string) url.Values {
		return url.Values{"name": {name}, "accent_color": {"#7a1f1f"}, "timezone": {"America/Chicago"}}
	}
	attacks := []struct {
		name    string
		values  url.Values
		headers []string
	}{
		{"no token", settings("Hacked"), nil},
		{"wrong token", withValue(settings("Hacked"), "csrf_token", "AAAA"), nil},
		{"token of another session", withValue(settings("Hacked"), "csrf_token", s2csrf(t, ls, email, password)), nil},
		{"same-site sibling tenant", withValue(settings("Hacked"), "csrf_token", csrf), []string{"Sec-Fetch-Site", "same-site", "Origin", "http://sibling." + ls.base + ":" + ls.port}},
		{"same-site without origin", withValue(settings("Hacked"), "csrf_token", csrf), []string{"Sec-Fetch-Site", "same-site"}},
		{"cross-site", withValue(settings("Hacked"), "csrf_token", csrf), []string{"Sec-Fetch-Site", "cross-site"}},
		{"sibling origin without fetch metadata", withValue(settings("Hacked"), "csrf_token", csrf), []string{"Origin", "http://sibling." + ls.base + ":" + ls.port}},
		{"null origin", withValue(settings("Hacked"), "csrf_token", csrf), []string{"Origin", "null"}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			p := ls.form(t, c, host, "/admin/site", a.values, a.headers...)
			if p.status != http.StatusForbidden {
				t.Errorf("got %d, want 403", p.status)
			}
		})
	}
	if body := ls.get(t, "riverside", "/"); strings.Contains(body, "Hacked") {
		t.Fatal("a forged form changed the site")
	}
	// Every other state-changing form is guarded the same way.
	for _, path := range []string{"/admin/posts/new", "/admin/events/new", "/admin/officers/new", "/admin/pages/new",
		"/admin/media", "/admin/messages/1/delete", "/admin/admins", "/admin/password", "/admin/logout"} {
		if p := ls.form(t, c, host, path, url.Values{"title": {"x"}}); p.status != http.StatusForbidden {
			t.Errorf("POST %s without a token: %d, want 403", path, p.status)
		}
	}
	// The real form, from the same origin, works and shows at once.
	p := ls.form(t, c, host, "/admin/site", withValue(settings("Riverside Post 42"), "csrf_token", csrf),
		"Sec-Fetch-Site", "same-origin", "Origin", "http://"+host+":"+ls.port)
	if p.status != http.StatusSeeOther {
		t.Fatalf("the real form: %d %.500s", p.status, p.body)
	}
	if body := ls.get(t, "riverside", "/"); !strings.Contains(body, "Riverside Post 42") {
		t.Error("the saved name is not on the public site")
	}
}

func withValue(v url.Values, k, x string) url.Values {
	v.Set(k, x)
	return v
}

// s2csrf is the CSRF token of a second session of the same admin.
func s2csrf(t *testing.T, ls *adminLive, email, password string) string {
	return ls.dashLogin(t, ls.client(), ls.host("riverside"), email, password)
}

func TestDashboardCrossTenant(t *testing.T) {
	ls := startLive(t)
	aEmail, aPassword := ls.newTenant(t, "alpha")
	ls.newTenant(t, "beta")
	c := ls.client()
	csrf := ls.dashLogin(t, c, ls.host("alpha"), aEmail, aPassword)
	var cookie string
	u, _ := url.Parse("http://" + ls.host("alpha") + ":" + ls.port)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == auth.SessionCookie {
			cookie = ck.Value
		}
	}
	other := ls.client()
	for _, path := range []string{"/admin", "/admin/site", "/admin/posts", "/admin/messages", "/admin/admins"} {
		if p := ls.form(t, other, ls.host("beta"), path, nil, "Cookie", auth.SessionCookie+"="+cookie); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/admin/login") {
			t.Errorf("A's cookie on B's %s: %d %q, want a redirect to the login", path, p.status, p.location)
		}
	}
	p := ls.form(t, other, ls.host("beta"), "/admin/site", url.Values{"name": {"Pwned"}, "csrf_token": {csrf}, "accent_color": {"#000000"}, "timezone": {"UTC"}},
		"Cookie", auth.SessionCookie+"="+cookie)
	if p.status == http.StatusOK || p.status == http.StatusSeeOther && !strings.HasPrefix(p.location, "/admin/login") {
		t.Errorf("A's cookie posting to B: %d %q", p.status, p.location)
	}
	if body := ls.get(t, "beta", "/"); strings.Contains(body, "Pwned") {
		t.Error("A's cookie changed B")
	}

	// Every dashboard route of B, with A's cookie and A's CSRF token: a
	// login page or a redirect to it, never B's data or a change.
	for _, rt := range dashboardRoutes(t) {
		path := strings.ReplaceAll(rt.path, ":id", "1")
		values := url.Values(nil)
		if rt.method == "POST" {
			values = url.Values{"csrf_token": {csrf}, "title": {"Pwned"}, "name": {"Pwned"}, "email": {aEmail}, "password": {aPassword},
				"login_token": {"x"}, "accent_color": {"#000000"}, "timezone": {"UTC"}}
		}
		p := ls.form(t, other, ls.host("beta"), path, values, "Cookie", auth.SessionCookie+"="+cookie)
		switch {
		case rt.path == "/admin/login" && rt.method == "GET":
			if p.status != http.StatusOK || strings.Contains(p.body, `action="/admin/logout"`) {
				t.Errorf("GET /admin/login on B with A's cookie: %d", p.status)
			}
		case rt.path == "/admin/login":
			if p.status != http.StatusForbidden && p.status != http.StatusUnauthorized {
				t.Errorf("POST /admin/login on B with A's credentials: %d", p.status)
			}
		case rt.path == "/admin/":
		default:
			if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/admin/login") {
				t.Errorf("%s %s on B with A's cookie: %d %q, want a redirect to the login", rt.method, rt.path, p.status, p.location)
			}
		}
	}
	if body := ls.get(t, "beta", "/news"); strings.Contains(body, "Pwned") {
		t.Error("A's cookie created content on B")
	}
}

// dashboardRoutes lists the /admin routes of a server.
func dashboardRoutes(t *testing.T) []route {
	var out []route
	for _, r := range serverRoutes(t) {
		if r.path == "/admin" || strings.HasPrefix(r.path, "/admin/") {
			out = append(out, r)
		}
	}
	if len(out) < 30 {
		t.Fatalf("only %d dashboard routes found", len(out))
	}
	return out
}

func TestDashboardEditing(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "lodge")
	host := ls.host("lodge")
	c := ls.client()
	csrf := ls.dashLogin(t, c, host, email, password)
	post := func(path string, v url.Values) page {
		v.Set("csrf_token", csrf)
		return ls.form(t, c, host, path, v)
	}

	// Preview renders markdown and saves nothing.
	p := post("/admin/posts/new", url.Values{"title": {"Fish fry"}, "body": {"**All welcome** <script>alert(1)</script>"}, "published": {"on"}, "action": {"preview"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "<strong>All welcome</strong>") || strings.Contains(p.body, "<script>alert") {
		t.Fatalf("preview: %d", p.status)
	}
	if body := ls.get(t, "lodge", "/news"); strings.Contains(body, "Fish fry") {
		t.Fatal("a preview was published")
	}
	// A refused form keeps what was typed and says why.
	p = post("/admin/posts/new", url.Values{"title": {""}, "body": {"Keep this text"}, "action": {"save"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Keep this text") || !strings.Contains(p.body, "Title: is required") {
		t.Fatalf("refused post: %d", p.status)
	}
	p = post("/admin/posts/new", url.Values{"title": {"Fish fry"}, "body": {"**All welcome**"}, "published": {"on"}, "action": {"save"}})
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, "done=saved") {
		t.Fatalf("save post: %d %q", p.status, p.location)
	}
	if body := ls.get(t, "lodge", "/news/fish-fry"); !strings.Contains(body, "<strong>All welcome</strong>") {
		t.Error("the saved post is not on the public site")
	}
	if p := ls.form(t, c, host, p.location, nil); !strings.Contains(p.body, "Saved.") {
		t.Error("no confirmation after saving")
	}

	// An event repeating on the 2nd Tuesday of the month.
	p = post("/admin/events/new", url.Values{"title": {"Membership meeting"}, "starts_at": {"2030-06-11T19:00"}, "ends_at": {"2030-06-11T20:30"},
		"timezone": {"America/Chicago"}, "repeat": {"monthly-nth"}, "location": {"The hall"}, "action": {"save"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("save event: %d %.400s", p.status, p.body)
	}
	edit := ls.form(t, c, host, strings.Split(p.location, "?")[0], nil)
	if !strings.Contains(edit.body, `value="monthly-nth" selected`) || !strings.Contains(edit.body, "second Tuesday") || !strings.Contains(edit.body, `value="2030-06-11T19:00"`) {
		t.Errorf("the event form does not show the 2nd-Tuesday rule and the local time")
	}
	p = post("/admin/events/new", url.Values{"title": {"Bad"}, "starts_at": {"2030-06-11T19:00"}, "ends_at": {"2030-06-11T20:30"},
		"timezone": {"America/Chicago"}, "repeat": {"custom"}, "rrule": {"FREQ=HOURLY"}, "action": {"save"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Errorf("a bad custom rule: %d, want 422", p.status)
	}
	apiTok := ls.login(t, "lodge", email, password)
	for _, tc := range []struct {
		start, choice, rule string
	}{
		{"2030-06-11T19:00", "weekly", "FREQ=WEEKLY"},
		{"2030-06-11T19:00", "biweekly", "FREQ=WEEKLY;INTERVAL=2"},
		{"2030-06-11T19:00", "monthly-nth", "FREQ=MONTHLY;BYDAY=2TU"},
		{"2030-06-25T19:00", "monthly-last", "FREQ=MONTHLY;BYDAY=-1TU"},
		{"2030-06-25T19:00", "monthly-day", "FREQ=MONTHLY"},
		{"2030-06-25T19:00", "yearly", "FREQ=YEARLY"},
	} {
		p := post("/admin/events/new", url.Values{"title": {tc.choice}, "starts_at": {tc.start}, "ends_at": {tc.start},
			"timezone": {"America/Chicago"}, "repeat": {tc.choice}, "action": {"save"}})
		if p.status != http.StatusSeeOther {
			t.Errorf("%s: %d", tc.choice, p.status)
			continue
		}
		id := strings.TrimPrefix(strings.Split(p.location, "?")[0], "/admin/events/")
		var ev struct{ RRule string }
		ls.do(t, ls.client(), "GET", ls.url("lodge", "/api/events/"+id), nil, bearer(apiTok)...).json(t, &ev)
		if ev.RRule != tc.rule {
			t.Errorf("%s from %s: rule %q, want %q", tc.choice, tc.start, ev.RRule, tc.rule)
		}
	}

	// Officers and pages.
	if p := post("/admin/officers/new", url.Values{"name": {"Maria Delgado"}, "role": {"Commander"}, "position": {"1"}}); p.status != http.StatusSeeOther {
		t.Errorf("save officer: %d", p.status)
	}
	if p := post("/admin/officers/new", url.Values{"name": {"X"}, "role": {"Y"}, "position": {"first"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("officer with a bad position: %d", p.status)
	}
	if body := ls.get(t, "lodge", "/about"); !strings.Contains(body, "Maria Delgado") {
		t.Error("the officer is not on /about")
	}
	if p := post("/admin/pages/new", url.Values{"title": {"Hall rental"}, "body": {"Seats 150."}, "published": {"on"}, "show_in_nav": {"on"}, "action": {"save"}}); p.status != http.StatusSeeOther {
		t.Errorf("save page: %d", p.status)
	}
	if body := ls.get(t, "lodge", "/p/hall-rental"); !strings.Contains(body, "Seats 150.") {
		t.Error("the page is not at /p/hall-rental")
	}

	// Upload through the form, then use it as the logo.
	r := ls.upload(t, c, host[:strings.Index(host, ".")], "/admin/media", "logo.png", testPNG(32, 32), map[string]string{"csrf_token": csrf, "alt": "Our emblem"})
	if r.status != http.StatusSeeOther {
		t.Fatalf("upload form: %d %s", r.status, r.body)
	}
	lib := ls.form(t, c, host, "/admin/media", nil)
	id := regexp.MustCompile(`/media/([a-z2-7]{20})`).FindStringSubmatch(lib.body)
	if id == nil {
		t.Fatal("the upload is not in the library")
	}
	r = ls.upload(t, c, "lodge", "/admin/media", "page.html", []byte("<html><script>alert(1)</script></html>"), map[string]string{"csrf_token": csrf})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "not a PNG or JPEG") {
		t.Errorf("html through the upload form: %d", r.status)
	}
	p = post("/admin/site", url.Values{"name": {"Lodge 7"}, "accent_color": {"#7a1f1f"}, "timezone": {"America/Chicago"}, "logo_id": {id[1]},
		"social_links": {"Facebook | https://facebook.com/lodge7\nhttps://www.instagram.com/lodge7"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("save settings: %d %.500s", p.status, p.body)
	}
	home := ls.get(t, "lodge", "/")
	if !strings.Contains(home, "/media/"+id[1]) || !strings.Contains(home, "Lodge 7") {
		t.Error("the logo or name is not on the public site")
	}
	if p := post("/admin/site", url.Values{"name": {"Lodge 7"}, "accent_color": {"#7a1f1f"}, "timezone": {"America/Chicago"}, "social_links": {"Facebook | javascript:alert(1)"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("a javascript: social link: %d, want 422", p.status)
	}

	// Messages: read marks read, delete deletes.
	form := url.Values{"name": {"Karen"}, "email": {"karen@example.com"}, "subject": {"Hall in October"}, "body": {"Is it free?"}}
	resp, err := ls.client().PostForm(ls.url("lodge", "/contact"), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	inbox := ls.form(t, c, host, "/admin/messages", nil)
	mid := regexp.MustCompile(`/admin/messages/(\d+)`).FindStringSubmatch(inbox.body)
	if mid == nil || !strings.Contains(inbox.body, `class="unread"`) {
		t.Fatalf("the inbox does not show the new message as unread")
	}
	if msg := ls.form(t, c, host, "/admin/messages/"+mid[1], nil); !strings.Contains(msg.body, "Is it free?") {
		t.Error("the message page does not show the text")
	}
	if inbox := ls.form(t, c, host, "/admin/messages", nil); strings.Contains(inbox.body, `class="unread"`) {
		t.Error("reading a message did not mark it read")
	}
	if p := post("/admin/messages/"+mid[1]+"/delete", url.Values{}); p.status != http.StatusSeeOther {
		t.Errorf("delete message: %d", p.status)
	}
	if p := ls.form(t, c, host, "/admin/messages/"+mid[1], nil); p.status != http.StatusNotFound {
		t.Errorf("a deleted message: %d, want 404", p.status)
	}
}

func TestDashboardAdminsAndPassword(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "troop")
	host := ls.host("troop")
	c := ls.client()
	csrf := ls.dashLogin(t, c, host, email, password)

	p := ls.form(t, c, host, "/admin/admins", url.Values{"csrf_token": {csrf}, "email": {"ed@troop.example.org"}, "role": {"editor"}})
	m := regexp.MustCompile(`<code class="secret">([^<]+)</code>`).FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		t.Fatalf("add admin: %d", p.status)
	}
	ed := ls.client()
	edCSRF := ls.dashLogin(t, ed, host, "ed@troop.example.org", m[1])
	if p := ls.form(t, ed, host, "/admin/admins", nil); p.status != http.StatusForbidden {
		t.Errorf("an editor on /admin/admins: %d, want 403", p.status)
	}
	if p := ls.form(t, ed, host, "/admin", nil); strings.Contains(p.body, `href="/admin/admins"`) {
		t.Error("an editor's menu shows Admins")
	}
	if p := ls.form(t, ed, host, "/admin/admins", url.Values{"csrf_token": {edCSRF}, "email": {"evil@troop.example.org"}}); p.status != http.StatusForbidden {
		t.Errorf("an editor adding an admin: %d, want 403", p.status)
	}

	// Changing the password keeps this browser logged in and ends the
	// admin's other sessions.
	apiToken := ls.login(t, "troop", email, password)
	second := ls.client()
	ls.dashLogin(t, second, host, email, password)
	const next = "a new and much longer password"
	p = ls.form(t, c, host, "/admin/password", url.Values{"csrf_token": {csrf}, "current_password": {password}, "new_password": {next}, "confirm_password": {next + "x"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Errorf("mismatched confirmation: %d, want 422", p.status)
	}
	p = ls.form(t, c, host, "/admin/password", url.Values{"csrf_token": {csrf}, "current_password": {password}, "new_password": {next}, "confirm_password": {next}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("change password: %d %.300s", p.status, p.body)
	}
	if p := ls.form(t, c, host, "/admin", nil); p.status != http.StatusOK {
		t.Errorf("this browser after the change: %d, want 200", p.status)
	}
	if p := ls.form(t, second, host, "/admin", nil); p.status != http.StatusSeeOther {
		t.Errorf("another browser after the change: %d, want a redirect to the login", p.status)
	}
	if r := ls.do(t, ls.client(), "GET", ls.url("troop", "/api/me"), nil, bearer(apiToken)...); r.status != http.StatusUnauthorized {
		t.Errorf("an API token after the change: %d, want 401", r.status)
	}
	// The editor's session is not the owner's: it lives on.
	if p := ls.form(t, ed, host, "/admin", nil); p.status != http.StatusOK {
		t.Errorf("another admin's session: %d, want 200", p.status)
	}
}

func TestDashboardFrozen(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "cold")
	host := ls.host("cold")
	c := ls.client()
	csrf := ls.dashLogin(t, c, host, email, password)
	if _, errOut, err := ls.cli(t, "", "tenant", "freeze", "cold"); err != nil {
		t.Fatalf("freeze: %v %s", err, errOut)
	}
	p := ls.form(t, c, host, "/admin/site", nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Read-only for maintenance") || !strings.Contains(p.body, "<fieldset disabled>") {
		t.Errorf("settings page of a frozen site: %d, no read-only banner or disabled form", p.status)
	}
	p = ls.form(t, c, host, "/admin/site", url.Values{"csrf_token": {csrf}, "name": {"Changed"}, "accent_color": {"#000000"}, "timezone": {"UTC"}})
	if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "read-only") || p.header.Get("Retry-After") == "" {
		t.Errorf("saving on a frozen site: %d", p.status)
	}
	ls.cli(t, "", "tenant", "thaw", "cold")
	if p := ls.form(t, c, host, "/admin/site", nil); strings.Contains(p.body, "Read-only for maintenance") {
		t.Error("the banner stays after thaw")
	}
}

func TestDashboardCustomDomain(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "riverside")
	if _, errOut, err := ls.cli(t, "", "domain", "add", "riverside", "www.riversidepost42.org"); err != nil {
		t.Fatalf("domain add: %v %s", err, errOut)
	}
	if _, errOut, err := ls.cli(t, "", "domain", "verify", "www.riversidepost42.org", "--force"); err != nil {
		t.Fatalf("domain verify: %v %s", err, errOut)
	}
	c := ls.client()
	csrf := ls.dashLogin(t, c, "www.riversidepost42.org", email, password)
	p := ls.form(t, c, "www.riversidepost42.org", "/admin/site", url.Values{"csrf_token": {csrf}, "name": {"Post 42 on its own domain"},
		"accent_color": {"#1f4e79"}, "timezone": {"America/Chicago"}}, "Origin", "http://www.riversidepost42.org:"+ls.port, "Sec-Fetch-Site", "same-origin")
	if p.status != http.StatusSeeOther {
		t.Fatalf("save on the custom domain: %d", p.status)
	}
	if body := ls.get(t, "riverside", "/"); !strings.Contains(body, "Post 42 on its own domain") {
		t.Error("the change is not on the platform subdomain")
	}
}
