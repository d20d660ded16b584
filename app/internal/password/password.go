// Package password hashes and verifies admin passwords (argon2id, with a
// bound on concurrent hashes) and holds the rules a new password must meet.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// Passwords are hashed with argon2id (RFC 9106) at OWASP's baseline cost:
// 19 MiB of memory, 2 passes, 1 lane, a 16-byte random salt and a 32-byte
// key, stored in the PHC string format
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// so that the cost can be raised later without invalidating old hashes.
// argon2id has no length limit (unlike bcrypt's 72 bytes); passwords are
// capped at maxPasswordBytes only to bound the work per attempt.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32

	minPasswordRunes = 12
	MaxBytes         = 1024
)

// ErrBusy is every hashing slot stayed taken for the wait allowed.
var ErrBusy = errors.New("too many logins at once; please try again in a moment")

// Hasher hashes and verifies passwords with a bound on how many
// hashes run at once: each takes ~19 MiB and a core for a while, and a
// burst of logins must not take the machine down.
type Hasher struct {
	slots chan struct{}
	wait  time.Duration // how long a hash waits for a slot

	dummyOnce sync.Once
	dummy     string
}

func NewHasher() *Hasher {
	return &Hasher{
		slots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
		wait:  3 * time.Second,
	}
}

func (h *Hasher) acquire(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Hash returns the encoded argon2id hash of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) == 0 || len(password) > MaxBytes {
		return "", &tenantdb.ValidationError{Field: "password", Message: fmt.Sprintf("must be 1 to %d bytes", MaxBytes)}
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return hashPassword(password), nil
}

func hashPassword(password string) string {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches encoded. An empty encoded hash
// (an unknown account) is checked against a dummy hash of the same cost,
// so that the answer takes as long for an unknown email as for a wrong
// password, and is always false.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	known := encoded != ""
	if !known {
		h.dummyOnce.Do(func() { h.dummy = hashPassword("dummy password for unknown accounts") })
		encoded = h.dummy
	}
	if len(password) > MaxBytes {
		password = password[:MaxBytes] // still do the work; the result is false anyway
		known = false
	}
	ok, err := verifyPassword(encoded, password)
	return ok && known, err
}

// verifyPassword checks password against a PHC-encoded argon2id hash in
// constant time. Parameters beyond tenantdb's ceiling are refused, not
// computed, whatever the hash's origin: a hash at argon2's maximum cost
// would take gigabytes and seconds of a hashing slot every tenant shares.
func verifyPassword(encoded, password string) (bool, error) {
	h, err := tenantdb.ParsePasswordHash(encoded)
	if err != nil {
		return false, fmt.Errorf("password hash: %w", err)
	}
	got := argon2.IDKey([]byte(password), h.Salt, h.Time, h.Memory, h.Threads, uint32(len(h.Key)))
	return subtle.ConstantTimeCompare(got, h.Key) == 1, nil
}

// CheckRules enforces the password policy (NIST SP 800-63B style):
// at least 12 characters, at most 1024 bytes, not only one repeated
// character, and not the account's email address. No composition rules:
// length is what makes a password strong, and a passphrase is welcome.
func CheckRules(password, email string) error {
	bad := func(msg string) error { return &tenantdb.ValidationError{Field: "password", Message: msg} }
	switch {
	case !utf8.ValidString(password) || strings.ContainsAny(password, "\x00\r\n"):
		return bad("contains characters that cannot be typed")
	case utf8.RuneCountInString(password) < minPasswordRunes:
		return bad(fmt.Sprintf("must be at least %d characters; a few unrelated words make a good one", minPasswordRunes))
	case len(password) > MaxBytes:
		return bad(fmt.Sprintf("must be at most %d bytes", MaxBytes))
	case strings.Trim(password, password[:1]) == "":
		return bad("must not be one character repeated")
	case email != "" && strings.EqualFold(strings.TrimSpace(password), strings.TrimSpace(email)):
		return bad("must not be your email address")
	}
	return nil
}

// Generate returns a random password of four groups of five
// lower-case letters and digits (about 99 bits), easy to read out and type.
func Generate() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789" // no i, l, o, 0, 1
	b := make([]byte, 20)
	rand.Read(b)
	var s strings.Builder
	for i, c := range b {
		if i > 0 && i%5 == 0 {
			s.WriteByte('-')
		}
		// 256 % 31 != 0: the bias of a byte modulo 31 is under 1% per
		// character and irrelevant at this length.
		s.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return s.String()
}
