package auth

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

const tenantA, tenantB = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"

// tokenAuth is an Auth with only keys and a clock: enough for tokens.
func tokenAuth(t *testing.T, secrets ...string) (*Auth, *testClock) {
	t.Helper()
	k, err := NewKeyring(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	return &Auth{keys: k, now: clock.Now, throttle: newLoginThrottle()}, clock
}

// sign signs claims for tenant with the key of kid, with the given
// method; kid "" leaves the header without one.
func sign(t *testing.T, a *Auth, method jwt.SigningMethod, kid, tenant string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	key, _ := a.keys.TenantKey(a.keys.Current(), tenant)
	if kid != "" {
		if k, ok := a.keys.TenantKey(kid, tenant); ok {
			key = k
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func goodClaims(now time.Time, tenant string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": tokenIssuer, "sub": "7", "aud": []string{tenant}, "sid": "session-1",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// TestTokensVerifyOnlyWhatTheyClaim: parseToken takes an HS256 token of
// this tenant's key (any secret of the keyring), issuer, audience, with
// an exp in the future, an iat not in it, a session and a subject; each
// claim changed on its own is refused.
func TestTokensVerifyOnlyWhatTheyClaim(t *testing.T) {
	old := NewSecret()
	a, clock := tokenAuth(t, NewSecret(), old)
	now := clock.Now()
	minted, err := a.mintToken(catalog.Tenant{ID: tenantA}, tenantdb.Admin{ID: 7},
		tenantdb.Session{ID: "session-1", CreatedAt: now, ExpiresAt: now.Add(tokenTTL)})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := a.parseToken(tenantA, minted)
	if err != nil || claims.Subject != "7" || claims.SessionID != "session-1" {
		t.Fatalf("minted token: %+v, %v", claims, err)
	}
	oldOnly, _ := tokenAuth(t, old)
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := goodClaims(now, tenantA)
		change(c)
		return c
	}
	for _, tc := range []struct {
		name string
		tok  string
		ok   bool
	}{
		{"good", sign(t, a, jwt.SigningMethodHS256, a.keys.Current(), tenantA, goodClaims(now, tenantA)), true},
		{"signed by the older secret", sign(t, oldOnly, jwt.SigningMethodHS256, oldOnly.keys.Current(), tenantA, goodClaims(now, tenantA)), true},
		{"no kid", sign(t, a, jwt.SigningMethodHS256, "", tenantA, goodClaims(now, tenantA)), false},
		{"unknown kid", sign(t, a, jwt.SigningMethodHS256, "nosuchkid0", tenantA, goodClaims(now, tenantA)), false},
		{"another tenant's key", sign(t, a, jwt.SigningMethodHS256, a.keys.Current(), tenantB, goodClaims(now, tenantA)), false},
		{"another tenant as audience", sign(t, a, jwt.SigningMethodHS256, a.keys.Current(), tenantA, goodClaims(now, tenantB)), false},
		{"HS512", sign(t, a, jwt.SigningMethodHS512, a.keys.Current(), tenantA, goodClaims(now, tenantA)), false},
		{"another issuer", sign(t, a, jwt.SigningMethodHS256, a.keys.Current(), tenantA, with(func(c jwt.MapClaims) { c["iss"] = "someone" })), false},
		{"no exp", sign(t, a, jwt.SigningMethodHS256, a.keys.Current(), tenantA, with(func(c jwt.MapClaims) { delete(c, "exp") })), false},
		{"expired", sign(t, a, jwt.SigningMethodHS256, a.keys.Current(), tenantA, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() })), false},
		{"issued in the future", sign(t, a, jwt.SigningMethodHS256, a.keys.Current(), tenantA, with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() })), false},
		{"no session", sign(t, a, jwt.SigningMethodHS256, a.keys.Current(), tenantA, with(func(c jwt.MapClaims) { delete(c, "sid") })), false},
		{"no subject", sign(t, a, jwt.SigningMethodHS256, a.keys.Current(), tenantA, with(func(c jwt.MapClaims) { delete(c, "sub") })), false},
		{"alg none", func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, goodClaims(now, tenantA)).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}(), false},
	} {
		_, err := a.parseToken(tenantA, tc.tok)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && err != errBadToken {
			t.Errorf("%s: err %v, want errBadToken", tc.name, err)
		}
	}

	// Expiry follows the Auth's clock to the second.
	clock.Add(tokenTTL - time.Second)
	if _, err := a.parseToken(tenantA, minted); err != nil {
		t.Errorf("a second before exp: %v", err)
	}
	clock.Add(time.Second)
	if _, err := a.parseToken(tenantA, minted); err == nil {
		t.Error("at exp: the token still verifies")
	}
}

