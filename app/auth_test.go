package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/web/auth"
	"github.com/chapterhouse/chapterhouse/app/internal/web/webtest"
	"github.com/golang-jwt/jwt/v5"
)

func TestLoginLogout(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "riverside")
	c := ls.Browser()

	for _, tc := range []struct{ name, email, password string }{
		{"wrong password", email, password + "x"},
		{"unknown email", "nobody@riverside.example.org", password},
		{"empty", "", ""},
	} {
		r := ls.Call(t, c, "POST", ls.SiteURL("riverside", "/api/login"), map[string]string{"email": tc.email, "password": tc.password})
		if msg, _ := r.ErrField(t); r.Status != http.StatusUnauthorized || msg != "wrong email or password" {
			t.Errorf("%s: got %d %s, want 401 wrong email or password", tc.name, r.Status, r.Body)
		}
	}

	token := ls.Login(t, "riverside", strings.ToUpper(email), password) // emails match in any case
	r := ls.Call(t, c, "GET", ls.SiteURL("riverside", "/api/me"), nil, webtest.Bearer(token)...)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), email) {
		t.Fatalf("GET /api/me: %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "argon2") {
		t.Errorf("GET /api/me leaks the password hash: %s", r.Body)
	}
	if r := ls.Call(t, c, "GET", ls.SiteURL("riverside", "/api/me"), nil); r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: got %d (WWW-Authenticate %q), want 401 with a challenge", r.Status, r.Header.Get("WWW-Authenticate"))
	}

	if r := ls.Call(t, c, "POST", ls.SiteURL("riverside", "/api/logout"), nil, webtest.Bearer(token)...); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	for _, path := range []string{"/api/me", "/api/site", "/api/posts"} {
		if r := ls.Call(t, c, "GET", ls.SiteURL("riverside", path), nil, webtest.Bearer(token)...); r.Status != http.StatusUnauthorized {
			t.Errorf("GET %s after logout: %d, want 401", path, r.Status)
		}
	}
	if r := ls.Call(t, c, "POST", ls.SiteURL("riverside", "/api/logout"), nil, webtest.Bearer(token)...); r.Status != http.StatusUnauthorized {
		t.Errorf("second logout: %d, want 401", r.Status)
	}
}

func TestPasswordChangeRevokesSessions(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "lodge")
	c := ls.Browser()
	first := ls.Login(t, "lodge", email, password)
	second := ls.Login(t, "lodge", email, password)
	url := ls.SiteURL("lodge", "/api/password")

	bad := []struct {
		name, current, next, field string
	}{
		{"wrong current password", "not my password", "a perfectly long new password", "current_password"},
		{"too short", password, "short", "new_password"},
		{"one character repeated", password, strings.Repeat("a", 20), "new_password"},
		{"the email", password, email, "new_password"},
	}
	for _, tc := range bad {
		r := ls.Call(t, c, "POST", url, map[string]string{"current_password": tc.current, "new_password": tc.next}, webtest.Bearer(first)...)
		if _, field := r.ErrField(t); r.Status != http.StatusUnprocessableEntity || field != tc.field {
			t.Errorf("%s: got %d %s, want 422 naming %s", tc.name, r.Status, r.Body, tc.field)
		}
	}
	// A refused change ends nothing.
	if r := ls.Call(t, c, "GET", ls.SiteURL("lodge", "/api/me"), nil, webtest.Bearer(second)...); r.Status != http.StatusOK {
		t.Fatalf("session ended by a refused change: %d", r.Status)
	}

	const next = "correct horse battery staple"
	r := ls.Call(t, c, "POST", url, map[string]string{"current_password": password, "new_password": next}, webtest.Bearer(first)...)
	if r.Status != http.StatusOK {
		t.Fatalf("change password: %d %s", r.Status, r.Body)
	}
	var out struct{ Token string }
	r.JSON(t, &out)
	for name, tok := range map[string]string{"the token that changed it": first, "another session": second} {
		if r := ls.Call(t, c, "GET", ls.SiteURL("lodge", "/api/me"), nil, webtest.Bearer(tok)...); r.Status != http.StatusUnauthorized {
			t.Errorf("%s after the change: %d, want 401", name, r.Status)
		}
	}
	if r := ls.Call(t, c, "GET", ls.SiteURL("lodge", "/api/me"), nil, webtest.Bearer(out.Token)...); r.Status != http.StatusOK {
		t.Errorf("the new token: %d, want 200", r.Status)
	}
	if r := ls.Call(t, c, "POST", ls.SiteURL("lodge", "/api/login"), map[string]string{"email": email, "password": password}); r.Status != http.StatusUnauthorized {
		t.Errorf("old password still logs in: %d", r.Status)
	}
	ls.Login(t, "lodge", email, next)

	// The operator's reset does the same.
	tok := ls.Login(t, "lodge", email, next)
	stdout, stderr, err := ls.cli(t, "", "admin", "reset-password", "lodge", email)
	if err != nil {
		t.Fatalf("admin reset-password: %v %s", err, stderr)
	}
	m := passwordLine.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("reset-password printed no password: %s", stdout)
	}
	if r := ls.Call(t, c, "GET", ls.SiteURL("lodge", "/api/me"), nil, webtest.Bearer(tok)...); r.Status != http.StatusUnauthorized {
		t.Errorf("session survived reset-password: %d", r.Status)
	}
	ls.Login(t, "lodge", email, m[1])
}

