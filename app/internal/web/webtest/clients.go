package webtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/password"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// What a visitor, an API client and a dashboard user do: the helpers of
// the interfaces' tests, over the same real server.

// Client is what visitors, API clients and dashboard users do to a running
// server, whichever harness started it: this package's Server, or the
// end-to-end tests' real program.
type Client struct {
	Addr string // the server's loopback address, 127.0.0.1:PORT
}

// Port is the port of the server's loopback listener.
func (cl Client) Port() string {
	_, port, err := net.SplitHostPort(cl.Addr)
	if err != nil {
		panic(err)
	}
	return port
}

// SiteURL is the address of path on tenant slug's platform host.
func (cl Client) SiteURL(slug, path string) string {
	return "http://" + Host(slug) + ":" + cl.Port() + path
}

// Browser is an HTTP client that reaches this server whatever the host
// name, keeps cookies and does not follow redirects.
func (cl Client) Browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	addr := cl.Addr
	return &http.Client{
		Jar: jar,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       60 * time.Second,
	}
}

// NewTenant creates tenant slug with an owner, owner@<slug>.example.org,
// whose password is generated (as `tenant create --admin-email` does), and
// returns the owner's email and password.
func (ts *Server) NewTenant(t testing.TB, slug string) (email, pw string) {
	t.Helper()
	email, pw = "owner@"+slug+".example.org", password.Generate()
	hash, err := ts.Platform.Passwords.Hash(context.Background(), pw)
	if err != nil {
		t.Fatal(err)
	}
	owner := tenantdb.Admin{Email: email, Role: tenantdb.RoleOwner, PasswordHash: hash}
	if _, err := ts.Platform.CreateTenant(context.Background(), slug, "Chapter "+slug, owner); err != nil {
		t.Fatalf("create tenant %s: %v", slug, err)
	}
	return email, pw
}

// AddAdmin adds an admin with password pw and role to tenant slug.
func (ts *Server) AddAdmin(t testing.TB, slug, email, role, pw string) {
	t.Helper()
	err := ts.Platform.WithTenant(context.Background(), slug, func(_ catalog.Tenant, h *pool.Handle) error {
		_, _, err := ts.Platform.AddAdmin(context.Background(), h.DB, email, role, pw)
		return err
	})
	if err != nil {
		t.Fatalf("add admin %s to %s: %v", email, slug, err)
	}
}

// APIResult is one API response.
type APIResult struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r APIResult) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response %d is not JSON (%v): %s", r.Status, err, r.Body)
	}
}

// ErrField is the error message and field of an API error.
func (r APIResult) ErrField(t testing.TB) (msg, field string) {
	t.Helper()
	var e struct {
		Error string `json:"error"`
		Field string `json:"field"`
	}
	r.JSON(t, &e)
	return e.Error, e.Field
}

// Call sends a request with c, with an optional body (a string or bytes as
// they are, anything else as JSON) and headers given as name, value pairs.
func (cl Client) Call(t testing.TB, c *http.Client, method, url string, body any, headers ...string) APIResult {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return APIResult{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// Login logs in over the API and returns the token.
func (cl Client) Login(t testing.TB, slug, email, pw string) string {
	t.Helper()
	r := cl.Call(t, cl.Browser(), "POST", cl.SiteURL(slug, "/api/login"), map[string]string{"email": email, "password": pw})
	if r.Status != http.StatusOK {
		t.Fatalf("login %s on %s: %d %s", email, slug, r.Status, r.Body)
	}
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	r.JSON(t, &out)
	if out.Token == "" || out.ExpiresAt.IsZero() {
		t.Fatalf("login answer lacks token or expires_at: %s", r.Body)
	}
	return out.Token
}

// Bearer is the Authorization header of token, as a name, value pair.
func Bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// Upload sends data as the multipart field "file", with fields.
func (cl Client) Upload(t testing.TB, c *http.Client, slug, path, filename string, data []byte, fields map[string]string, headers ...string) APIResult {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", filename)
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", cl.SiteURL(slug, path), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return APIResult{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Page is a response as a browser sees it.
type Page struct {
	Status   int
	Location string
	Body     string
	Header   http.Header
	Cookies  []*http.Cookie
}

// Form sends a form post to host (a GET when values is nil) with headers
// given as name, value pairs.
func (cl Client) Form(t testing.TB, c *http.Client, host, path string, values url.Values, headers ...string) Page {
	t.Helper()
	method, body := "GET", io.Reader(nil)
	if values != nil {
		method, body = "POST", strings.NewReader(values.Encode())
	}
	req, err := http.NewRequest(method, "http://"+host+":"+cl.Port()+path, body)
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
	return Page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(b), Header: resp.Header, Cookies: resp.Cookies()}
}

var (
	csrfField  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	loginField = regexp.MustCompile(`name="login_token" value="([^"]+)"`)
)

// LoginToken is the login form's double-submit token on body, "" if none.
func LoginToken(body string) string {
	if m := loginField.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// CSRFToken is the CSRF token in a dashboard page's forms, "" if none.
func CSRFToken(body string) string {
	if m := csrfField.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// DashLogin logs c in through the login form of host and returns the
// dashboard's CSRF token.
func (cl Client) DashLogin(t testing.TB, c *http.Client, host, email, pw string) string {
	t.Helper()
	p := cl.Form(t, c, host, "/admin/login", nil)
	tok := LoginToken(p.Body)
	if p.Status != http.StatusOK || tok == "" {
		t.Fatalf("login page: %d %s", p.Status, p.Body)
	}
	p = cl.Form(t, c, host, "/admin/login", url.Values{"email": {email}, "password": {pw}, "login_token": {tok}, "next": {"/admin"}})
	if p.Status != http.StatusSeeOther || p.Location != "/admin" {
		t.Fatalf("login: %d %q %s", p.Status, p.Location, p.Body)
	}
	return cl.CSRF(t, c, host)
}

// CSRF reads the CSRF token of c's dashboard session on host.
func (cl Client) CSRF(t testing.TB, c *http.Client, host string) string {
	t.Helper()
	p := cl.Form(t, c, host, "/admin", nil)
	tok := CSRFToken(p.Body)
	if p.Status != http.StatusOK || tok == "" {
		t.Fatalf("dashboard: %d %.300s", p.Status, p.Body)
	}
	return tok
}

// Fetch GETs path on slug's host and returns the status and body.
func (cl Client) Fetch(t testing.TB, slug, path string) (int, string) {
	t.Helper()
	r := cl.Call(t, cl.Browser(), "GET", cl.SiteURL(slug, path), nil)
	return r.Status, string(r.Body)
}

// Text GETs path on slug's host and returns the body.
func (cl Client) Text(t testing.TB, slug, path string) string {
	t.Helper()
	_, body := cl.Fetch(t, slug, path)
	return body
}
