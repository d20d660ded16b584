package password

import (
	"context"
	"strings"
	"testing"
)

func TestPasswords(t *testing.T) {
	h := NewHasher()
	ctx := context.Background()
	hash, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil || !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("Hash = %q, %v", hash, err)
	}
	if ok, err := h.Verify(ctx, hash, "correct horse battery staple"); !ok || err != nil {
		t.Errorf("right password: %v %v", ok, err)
	}
	if ok, _ := h.Verify(ctx, hash, "correct horse battery stapl"); ok {
		t.Error("wrong password verified")
	}
	if ok, err := h.Verify(ctx, "", "anything at all"); ok || err != nil {
		t.Errorf("unknown account: %v %v, want false without error", ok, err)
	}
	if h2, _ := h.Hash(ctx, "correct horse battery staple"); h2 == hash {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{
		"$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43), // 4 GiB
		"$argon2id$v=19$m=19456,t=1000,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43),
		"$2a$10$abcdefghijklmnopqrstuu",
		"plain",
	} {
		if ok, err := h.Verify(ctx, bad, "x"); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want an error", bad, ok, err)
		}
	}
	if _, err := h.Hash(ctx, ""); err == nil {
		t.Error("an empty password was hashed")
	}
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"correct horse battery staple", true},
		{"ünïcödé pässwörd", true},
		{"elevenchars", false},
		{"            ", false},
		{"owner@example.org", false},
		{strings.Repeat("x", 1025), false},
		{"line\nbreak in it here", false},
	} {
		if err := CheckRules(tc.pw, "owner@example.org"); (err == nil) != tc.ok {
			t.Errorf("CheckRules(%q) = %v, want ok %v", tc.pw, err, tc.ok)
		}
	}
	if p := Generate(); CheckRules(p, "") != nil || len(p) != 23 {
		t.Errorf("Generate() = %q breaks the rules", p)
	}
}
