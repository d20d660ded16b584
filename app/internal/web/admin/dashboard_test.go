package admin_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web"
	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/httpx"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

func TestDashboardLogin(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "riverside")
	host := webtest.Host("riverside")
	c := ls.Browser()

	if p := ls.Form(t, c, host, "/admin/posts?x=1", nil); p.Status != http.StatusSeeOther || p.Location != "/admin/login?next=%2Fadmin%2Fposts%3Fx%3D1" {
		t.Fatalf("logged out /admin/posts: %d %q", p.Status, p.Location)
	}
	p := ls.Form(t, c, host, "/admin/login", nil)
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || p.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("login page headers: CSP %q, Cache-Control %q", csp, p.Header.Get("Cache-Control"))
	}
	// login posts the login form from a fresh browser, with the form's
	// token unless values replace it.
	login := func(values url.Values, headers ...string) webtest.Page {
		c = ls.Browser()
		token := webtest.LoginToken(ls.Form(t, c, host, "/admin/login", nil).Body)
		v := url.Values{"email": {email}, "password": {password}, "login_token": {token}}
		for k, x := range values {
			v[k] = x
		}
		return ls.Form(t, c, host, "/admin/login", v, headers...)
	}
	if p := login(url.Values{"login_token": {"forged"}}); p.Status != http.StatusForbidden {
		t.Errorf("login without the form's token: %d, want 403", p.Status)
	}
	if p := login(nil, "Sec-Fetch-Site", "cross-site"); p.Status != http.StatusForbidden {
		t.Errorf("cross-site login post: %d, want 403", p.Status)
	}
	if p := login(url.Values{"password": {"wrong password!"}}); p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "wrong email or password") {
		t.Errorf("wrong password: %d", p.Status)
	}
	for _, next := range []string{"//evil.example/x", "/\\evil.example", "https://evil.example/admin", "javascript:alert(1)", "/admin\\@evil"} {
		p := login(url.Values{"next": {next}})
		if p.Status != http.StatusSeeOther || p.Location != "/admin" {
			t.Errorf("next=%q: redirected to %q, want /admin", next, p.Location)
		}
	}
	p = login(url.Values{"next": {"/admin/events"}})
	if p.Location != "/admin/events" {
		t.Errorf("next=/admin/events: redirected to %q", p.Location)
	}
	var session *http.Cookie
	for _, ck := range p.Cookies {
		if ck.Name == auth.SessionCookie {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Domain != "" || session.Path != "/" || session.Secure {
		t.Fatalf("session cookie over plain HTTP: %+v", session)
	}
	home := ls.Form(t, c, host, "/admin", nil)
	if home.Status != http.StatusOK || !strings.Contains(home.Body, email) || !strings.Contains(home.Body, "Dashboard") {
		t.Fatalf("dashboard: %d", home.Status)
	}
	// Logging out kills the cookie's token, not only the cookie.
	csrf := webtest.CSRFToken(home.Body)
	if p := ls.Form(t, c, host, "/admin/logout", url.Values{"csrf_token": {csrf}}); p.Status != http.StatusSeeOther {
		t.Fatalf("logout: %d", p.Status)
	}
	other := ls.Browser()
	if p := ls.Form(t, other, host, "/admin", nil, "Cookie", auth.SessionCookie+"="+session.Value); p.Status != http.StatusSeeOther {
		t.Errorf("the logged-out cookie: %d, want a redirect to the login", p.Status)
	}
}

func TestDashboardCookieOverTLS(t *testing.T) {
	ls := webtest.NewEmpty(t, func(c *web.Config) {
		c.TrustedProxies = []*net.IPNet{{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(32, 32)}}
	})
	email, password := ls.NewTenant(t, "secure")
	host := webtest.Host("secure")
	for _, tc := range []struct {
		name   string
		proto  string
		prefix bool
	}{
		{"plain", "", false},
		{"TLS at the proxy", "https", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ls.Browser()
			h := []string{}
			if tc.proto != "" {
				h = []string{"X-Forwarded-Proto", tc.proto}
			}
			p := ls.Form(t, c, host, "/admin/login", nil, h...)
			tok := webtest.LoginToken(p.Body)
			req, _ := http.NewRequest("POST", "http://"+host+":"+ls.Port()+"/admin/login",
				strings.NewReader(url.Values{"email": {email}, "password": {password}, "login_token": {tok}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for _, ck := range p.Cookies {
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
	ls2 := webtest.NewEmpty(t)
	ls2.NewTenant(t, "plain")
	p := ls2.Form(t, ls2.Browser(), webtest.Host("plain"), "/admin/login", nil, "X-Forwarded-Proto", "https")
	for _, ck := range p.Cookies {
		if strings.HasPrefix(ck.Name, auth.HostPrefix) || ck.Secure {
			t.Errorf("an untrusted X-Forwarded-Proto made cookie %q secure", ck.Name)
		}
	}
}

func TestDashboardCSRF(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "riverside")
	ls.NewTenant(t, "sibling")
	host := webtest.Host("riverside")
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, password)
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
		{"same-site sibling tenant", withValue(settings("Hacked"), "csrf_token", csrf), []string{"Sec-Fetch-Site", "same-site", "Origin", "http://sibling." + webtest.Base + ":" + ls.Port()}},
		{"same-site without origin", withValue(settings("Hacked"), "csrf_token", csrf), []string{"Sec-Fetch-Site", "same-site"}},
		{"cross-site", withValue(settings("Hacked"), "csrf_token", csrf), []string{"Sec-Fetch-Site", "cross-site"}},
		{"sibling origin without fetch metadata", withValue(settings("Hacked"), "csrf_token", csrf), []string{"Origin", "http://sibling." + webtest.Base + ":" + ls.Port()}},
		{"null origin", withValue(settings("Hacked"), "csrf_token", csrf), []string{"Origin", "null"}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			p := ls.Form(t, c, host, "/admin/site", a.values, a.headers...)
			if p.Status != http.StatusForbidden {
				t.Errorf("got %d, want 403", p.Status)
			}
		})
	}
	if body := ls.Text(t, "riverside", "/"); strings.Contains(body, "Hacked") {
		t.Fatal("a forged form changed the site")
	}
	// Every other state-changing form is guarded the same way.
	for _, path := range []string{"/admin/posts/new", "/admin/events/new", "/admin/officers/new", "/admin/pages/new",
		"/admin/media", "/admin/messages/1/delete", "/admin/admins", "/admin/password", "/admin/logout"} {
		if p := ls.Form(t, c, host, path, url.Values{"title": {"x"}}); p.Status != http.StatusForbidden {
			t.Errorf("POST %s without a token: %d, want 403", path, p.Status)
		}
	}
	// The real form, from the same origin, works and shows at once.
	p := ls.Form(t, c, host, "/admin/site", withValue(settings("Riverside Post 42"), "csrf_token", csrf),
		"Sec-Fetch-Site", "same-origin", "Origin", "http://"+host+":"+ls.Port())
	if p.Status != http.StatusSeeOther {
		t.Fatalf("the real form: %d %.500s", p.Status, p.Body)
	}
	if body := ls.Text(t, "riverside", "/"); !strings.Contains(body, "Riverside Post 42") {
		t.Error("the saved name is not on the public site")
	}
}

func withValue(v url.Values, k, x string) url.Values {
	v.Set(k, x)
	return v
}

// s2csrf is the CSRF token of a second session of the same admin.
func s2csrf(t *testing.T, ls *webtest.Server, email, password string) string {
	return ls.DashLogin(t, ls.Browser(), webtest.Host("riverside"), email, password)
}

func TestDashboardCrossTenant(t *testing.T) {
	ls := webtest.NewEmpty(t)
	aEmail, aPassword := ls.NewTenant(t, "alpha")
	ls.NewTenant(t, "beta")
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, webtest.Host("alpha"), aEmail, aPassword)
	var cookie string
	u, _ := url.Parse("http://" + webtest.Host("alpha") + ":" + ls.Port())
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == auth.SessionCookie {
			cookie = ck.Value
		}
	}
	other := ls.Browser()
	for _, path := range []string{"/admin", "/admin/site", "/admin/posts", "/admin/messages", "/admin/admins"} {
		if p := ls.Form(t, other, webtest.Host("beta"), path, nil, "Cookie", auth.SessionCookie+"="+cookie); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/admin/login") {
			t.Errorf("A's cookie on B's %s: %d %q, want a redirect to the login", path, p.Status, p.Location)
		}
	}
	p := ls.Form(t, other, webtest.Host("beta"), "/admin/site", url.Values{"name": {"Pwned"}, "csrf_token": {csrf}, "accent_color": {"#000000"}, "timezone": {"UTC"}},
		"Cookie", auth.SessionCookie+"="+cookie)
	if p.Status == http.StatusOK || p.Status == http.StatusSeeOther && !strings.HasPrefix(p.Location, "/admin/login") {
		t.Errorf("A's cookie posting to B: %d %q", p.Status, p.Location)
	}
	if body := ls.Text(t, "beta", "/"); strings.Contains(body, "Pwned") {
		t.Error("A's cookie changed B")
	}

	// Every dashboard route of B, with A's cookie and A's CSRF token: a
	// login page or a redirect to it, never B's data or a change.
	for _, rt := range dashboardRoutes(t, ls) {
		path := strings.ReplaceAll(rt.path, ":id", "1")
		values := url.Values(nil)
		if rt.method == "POST" {
			values = url.Values{"csrf_token": {csrf}, "title": {"Pwned"}, "name": {"Pwned"}, "email": {aEmail}, "password": {aPassword},
				"login_token": {"x"}, "accent_color": {"#000000"}, "timezone": {"UTC"}}
		}
		p := ls.Form(t, other, webtest.Host("beta"), path, values, "Cookie", auth.SessionCookie+"="+cookie)
		switch {
		case rt.path == "/admin/login" && rt.method == "GET":
			if p.Status != http.StatusOK || strings.Contains(p.Body, `action="/admin/logout"`) {
				t.Errorf("GET /admin/login on B with A's cookie: %d", p.Status)
			}
		case rt.path == "/admin/login":
			if p.Status != http.StatusForbidden && p.Status != http.StatusUnauthorized {
				t.Errorf("POST /admin/login on B with A's credentials: %d", p.Status)
			}
		case rt.path == "/admin/":
		case rt.path == "/admin/forgot" || rt.path == "/admin/reset" || rt.path == "/admin/invite":
			// Pages for the logged-out: they take no cookie, and without
			// the mailed token they change nothing.
			if p.Status != http.StatusOK && p.Status != http.StatusNotFound || strings.Contains(p.Body, `action="/admin/logout"`) {
				t.Errorf("%s %s on B with A's cookie: %d, want the logged-out page", rt.method, rt.path, p.Status)
			}
		default:
			if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/admin/login") {
				t.Errorf("%s %s on B with A's cookie: %d %q, want a redirect to the login", rt.method, rt.path, p.Status, p.Location)
			}
		}
	}
	if body := ls.Text(t, "beta", "/news"); strings.Contains(body, "Pwned") {
		t.Error("A's cookie created content on B")
	}
}