// TestTokensUpTo4096BytesAreRead: the length bound is inclusive.
func TestTokensUpTo4096BytesAreRead(t *testing.T) {
	a, clock := tokenAuth(t, NewSecret())
	// The payload's base64 cannot take every length, so the header's
	// own padding moves the total by one where the payload's cannot.
	key, _ := a.keys.TenantKey(a.keys.Current(), tenantA)
	byLen := map[int]string{}
	for pad := 2820; pad < 2900; pad++ {
		for hpad := 0; hpad < 4; hpad++ {
			c := goodClaims(clock.Now(), tenantA)
			c["pad"] = strings.Repeat("p", pad)
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
			tok.Header["kid"] = a.keys.Current()
			tok.Header["p"] = strings.Repeat("h", hpad)
			s, err := tok.SignedString(key)
			if err != nil {
				t.Fatal(err)
			}
			byLen[len(s)] = s
		}
	}
	at4096, at4097 := byLen[4096], byLen[4097]
	if at4096 == "" || at4097 == "" {
		lens := []int{}
		for l := range byLen {
			lens = append(lens, l)
		}
		t.Fatalf("no padding gave tokens of 4096 and 4097 bytes: %v", lens)
	}
	if _, err := a.parseToken(tenantA, at4096); err != nil {
		t.Errorf("a token of 4096 bytes: %v", err)
	}
	if _, err := a.parseToken(tenantA, at4097); err == nil {
		t.Error("a token of 4097 bytes verified")
	}
}

// TestLoadKeyring: without a file or a data dir the secret lives in
// memory; with a data dir a private file of one secret is made once and
// read after; a file given is read as it is and wins over the data dir;
// a missing, empty or short file is an error naming the file.
func TestLoadKeyring(t *testing.T) {
	k1, err := LoadKeyring("", "")
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := LoadKeyring("", "")
	if k1.Current() == "" || k1.Current() == k2.Current() {
		t.Errorf("in-memory keyrings %q and %q", k1.Current(), k2.Current())
	}

	dir := t.TempDir()
	made, err := LoadKeyring(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, SecretsFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v %v", fi, err)
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "# Chapterhouse token secrets") ||
		!strings.Contains(lines[2], "# line after 12h0m0s). Keep this file private") || len(lines[3]) != 43 {
		t.Errorf("secrets file:\n%s", data)
	}
	again, err := LoadKeyring(dir, "")
	if err != nil || again.Current() != made.Current() {
		t.Errorf("second load: %v, kid %q, want %q", err, again.Current(), made.Current())
	}

	first, second := strings.Repeat("1", 32), strings.Repeat("2", 40)
	own := filepath.Join(t.TempDir(), "mine")
	os.WriteFile(own, []byte("# a comment\n\n  "+first+"  \n# another\n"+second+"\n"), 0o600)
	other := t.TempDir()
	k, err := LoadKeyring(other, own)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := NewKeyring(first, second)
	if k.Current() != want.Current() || len(k.secrets) != 2 || k.secrets[1].kid != want.secrets[1].kid {
		t.Errorf("kids %+v, want %+v", k.secrets, want.secrets)
	}
	if _, err := os.Stat(filepath.Join(other, SecretsFile)); !os.IsNotExist(err) {
		t.Errorf("a secrets file was made in the data dir beside --secret-file: %v", err)
	}

	for _, tc := range []struct{ name, content, errHas string }{
		{"comments only", "# nothing\n\n", "no secret"},
		{"short", "short\n", "secret 1 is 5 characters"},
	} {
		p := filepath.Join(t.TempDir(), "s")
		os.WriteFile(p, []byte(tc.content), 0o600)
		if _, err := LoadKeyring("", p); err == nil || !strings.Contains(err.Error(), tc.errHas) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want %q naming the file", tc.name, err, tc.errHas)
		}
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := LoadKeyring("", missing); err == nil || !strings.Contains(err.Error(), "token secrets") {
		t.Errorf("a missing file: %v", err)
	}
	if _, err := LoadKeyring(filepath.Join(t.TempDir(), "no", "such", "dir"), ""); err == nil {
		t.Error("a data dir that does not exist gave a keyring")
	}
}

