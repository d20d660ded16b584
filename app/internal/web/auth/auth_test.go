package auth

import (
	"bytes"
	"strings"
	"testing"
)

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/admin/posts", "/admin/posts"},
		{"/admin/posts?page=2", "/admin/posts?page=2"},
		{"/admin", "/admin"},
		{"", "/admin"},
		{"//evil.example", "/admin"},
		{"/\\evil.example", "/admin"},
		{"/admin\\..\\evil", "/admin"},
		{"https://evil.example/admin", "/admin"},
		{"javascript:alert(1)", "/admin"},
		{"/adminevil", "/admin"},
		{"/admin/\r\nLocation: //evil", "/admin"},
		{"/admin/%0d%0a", "/admin/%0d%0a"},
		{"/\t/evil.example", "/admin"},
		{"/", "/admin"},
		{"/p/about", "/admin"},
		// The bounds: 2,000 bytes pass, 2,001 do not; a space (0x20) is
		// no control character, 0x1f is.
		{"/admin/" + strings.Repeat("a", 1993), "/admin/" + strings.Repeat("a", 1993)},
		{"/admin/" + strings.Repeat("a", 1994), "/admin"},
		{"/admin/a b", "/admin/a b"},
		{"/admin/a\x1fb", "/admin"},
	} {
		if got := SafeNext(tc.in); got != tc.want {
			t.Errorf("SafeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestTenantKeysAreSeparate checks that every tenant signs with a key of
// its own, derived from the server secret and the tenant's id: a token of
// one chapter cannot verify on another even if the audience claim were
// never checked. The same secret and tenant give the same key (tokens
// survive a restart), and another secret another key.
func TestTenantKeysAreSeparate(t *testing.T) {
	k, err := NewKeyring(NewSecret(), NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	const a, b = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"
	ka, ok := k.TenantKey(k.Current(), a)
	if !ok || len(ka) < 32 {
		t.Fatalf("no key for tenant a: %v %x", ok, ka)
	}
	kb, _ := k.TenantKey(k.Current(), b)
	if bytes.Equal(ka, kb) {
		t.Fatal("two tenants share a signing key")
	}
	if again, _ := k.TenantKey(k.Current(), a); !bytes.Equal(ka, again) {
		t.Fatal("one tenant's key changed between derivations")
	}
	other := k.secrets[1].kid
	if ko, ok := k.TenantKey(other, a); !ok || bytes.Equal(ko, ka) {
		t.Fatalf("the second secret gives tenant a the same key (or none: %v)", ok)
	}
	if _, ok := k.TenantKey("nosuchkid", a); ok {
		t.Fatal("an unknown kid gave a key")
	}
}

// TestKeyringSecretsHaveAMinimumLength: a secret of 32 characters is the
// shortest taken; 31 is refused, naming the secret.
func TestKeyringSecretsHaveAMinimumLength(t *testing.T) {
	if _, err := NewKeyring(strings.Repeat("s", 32)); err != nil {
		t.Errorf("a 32-character secret: %v", err)
	}
	_, err := NewKeyring(strings.Repeat("s", 32), strings.Repeat("s", 31))
	if err == nil || !strings.Contains(err.Error(), "secret 2 is 31 characters") {
		t.Errorf("a 31-character secret: %v, want it refused by number", err)
	}
}