// dashboardRoutes lists the /admin routes of the server, as they were
// registered.
func dashboardRoutes(t *testing.T, ts *webtest.Server) []route {
	var out []route
	for _, r := range ts.Web.Routes() {
		switch r.Method {
		case "GET", "POST", "PUT", "PATCH", "DELETE":
		default:
			continue
		}
		if r.Path == "/admin" || strings.HasPrefix(r.Path, "/admin/") {
			out = append(out, route{r.Method, r.Path})
		}
	}
	if len(out) < 30 {
		t.Fatalf("only %d dashboard routes found", len(out))
	}
	return out
}

type route struct{ method, path string }

func TestDashboardEditing(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "lodge")
	host := webtest.Host("lodge")
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, password)
	post := func(path string, v url.Values) webtest.Page {
		v.Set("csrf_token", csrf)
		return ls.Form(t, c, host, path, v)
	}

	// Preview renders markdown and saves nothing.
	p := post("/admin/posts/new", url.Values{"title": {"Fish fry"}, "body": {"**All welcome** <script>alert(1)</script>"}, "published": {"on"}, "action": {"preview"}})
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "<strong>All welcome</strong>") || strings.Contains(p.Body, "<script>alert") {
		t.Fatalf("preview: %d", p.Status)
	}
	if body := ls.Text(t, "lodge", "/news"); strings.Contains(body, "Fish fry") {
		t.Fatal("a preview was published")
	}
	// A refused form keeps what was typed and says why.
	p = post("/admin/posts/new", url.Values{"title": {""}, "body": {"Keep this text"}, "action": {"save"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "Keep this text") || !strings.Contains(p.Body, "Title: is required") {
		t.Fatalf("refused post: %d", p.Status)
	}
	p = post("/admin/posts/new", url.Values{"title": {"Fish fry"}, "body": {"**All welcome**"}, "published": {"on"}, "action": {"save"}})
	if p.Status != http.StatusSeeOther || !strings.Contains(p.Location, "done=saved") {
		t.Fatalf("save post: %d %q", p.Status, p.Location)
	}
	if body := ls.Text(t, "lodge", "/news/fish-fry"); !strings.Contains(body, "<strong>All welcome</strong>") {
		t.Error("the saved post is not on the public site")
	}
	if p := ls.Form(t, c, host, p.Location, nil); !strings.Contains(p.Body, "Saved.") {
		t.Error("no confirmation after saving")
	}

	// An event repeating on the 2nd Tuesday of the month.
	p = post("/admin/events/new", url.Values{"title": {"Membership meeting"}, "starts_at": {"2030-06-11T19:00"}, "ends_at": {"2030-06-11T20:30"},
		"timezone": {"America/Chicago"}, "repeat": {"monthly-nth"}, "location": {"The hall"}, "action": {"save"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("save event: %d %.400s", p.Status, p.Body)
	}
	edit := ls.Form(t, c, host, strings.Split(p.Location, "?")[0], nil)
	if !strings.Contains(edit.Body, `value="monthly-nth" selected`) || !strings.Contains(edit.Body, "second Tuesday") || !strings.Contains(edit.Body, `value="2030-06-11T19:00"`) {
		t.Errorf("the event form does not show the 2nd-Tuesday rule and the local time")
	}
	p = post("/admin/events/new", url.Values{"title": {"Bad"}, "starts_at": {"2030-06-11T19:00"}, "ends_at": {"2030-06-11T20:30"},
		"timezone": {"America/Chicago"}, "repeat": {"custom"}, "rrule": {"FREQ=HOURLY"}, "action": {"save"}})
	if p.Status != http.StatusUnprocessableEntity {
		t.Errorf("a bad custom rule: %d, want 422", p.Status)
	}
	apiTok := ls.Login(t, "lodge", email, password)
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
		if p.Status != http.StatusSeeOther {
			t.Errorf("%s: %d", tc.choice, p.Status)
			continue
		}
		id := strings.TrimPrefix(strings.Split(p.Location, "?")[0], "/admin/events/")
		var ev struct{ RRule string }
		ls.Call(t, ls.Browser(), "GET", ls.SiteURL("lodge", "/api/events/"+id), nil, webtest.Bearer(apiTok)...).JSON(t, &ev)
		if ev.RRule != tc.rule {
			t.Errorf("%s from %s: rule %q, want %q", tc.choice, tc.start, ev.RRule, tc.rule)
		}
	}

	// Officers and pages.
	if p := post("/admin/officers/new", url.Values{"name": {"Maria Delgado"}, "role": {"Commander"}, "position": {"1"}}); p.Status != http.StatusSeeOther {
		t.Errorf("save officer: %d", p.Status)
	}
	if p := post("/admin/officers/new", url.Values{"name": {"X"}, "role": {"Y"}, "position": {"first"}}); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("officer with a bad position: %d", p.Status)
	}
	if body := ls.Text(t, "lodge", "/about"); !strings.Contains(body, "Maria Delgado") {
		t.Error("the officer is not on /about")
	}
	if p := post("/admin/pages/new", url.Values{"title": {"Hall rental"}, "body": {"Seats 150."}, "published": {"on"}, "show_in_nav": {"on"}, "action": {"save"}}); p.Status != http.StatusSeeOther {
		t.Errorf("save page: %d", p.Status)
	}
	if body := ls.Text(t, "lodge", "/p/hall-rental"); !strings.Contains(body, "Seats 150.") {
		t.Error("the page is not at /p/hall-rental")
	}

	// Upload through the form, then use it as the logo.
	r := ls.Upload(t, c, host[:strings.Index(host, ".")], "/admin/media", "logo.png", webtest.PNG(32, 32), map[string]string{"csrf_token": csrf, "alt": "Our emblem"})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("upload form: %d %s", r.Status, r.Body)
	}
	lib := ls.Form(t, c, host, "/admin/media", nil)
	id := regexp.MustCompile(`/media/([a-z2-7]{20})`).FindStringSubmatch(lib.Body)
	if id == nil {
		t.Fatal("the upload is not in the library")
	}
	r = ls.Upload(t, c, "lodge", "/admin/media", "page.html", []byte("<html><script>alert(1)</script></html>"), map[string]string{"csrf_token": csrf})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "not a PNG or JPEG") {
		t.Errorf("html through the upload form: %d", r.Status)
	}
	p = post("/admin/site", url.Values{"name": {"Lodge 7"}, "accent_color": {"#7a1f1f"}, "timezone": {"America/Chicago"}, "logo_id": {id[1]},
		"social_links": {"Facebook | https://facebook.com/lodge7\nhttps://www.instagram.com/lodge7"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("save settings: %d %.500s", p.Status, p.Body)
	}
	home := ls.Text(t, "lodge", "/")
	if !strings.Contains(home, "/media/"+id[1]) || !strings.Contains(home, "Lodge 7") {
		t.Error("the logo or name is not on the public site")
	}
	if p := post("/admin/site", url.Values{"name": {"Lodge 7"}, "accent_color": {"#7a1f1f"}, "timezone": {"America/Chicago"}, "social_links": {"Facebook | javascript:alert(1)"}}); p.Status != http.StatusUnprocessableEntity {
		t.Errorf("a javascript: social link: %d, want 422", p.Status)
	}

	// Messages: opening one (a POST) marks it read, delete deletes.
	form := url.Values{"name": {"Karen"}, "email": {"karen@example.com"}, "subject": {"Hall in October"}, "body": {"Is it free?"}}
	resp, err := ls.Browser().PostForm(ls.SiteURL("lodge", "/contact"), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	inbox := ls.Form(t, c, host, "/admin/messages", nil)
	mid := regexp.MustCompile(`/admin/messages/(\d+)`).FindStringSubmatch(inbox.Body)
	if mid == nil || !strings.Contains(inbox.Body, `class="unread"`) {
		t.Fatalf("the inbox does not show the new message as unread")
	}
	if p := post("/admin/messages/"+mid[1]+"/read", url.Values{}); p.Status != http.StatusSeeOther || p.Location != "/admin/messages/"+mid[1] {
		t.Errorf("open message: %d %q, want 303 to the message", p.Status, p.Location)
	}
	if msg := ls.Form(t, c, host, "/admin/messages/"+mid[1], nil); !strings.Contains(msg.Body, "Is it free?") {
		t.Error("the message page does not show the text")
	}
	if inbox := ls.Form(t, c, host, "/admin/messages", nil); strings.Contains(inbox.Body, `class="unread"`) {
		t.Error("reading a message did not mark it read")
	}
	if p := post("/admin/messages/"+mid[1]+"/delete", url.Values{}); p.Status != http.StatusSeeOther {
		t.Errorf("delete message: %d", p.Status)
	}
	if p := ls.Form(t, c, host, "/admin/messages/"+mid[1], nil); p.Status != http.StatusNotFound {
		t.Errorf("a deleted message: %d, want 404", p.Status)
	}
}

func TestDashboardAdminsAndPassword(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "troop")
	host := webtest.Host("troop")
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, password)

	p := ls.Form(t, c, host, "/admin/admins", url.Values{"csrf_token": {csrf}, "email": {"ed@troop.example.org"}, "role": {"editor"}})
	m := regexp.MustCompile(`<code class="secret">([^<]+)</code>`).FindStringSubmatch(p.Body)
	if p.Status != http.StatusOK || m == nil {
		t.Fatalf("add admin: %d", p.Status)
	}
	ed := ls.Browser()
	edCSRF := ls.DashLogin(t, ed, host, "ed@troop.example.org", m[1])
	if p := ls.Form(t, ed, host, "/admin/admins", nil); p.Status != http.StatusForbidden {
		t.Errorf("an editor on /admin/admins: %d, want 403", p.Status)
	}
	if p := ls.Form(t, ed, host, "/admin", nil); strings.Contains(p.Body, `href="/admin/admins"`) {
		t.Error("an editor's menu shows Admins")
	}
	if p := ls.Form(t, ed, host, "/admin/admins", url.Values{"csrf_token": {edCSRF}, "email": {"evil@troop.example.org"}}); p.Status != http.StatusForbidden {
		t.Errorf("an editor adding an admin: %d, want 403", p.Status)
	}

	// Changing the password keeps this browser logged in and ends the
	// admin's other sessions.
	apiToken := ls.Login(t, "troop", email, password)
	second := ls.Browser()
	ls.DashLogin(t, second, host, email, password)
	const next = "a new and much longer password"
	p = ls.Form(t, c, host, "/admin/password", url.Values{"csrf_token": {csrf}, "current_password": {password}, "new_password": {next}, "confirm_password": {next + "x"}})
	if p.Status != http.StatusUnprocessableEntity {
		t.Errorf("mismatched confirmation: %d, want 422", p.Status)
	}
	p = ls.Form(t, c, host, "/admin/password", url.Values{"csrf_token": {csrf}, "current_password": {password}, "new_password": {next}, "confirm_password": {next}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("change password: %d %.300s", p.Status, p.Body)
	}
	if p := ls.Form(t, c, host, "/admin", nil); p.Status != http.StatusOK {
		t.Errorf("this browser after the change: %d, want 200", p.Status)
	}
	if p := ls.Form(t, second, host, "/admin", nil); p.Status != http.StatusSeeOther {
		t.Errorf("another browser after the change: %d, want a redirect to the login", p.Status)
	}
	if r := ls.Call(t, ls.Browser(), "GET", ls.SiteURL("troop", "/api/me"), nil, webtest.Bearer(apiToken)...); r.Status != http.StatusUnauthorized {
		t.Errorf("an API token after the change: %d, want 401", r.Status)
	}
	// The editor's session is not the owner's: it lives on.
	if p := ls.Form(t, ed, host, "/admin", nil); p.Status != http.StatusOK {
		t.Errorf("another admin's session: %d, want 200", p.Status)
	}
}

func TestDashboardFrozen(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "cold")
	host := webtest.Host("cold")
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, password)
	cold, err := ls.Platform.Catalog.Tenant("cold")
	webtest.Must(t, err)
	cold, err = ls.Platform.Freeze(context.Background(), cold)
	webtest.Must(t, err)
	p := ls.Form(t, c, host, "/admin/site", nil)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Read-only for maintenance") || !strings.Contains(p.Body, "<fieldset disabled>") {
		t.Errorf("settings page of a frozen site: %d, no read-only banner or disabled form", p.Status)
	}
	p = ls.Form(t, c, host, "/admin/site", url.Values{"csrf_token": {csrf}, "name": {"Changed"}, "accent_color": {"#000000"}, "timezone": {"UTC"}})
	if p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Body, "read-only") || p.Header.Get("Retry-After") == "" {
		t.Errorf("saving on a frozen site: %d", p.Status)
	}
	_, err = ls.Platform.Thaw(context.Background(), cold)
	webtest.Must(t, err)
	if p := ls.Form(t, c, host, "/admin/site", nil); strings.Contains(p.Body, "Read-only for maintenance") {
		t.Error("the banner stays after thaw")
	}
}