func TestAdminCLI(t *testing.T) {
	ls := startLive(t)
	ls.newTenant(t, "troop")

	// A weak password from stdin is refused and adds nobody.
	if _, _, err := ls.cli(t, "short\n", "admin", "add", "troop", "ed@troop.example.org", "--password-stdin"); err == nil {
		t.Error("admin add with a short password succeeded")
	}
	const pw = "a long enough editor password"
	out, errOut, err := ls.cli(t, pw+"\n", "admin", "add", "troop", "ed@troop.example.org", "--password-stdin")
	if err != nil || strings.Contains(out, "password:") {
		t.Fatalf("admin add --password-stdin: %v %s %s", err, out, errOut)
	}
	tok := ls.Login(t, "troop", "ed@troop.example.org", pw)
	var me struct{ Role string }
	ls.Call(t, ls.Browser(), "GET", ls.SiteURL("troop", "/api/me"), nil, webtest.Bearer(tok)...).JSON(t, &me)
	if me.Role != "editor" {
		t.Errorf("default role = %q, want editor", me.Role)
	}
	if _, _, err := ls.cli(t, pw+"\n", "admin", "add", "troop", "ED@troop.example.org", "--password-stdin"); err == nil {
		t.Error("adding the same email twice succeeded")
	}
	if _, _, err := ls.cli(t, "", "admin", "add", "troop", "x@troop.example.org", "--role", "king"); err == nil {
		t.Error("a bad role was accepted")
	}
	out, _, err = ls.cli(t, "", "admin", "add", "troop", "second@troop.example.org", "--role", "owner")
	m := passwordLine.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("admin add without stdin: %v %s", err, out)
	}
	ls.Login(t, "troop", "second@troop.example.org", m[1])

	out, _, err = ls.cli(t, "", "admin", "list", "troop", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var admins []struct{ Email, Role string }
	if err := json.Unmarshal([]byte(out), &admins); err != nil || len(admins) != 3 {
		t.Fatalf("admin list --json: %v %s", err, out)
	}
	if strings.Contains(out, "argon2") {
		t.Errorf("admin list shows hashes: %s", out)
	}
	if _, _, err := ls.cli(t, "", "admin", "remove", "troop", "second@troop.example.org"); err != nil {
		t.Errorf("removing one of two owners: %v", err)
	}
	if _, stderr, err := ls.cli(t, "", "admin", "remove", "troop", "owner@troop.example.org"); err == nil || !strings.Contains(stderr, "last owner") {
		t.Errorf("removing the last owner: %v %s", err, stderr)
	}
	if _, _, err := ls.cli(t, "", "admin", "reset-password", "troop", "ghost@troop.example.org"); err == nil {
		t.Error("reset-password of an unknown admin succeeded")
	}
	if _, _, err := ls.cli(t, "", "tenant", "create", "bad", "--name", "Bad", "--admin-email", "not-an-email"); err == nil {
		t.Error("tenant create with a bad admin email succeeded")
	}
	if out, _, _ := ls.cli(t, "", "tenant", "list"); strings.Contains(out, "bad") {
		t.Errorf("a refused tenant create left a tenant:\n%s", out)
	}
}

