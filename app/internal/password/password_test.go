package password

import (
	"encoding/base64"
	"fmt"

	"golang.org/x/crypto/argon2"

	"context"
	"github.com/chapterhouse/chapterhouse/tenantdb"
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

// TestVerifyRefusesHashesBeyondTheCeiling: a stored hash (an imported
// tenant's) at argon2's old accepted maximum, 256 MiB and 10 passes, is
// refused without being computed; one within the ceiling is verified.
func TestVerifyRefusesHashesBeyondTheCeiling(t *testing.T) {
	ctx := context.Background()
	h := NewHasher()
	salt := []byte("saltsaltsaltsalt")
	b64 := base64.RawStdEncoding
	phc := func(m, tt uint32, p uint8, pw string) string {
		key := argon2.IDKey([]byte(pw), salt, tt, m, p, 32)
		return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, tt, p, b64.EncodeToString(salt), b64.EncodeToString(key))
	}
	costly := "$argon2id$v=19$m=262144,t=10,p=1$" + b64.EncodeToString(salt) + "$" + strings.Repeat("A", 43)
	if ok, err := h.Verify(ctx, costly, "x"); ok || err == nil || !strings.Contains(err.Error(), "beyond") {
		t.Errorf("Verify of a 256 MiB, t=10 hash = %v, %v; want an error saying it is beyond the ceiling", ok, err)
	}
	within := phc(tenantdb.MaxHashMemoryKiB, 1, 1, "correct horse battery staple")
	if ok, err := h.Verify(ctx, within, "correct horse battery staple"); !ok || err != nil {
		t.Errorf("Verify of a hash at the ceiling's memory = %v, %v; want true", ok, err)
	}
}