func TestDashboardCustomDomain(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "riverside")
	// A verified custom domain, as `domain add` and `domain verify --force` make it.
	riverside, err := ls.Platform.Catalog.Tenant("riverside")
	webtest.Must(t, err)
	_, err = ls.Platform.AddDomain(context.Background(), riverside, "www.riversidepost42.org")
	webtest.Must(t, err)
	_, err = ls.Platform.Catalog.SetDomainStatus(context.Background(), riverside.ID, "www.riversidepost42.org", catalog.DomainVerified)
	webtest.Must(t, err)
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, "www.riversidepost42.org", email, password)
	p := ls.Form(t, c, "www.riversidepost42.org", "/admin/site", url.Values{"csrf_token": {csrf}, "name": {"Post 42 on its own domain"},
		"accent_color": {"#1f4e79"}, "timezone": {"America/Chicago"}}, "Origin", "http://www.riversidepost42.org:"+ls.Port(), "Sec-Fetch-Site", "same-origin")
	if p.Status != http.StatusSeeOther {
		t.Fatalf("save on the custom domain: %d", p.Status)
	}
	if body := ls.Text(t, "riverside", "/"); !strings.Contains(body, "Post 42 on its own domain") {
		t.Error("the change is not on the platform subdomain")
	}
}

// TestDashboardMediaForms renames and deletes an image through the media
// library's forms, with the refusals: an image too costly to decode, an
// empty name, an unknown image.
func TestDashboardMediaForms(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "lodge")
	host := webtest.Host("lodge")
	c := ls.Browser()
	csrf := ls.DashLogin(t, c, host, email, password)
	if r := ls.Upload(t, c, "lodge", "/admin/media", "hall.png", webtest.PNG(16, 16), map[string]string{"csrf_token": csrf}); r.Status != http.StatusSeeOther {
		t.Fatalf("upload: %d", r.Status)
	}
	// An image too costly to decode says so, with its dimensions, rather
	// than "larger than 5 MB" (the file is 2 MB).
	if r := ls.Upload(t, c, "lodge", "/admin/media", "big.png", webtest.PNG16(6000, 6666), map[string]string{"csrf_token": csrf}); r.Status != http.StatusRequestEntityTooLarge ||
		!strings.Contains(string(r.Body), "6000×6666 pixels") {
		t.Errorf("upload of a 40-megapixel 16-bit PNG: %d, want 413 naming 6000×6666", r.Status)
	}
	db := ls.DB("lodge")
	list, err := db.MediaList(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("library after the upload: %d, %v", len(list), err)
	}
	id := list[0].ID
	p := ls.Form(t, c, host, "/admin/media/"+id, url.Values{"csrf_token": {csrf}, "name": {"Main hall"}, "alt": {"The main hall, 1950"}})
	if p.Status != http.StatusSeeOther || p.Location != "/admin/media?done=saved" {
		t.Fatalf("rename: %d %q", p.Status, p.Location)
	}
	if m, _ := db.Media(context.Background(), id); m.Name != "Main hall" || m.Alt != "The main hall, 1950" {
		t.Errorf("after the rename: %+v", m)
	}
	p = ls.Form(t, c, host, "/admin/media/"+id, url.Values{"csrf_token": {csrf}, "name": {"  "}, "alt": {"x"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "Name") {
		t.Errorf("rename to nothing: %d, want 422 naming the field", p.Status)
	}
	if m, _ := db.Media(context.Background(), id); m.Name != "Main hall" {
		t.Errorf("a refused rename changed the image: %+v", m)
	}
	for _, path := range []string{"/admin/media/nosuch", "/admin/media/nosuch/delete"} {
		if p := ls.Form(t, c, host, path, url.Values{"csrf_token": {csrf}, "name": {"x"}}); p.Status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, p.Status)
		}
	}
	p = ls.Form(t, c, host, "/admin/media/"+id+"/delete", url.Values{"csrf_token": {csrf}})
	if p.Status != http.StatusSeeOther || p.Location != "/admin/media?done=deleted" {
		t.Fatalf("delete: %d %q", p.Status, p.Location)
	}
	if list, _ := db.MediaList(context.Background()); len(list) != 0 {
		t.Errorf("the library after the delete: %d images", len(list))
	}
	if code, _ := ls.Fetch(t, "lodge", "/media/"+id); code != http.StatusNotFound {
		t.Errorf("a deleted image is still served: %d", code)
	}
}

