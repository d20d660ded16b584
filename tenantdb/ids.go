package tenantdb

import (
	"crypto/rand"
	"regexp"
)

// idAlphabet is lower-case base32 without padding: ids are safe in file
// names and URLs on every file system.
const idAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// newID returns n random characters of idAlphabet.
func newID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] = idAlphabet[b[i]&31]
	}
	return string(b)
}

// NewTenantID returns a fresh tenant id: 16 characters, 80 bits.
func NewTenantID() string { return newID(16) }

// NewToken is a random token of 26 base32 letters (130 bits): session ids,
// custom domains' ownership tokens.
func NewToken() string { return newID(26) }

var tenantIDPattern = regexp.MustCompile(`^[a-z2-7]{16}$`)

// ValidTenantID reports whether id has the shape of a server-made tenant id.
// Paths are only ever built from ids that pass it.
func ValidTenantID(id string) bool { return tenantIDPattern.MatchString(id) }

var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateSlug checks a tenant slug: 1-63 of a-z, 0-9 and '-', not starting
// or ending with '-', so that <slug>.<base domain> is a valid host name.
func ValidateSlug(slug string) error {
	if !slugPattern.MatchString(slug) {
		return invalid("slug", "%q must be 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'", slug)
	}
	return nil
}