// TestLoginThrottle checks each limit of the throttle on its own clock:
// 20 attempts per client at once then one per 6 s; 5 failures per
// client and account then one a minute; and once an account has 10
// failures from all clients, one attempt per client per 15 minutes for
// the clients that failed during the attack, while a client with no
// failures (the owner) always gets its attempt.
func TestLoginThrottle(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	wait := func(err error) time.Duration {
		if err == nil {
			return 0
		}
		rle, ok := err.(*ratelimit.Error)
		if !ok || rle.What != tooMany {
			t.Fatalf("refusal %v is not the throttle's", err)
		}
		return rle.Wait
	}

	t.Run("per client", func(t *testing.T) {
		th := newLoginThrottle()
		for i := 0; i < 20; i++ {
			if err := th.allow(accountKey("t", string(rune('a'+i))+"@x.org"), "c", t0); err != nil {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		if w := wait(th.allow(accountKey("t", "z@x.org"), "c", t0)); w != 6*time.Second {
			t.Errorf("21st attempt waits %v, want 6s", w)
		}
		if err := th.allow(accountKey("t", "z@x.org"), "c2", t0); err != nil {
			t.Errorf("another client: %v", err)
		}
		if err := th.allow(accountKey("t", "z@x.org"), "c", t0.Add(6*time.Second)); err != nil {
			t.Errorf("6 s later: %v", err)
		}
	})

	t.Run("per client and account", func(t *testing.T) {
		th := newLoginThrottle()
		acct := accountKey("t", "owner@x.org")
		for i := 0; i < 5; i++ {
			if err := th.allow(acct, "c", t0); err != nil {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
			th.failed(acct, "c", t0)
		}
		if w := wait(th.allow(acct, "c", t0)); w != time.Minute {
			t.Errorf("after 5 failures: wait %v, want 1m", w)
		}
		if err := th.allow(acct, "owner", t0); err != nil {
			t.Errorf("the owner's own client: %v", err)
		}
		if err := th.allow(accountKey("t", "other@x.org"), "c", t0); err != nil {
			t.Errorf("the same client on another account: %v", err)
		}
		if err := th.allow(accountKey("u", "owner@x.org"), "c", t0); err != nil {
			t.Errorf("the same email on another tenant: %v", err)
		}
		if err := th.allow(acct, "c", t0.Add(time.Minute)); err != nil {
			t.Errorf("a minute later: %v", err)
		}
	})

	t.Run("account under attack", func(t *testing.T) {
		th := newLoginThrottle()
		acct := accountKey("t", "owner@x.org")
		// c1 fails before the attack; c2..c10 make it 10 failures.
		for i := 1; i <= 10; i++ {
			c := fmt.Sprintf("c%d", i)
			if err := th.allow(acct, c, t0); err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			th.failed(acct, c, t0)
		}
		if err := th.allow(acct, "c1", t0); err != nil {
			t.Errorf("c1, which failed before the attack: %v", err)
		}
		if w := wait(th.allow(acct, "c10", t0)); w != 15*time.Minute {
			t.Errorf("c10, whose failure made it an attack: wait %v, want 15m", w)
		}
		if err := th.allow(acct, "fresh", t0); err != nil {
			t.Fatalf("a client with no failures: %v", err)
		}
		th.failed(acct, "fresh", t0)
		if w := wait(th.allow(acct, "fresh", t0)); w != 15*time.Minute {
			t.Errorf("a client that failed during the attack: wait %v, want 15m", w)
		}
		if err := th.allow(acct, "owner", t0); err != nil {
			t.Errorf("the owner during the attack: %v", err)
		}
		// 30 s later the account has a failure to spare again: no attack.
		if err := th.allow(acct, "fresh", t0.Add(30*time.Second)); err != nil {
			t.Errorf("after the attack: %v", err)
		}
	})

	if accountKey("t", "  Owner@X.org ") != accountKey("t", "owner@x.org") {
		t.Error("an account's key depends on case or spaces")
	}
	if accountKey("t", "owner@x.org") == accountKey("u", "owner@x.org") {
		t.Error("two tenants share an account key")
	}
}