// TestDashboardListsArePaged asks every list of the dashboard for 100,000
// items of a site with more than a page of each: it shows at most
// httpx.MaxPageSize and a link to the next page, whose page links back;
// a bad ?limit= or ?page= is a 422.
func TestDashboardListsArePaged(t *testing.T) {
	ls := webtest.NewEmpty(t)
	email, password := ls.NewTenant(t, "big")
	const n = httpx.MaxPageSize + 1
	webtest.FillLists(t, ls.DB("big").DB, n)
	host := webtest.Host("big")
	c := ls.Browser()
	ls.DashLogin(t, c, host, email, password)
	for _, tc := range []struct {
		path, item string // item: what each listed item shows once
	}{
		{"/admin/posts", `href="/admin/posts/\d+"`},
		{"/admin/events", `href="/admin/events/\d+"`},
		{"/admin/officers", `href="/admin/officers/\d+"`},
		{"/admin/pages", `href="/admin/pages/\d+"`},
		{"/admin/media", `action="/admin/media/[a-z2-7]+"`},
		{"/admin/messages", `action="/admin/messages/\d+/read"`},
		{"/admin/admins", `action="/admin/admins/\d+/delete"`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			item := regexp.MustCompile(tc.item)
			first := ls.Form(t, c, host, tc.path+"?limit=100000", nil)
			next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(first.Body)
			if got := len(item.FindAllString(first.Body, -1)); first.Status != http.StatusOK || got != httpx.MaxPageSize || next == nil {
				t.Fatalf("GET %s?limit=100000: %d, %d items, next link %v; want 200, %d and a next link", tc.path, first.Status, got, next, httpx.MaxPageSize)
			}
			second := ls.Form(t, c, host, strings.ReplaceAll(next[1], "&amp;", "&"), nil)
			if got := len(item.FindAllString(second.Body, -1)); second.Status != http.StatusOK || got < 1 || got > 2 ||
				strings.Contains(second.Body, `rel="next"`) || !strings.Contains(second.Body, `rel="prev"`) {
				t.Errorf("GET %s: %d, %d items; want 200, the rest, a link back and none further", next[1], second.Status, got)
			}
			for _, bad := range []string{"limit=0", "limit=ten", "page=-1"} {
				if p := ls.Form(t, c, host, tc.path+"?"+bad, nil); p.Status != http.StatusUnprocessableEntity {
					t.Errorf("GET %s?%s: %d, want 422", tc.path, bad, p.Status)
				}
			}
		})
	}
}