func TestDemoPrintsItsLogin(t *testing.T) {
	ls := startLive(t, "--demo")
	out := ls.stdout.String()
	email := regexp.MustCompile(`(?m)^email: (\S+)$`).FindStringSubmatch(out)
	pw := passwordLine.FindStringSubmatch(out)
	if email == nil || pw == nil || !strings.Contains(out, ls.SiteURL("demo", "/admin")) {
		t.Fatalf("serve did not print the demo login:\n%s", out)
	}
	tok := ls.Login(t, "demo", email[1], pw[1])
	var me struct{ Role string }
	ls.Call(t, ls.Browser(), "GET", ls.SiteURL("demo", "/api/me"), nil, webtest.Bearer(tok)...).JSON(t, &me)
	if me.Role != "owner" {
		t.Errorf("demo admin role %q, want owner", me.Role)
	}
}

// forge signs claims with method and key, with the given kid.
func forge(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func segment(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestTokenAttacks(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "alpha")
	ls.newTenant(t, "beta")
	c := ls.Browser()
	good := ls.Login(t, "alpha", email, password)

	// What a valid token holds, to forge variants of it.
	parts := strings.Split(good, ".")
	var header map[string]any
	var claims jwt.MapClaims
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(hb, &header)
	json.Unmarshal(cb, &claims)
	kid := header["kid"].(string)
	if header["alg"] != "HS256" || claims["iss"] == nil || claims["iat"] == nil || claims["exp"] == nil || claims["sid"] == nil || claims["sub"] == nil {
		t.Fatalf("token lacks a required header or claim: %v %v", header, claims)
	}
	alphaID := claims["aud"].([]any)[0].(string)

	// The server's own keys, read from its secrets file as the server does.
	keys, err := auth.LoadKeyring(ls.dir, "")
	if err != nil {
		t.Fatal(err)
	}
	alphaKey, ok := keys.TenantKey(kid, alphaID)
	if !ok {
		t.Fatalf("kid %q is not the server's", kid)
	}
	with := func(changes map[string]any) jwt.MapClaims {
		m := jwt.MapClaims{}
		for k, v := range claims {
			m[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	// The control: a token forged with the real key and unchanged claims
	// is accepted, so each refusal below is due to its one change.
	if r := ls.Call(t, c, "GET", ls.SiteURL("alpha", "/api/me"), nil, webtest.Bearer(forge(t, jwt.SigningMethodHS256, alphaKey, kid, with(nil)))...); r.Status != http.StatusOK {
		t.Fatalf("control token refused: %d %s", r.Status, r.Body)
	}

	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	attacks := []struct {
		name  string
		token string
		host  string
	}{
		{"alg none", segment(map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + parts[1] + ".", "alpha"},
		{"alg none with the real signature", segment(map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + parts[1] + "." + parts[2], "alpha"},
		{"HS384 with the real key", forge(t, jwt.SigningMethodHS384, alphaKey, kid, with(nil)), "alpha"},
		{"HS512 with the real key", forge(t, jwt.SigningMethodHS512, alphaKey, kid, with(nil)), "alpha"},
		{"RS256", forge(t, jwt.SigningMethodRS256, rsaKey, kid, with(nil)), "alpha"},
		{"ES256", forge(t, jwt.SigningMethodES256, ecKey, kid, with(nil)), "alpha"},
		{"ES256 header on an HMAC signature", segment(map[string]any{"alg": "ES256", "typ": "JWT", "kid": kid}) + "." + parts[1] + "." + parts[2], "alpha"},
		{"missing exp", forge(t, jwt.SigningMethodHS256, alphaKey, kid, with(map[string]any{"exp": nil})), "alpha"},
		{"expired exp", forge(t, jwt.SigningMethodHS256, alphaKey, kid, with(map[string]any{"exp": now.Add(-time.Minute).Unix()})), "alpha"},
		{"iat in the future", forge(t, jwt.SigningMethodHS256, alphaKey, kid, with(map[string]any{"iat": now.Add(time.Hour).Unix()})), "alpha"},
		{"bad signature", parts[0] + "." + parts[1] + "." + flip(parts[2]), "alpha"},
		{"changed claims, old signature", parts[0] + "." + segment(with(map[string]any{"sub": "2"})) + "." + parts[2], "alpha"},
		{"wrong kid", forge(t, jwt.SigningMethodHS256, alphaKey, "notakid", with(nil)), "alpha"},
		{"no kid", forge(t, jwt.SigningMethodHS256, alphaKey, "", with(nil)), "alpha"},
		{"signed with the server secret itself", forge(t, jwt.SigningMethodHS256, []byte(firstSecret(t, ls.dir)), kid, with(nil)), "alpha"},
		{"wrong issuer", forge(t, jwt.SigningMethodHS256, alphaKey, kid, with(map[string]any{"iss": "evil"})), "alpha"},
		{"wrong audience", forge(t, jwt.SigningMethodHS256, alphaKey, kid, with(map[string]any{"aud": []string{"bbbbbbbbbbbbbbbb"}})), "alpha"},
		{"another admin as sub", forge(t, jwt.SigningMethodHS256, alphaKey, kid, with(map[string]any{"sub": "99"})), "alpha"},
		{"unknown session", forge(t, jwt.SigningMethodHS256, alphaKey, kid, with(map[string]any{"sid": "aaaaaaaaaaaaaaaaaaaaaaaaaa"})), "alpha"},
		{"no session", forge(t, jwt.SigningMethodHS256, alphaKey, kid, with(map[string]any{"sid": nil})), "alpha"},
		{"alpha's token on beta", good, "beta"},
		{"alpha's key with beta's audience on beta", forge(t, jwt.SigningMethodHS256, alphaKey, kid, with(map[string]any{"aud": []string{betaID(t, ls)}})), "beta"},
		{"garbage", "not.a.token", "alpha"},
		{"empty bearer", "", "alpha"},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			r := ls.Call(t, c, "GET", ls.SiteURL(a.host, "/api/site"), nil, webtest.Bearer(a.token)...)
			if r.Status != http.StatusUnauthorized {
				t.Errorf("got %d %s, want 401", r.Status, r.Body)
			}
			// The same token as the dashboard cookie.
			r = ls.Call(t, c, "GET", ls.SiteURL(a.host, "/api/site"), nil, "Cookie", auth.SessionCookie+"="+a.token)
			if r.Status != http.StatusUnauthorized {
				t.Errorf("as a cookie: got %d %s, want 401", r.Status, r.Body)
			}
		})
	}
	t.Run("a token from a rotated-out secret", func(t *testing.T) {
		old, _ := auth.NewKeyring(auth.NewSecret())
		oldKey, _ := old.TenantKey(old.Current(), alphaID)
		tok := forge(t, jwt.SigningMethodHS256, oldKey, old.Current(), with(nil))
		if r := ls.Call(t, c, "GET", ls.SiteURL("alpha", "/api/site"), nil, webtest.Bearer(tok)...); r.Status != http.StatusUnauthorized {
			t.Errorf("got %d, want 401", r.Status)
		}
	})
	// After all that, the real token still works.
	if r := ls.Call(t, c, "GET", ls.SiteURL("alpha", "/api/site"), nil, webtest.Bearer(good)...); r.Status != http.StatusOK {
		t.Errorf("the real token: %d", r.Status)
	}
}

func flip(sig string) string {
	b := []byte(sig)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func betaID(t *testing.T, ls *liveServer) string {
	t.Helper()
	out, _, err := ls.cli(t, "", "tenant", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ts []struct{ ID, Slug string }
	json.Unmarshal([]byte(out), &ts)
	for _, x := range ts {
		if x.Slug == "beta" {
			return x.ID
		}
	}
	t.Fatal("no tenant beta")
	return ""
}

func TestKeyRotation(t *testing.T) {
	dir, secrets := t.TempDir(), t.TempDir()+"/secrets"
	oldSecret, newSecret := auth.NewSecret(), auth.NewSecret()
	writeFile(t, secrets, oldSecret+"\n")
	ls := startLiveIn(t, dir, "--secret-file", secrets)
	email, password := ls.newTenant(t, "rot")
	tok := ls.Login(t, "rot", email, password)
	ls.stop()

	// Restarted with a new signing secret and the old one kept: old
	// tokens still verify, new ones are signed with the new kid.
	writeFile(t, secrets, "# rotated\n"+newSecret+"\n"+oldSecret+"\n")
	ls = startLiveIn(t, dir, "--secret-file", secrets)
	if r := ls.Call(t, ls.Browser(), "GET", ls.SiteURL("rot", "/api/me"), nil, webtest.Bearer(tok)...); r.Status != http.StatusOK {
		t.Fatalf("old token after rotation: %d %s", r.Status, r.Body)
	}
	fresh := ls.Login(t, "rot", email, password)
	if kidOf(t, fresh) == kidOf(t, tok) {
		t.Error("the new secret does not sign new tokens")
	}
	ls.stop()

	// The old secret dropped: its tokens are dead, the new ones live.
	writeFile(t, secrets, newSecret+"\n")
	ls = startLiveIn(t, dir, "--secret-file", secrets)
	if r := ls.Call(t, ls.Browser(), "GET", ls.SiteURL("rot", "/api/me"), nil, webtest.Bearer(tok)...); r.Status != http.StatusUnauthorized {
		t.Errorf("token of a dropped secret: %d, want 401", r.Status)
	}
	if r := ls.Call(t, ls.Browser(), "GET", ls.SiteURL("rot", "/api/me"), nil, webtest.Bearer(fresh)...); r.Status != http.StatusOK {
		t.Errorf("token of the current secret: %d, want 200", r.Status)
	}

	if _, err := auth.ParseKeyring([]byte("short\n")); err == nil {
		t.Error("a short secret was accepted")
	}
	if _, err := auth.ParseKeyring([]byte("# only a comment\n")); err == nil {
		t.Error("a file without a secret was accepted")
	}
}

func TestGeneratedSecretFile(t *testing.T) {
	ls := startLive(t)
	fi, err := os.Stat(ls.dir + "/" + auth.SecretsFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", auth.SecretsFile, fi.Mode().Perm())
	}
	first, _ := os.ReadFile(ls.dir + "/" + auth.SecretsFile)
	ls.stop()
	startLiveIn(t, ls.dir)
	again, _ := os.ReadFile(ls.dir + "/" + auth.SecretsFile)
	if string(first) != string(again) {
		t.Error("a restart replaced the secrets file")
	}
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	var h struct{ Kid string }
	json.Unmarshal(hb, &h)
	return h.Kid
}

func TestLoginThrottle(t *testing.T) {
	t.Run("per client, spoofed X-Forwarded-For ignored", func(t *testing.T) {
		ls := startLive(t)
		ls.newTenant(t, "post")
		c := ls.Browser()
		var last webtest.APIResult
		for i := 0; i < 30; i++ {
			last = ls.Call(t, c, "POST", ls.SiteURL("post", "/api/login"),
				map[string]string{"email": fmt.Sprintf("guess%d@post.example.org", i), "password": "wrong password"},
				"X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
			if last.Status == http.StatusTooManyRequests {
				break
			}
			if last.Status != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %d %s", i, last.Status, last.Body)
			}
		}
		if last.Status != http.StatusTooManyRequests {
			t.Fatalf("30 guesses from one client with rotating X-Forwarded-For were never throttled")
		}
		if n, err := strconv.Atoi(last.Header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("Retry-After = %q, want seconds", last.Header.Get("Retry-After"))
		}
	})
	t.Run("per account, behind a trusted proxy", func(t *testing.T) {
		ls := startLive(t, "--trusted-proxy", "127.0.0.1/32")
		email, password := ls.newTenant(t, "post")
		c := ls.Browser()
		// Many clients behind the proxy each get their own allowance...
		for i := 0; i < 25; i++ {
			r := ls.Call(t, c, "POST", ls.SiteURL("post", "/api/login"),
				map[string]string{"email": fmt.Sprintf("guess%d@post.example.org", i), "password": "wrong password"},
				"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("client %d behind the proxy: %d, want 401", i, r.Status)
			}
		}
		// ...but once one account has had its ceiling of failures, every
		// client gets one guess at it and is then throttled on it.
		for i := 0; i < 15; i++ {
			ip := fmt.Sprintf("192.0.2.%d", i+1)
			r := ls.Call(t, c, "POST", ls.SiteURL("post", "/api/login"),
				map[string]string{"email": email, "password": "wrong password"}, "X-Forwarded-For", ip)
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("first guess from %s: %d, want 401", ip, r.Status)
			}
			if i < 10 {
				continue
			}
			r = ls.Call(t, c, "POST", ls.SiteURL("post", "/api/login"),
				map[string]string{"email": email, "password": password}, "X-Forwarded-For", ip)
			if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
				t.Fatalf("second try from %s on an account under attack: %d, Retry-After %q, want 429", ip, r.Status, r.Header.Get("Retry-After"))
			}
		}
		// The owner, from an address that has not failed, still logs in.
		r := ls.Call(t, c, "POST", ls.SiteURL("post", "/api/login"), map[string]string{"email": email, "password": password},
			"X-Forwarded-For", "192.0.2.200")
		if r.Status != http.StatusOK {
			t.Errorf("right password from a new client on an account under attack: %d %s, want 200", r.Status, r.Body)
		}
	})
}

// TestFailedLoginsDoNotLockTheOwnerOut: one address failing at an
// account's password is throttled on it (429 with Retry-After, even with
// the right password), while the owner logs in at once from another
// address, over the API and the dashboard's form alike.
func TestFailedLoginsDoNotLockTheOwnerOut(t *testing.T) {
	ls := startLive(t, "--trusted-proxy", "127.0.0.1/32")
	email, password := ls.newTenant(t, "post")
	host := webtest.Host("post")
	const attacker = "203.0.113.66"
	c := ls.Browser()
	var last webtest.APIResult
	for i := 0; i < 20 && last.Status != http.StatusTooManyRequests; i++ {
		last = ls.Call(t, c, "POST", ls.SiteURL("post", "/api/login"),
			map[string]string{"email": email, "password": fmt.Sprintf("guess %d", i)}, "X-Forwarded-For", attacker)
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("20 wrong passwords from one address: last %d, Retry-After %q, want 429", last.Status, last.Header.Get("Retry-After"))
	}
	if r := ls.Call(t, c, "POST", ls.SiteURL("post", "/api/login"),
		map[string]string{"email": email, "password": password}, "X-Forwarded-For", attacker); r.Status != http.StatusTooManyRequests {
		t.Errorf("the right password from the throttled address: %d, want 429", r.Status)
	}
	// The attacker's address is refused on the dashboard's form too.
	b := ls.Browser()
	p := ls.Form(t, b, host, "/admin/login", nil)
	p = ls.Form(t, b, host, "/admin/login", url.Values{"email": {email}, "password": {password},
		"login_token": {webtest.LoginToken(p.Body)}, "next": {"/admin"}}, "X-Forwarded-For", attacker)
	if p.Status != http.StatusTooManyRequests {
		t.Errorf("dashboard login from the throttled address: %d, want 429", p.Status)
	}

	// The owner, elsewhere, is let in at once: API and dashboard.
	if r := ls.Call(t, ls.Browser(), "POST", ls.SiteURL("post", "/api/login"),
		map[string]string{"email": email, "password": password}, "X-Forwarded-For", "198.51.100.7"); r.Status != http.StatusOK {
		t.Errorf("API login of the owner from another address: %d %s, want 200", r.Status, r.Body)
	}
	b = ls.Browser()
	p = ls.Form(t, b, host, "/admin/login", nil)
	p = ls.Form(t, b, host, "/admin/login", url.Values{"email": {email}, "password": {password},
		"login_token": {webtest.LoginToken(p.Body)}, "next": {"/admin"}}, "X-Forwarded-For", "198.51.100.8")
	if p.Status != http.StatusSeeOther || p.Location != "/admin" {
		t.Errorf("dashboard login of the owner from another address: %d %q, want 303 to /admin", p.Status, p.Location)
	}
}

func TestPasswordChangeThrottled(t *testing.T) {
	ls := startLive(t)
	email, password := ls.newTenant(t, "guess")
	tok := ls.Login(t, "guess", email, password)
	c := ls.Browser()
	var last webtest.APIResult
	for i := 0; i < 15 && last.Status != http.StatusTooManyRequests; i++ {
		last = ls.Call(t, c, "POST", ls.SiteURL("guess", "/api/password"),
			map[string]string{"current_password": fmt.Sprintf("guess number %d", i), "new_password": "a brand new long password"}, webtest.Bearer(tok)...)
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("15 wrong current passwords: last %d %s", last.Status, last.Body)
	}
	if r := ls.Call(t, c, "POST", ls.SiteURL("guess", "/api/password"),
		map[string]string{"current_password": password, "new_password": "a brand new long password"}, webtest.Bearer(tok)...); r.Status != http.StatusTooManyRequests {
		t.Errorf("the right current password while throttled: %d, want 429", r.Status)
	}
}

// firstSecret is the signing secret in dir's generated secrets file.
func firstSecret(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, auth.SecretsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	t.Fatal("no secret in the secrets file")
	return ""
}
