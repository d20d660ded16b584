package tenantdb

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// phc writes an argon2id hash in the PHC format with a salt and a key of
// the lengths given.
func phc(m, t, p, salt, key int) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p,
		b64.EncodeToString([]byte(strings.Repeat("s", salt))), b64.EncodeToString([]byte(strings.Repeat("k", key))))
}

// TestParsePasswordHashTakesItsLimits: each parameter is taken at both
// ends of its range and refused one past either; so are the salt's and
// the key's lengths; and what is not an argon2id v19 PHC string is
// refused.
func TestParsePasswordHashTakesItsLimits(t *testing.T) {
	for _, tc := range []struct {
		name                string
		m, tm, p, salt, key int
	}{
		{"Chapterhouse's own", 19456, 2, 1, 16, 32},
		{"the least", 8, 1, 1, 8, 16},
		{"the most", MaxHashMemoryKiB, MaxHashTime, MaxHashThreads, 64, 64},
		{"memory of 8 a thread", 8 * MaxHashThreads, 1, MaxHashThreads, 8, 16},
	} {
		h, err := ParsePasswordHash(phc(tc.m, tc.tm, tc.p, tc.salt, tc.key))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if int(h.Memory) != tc.m || int(h.Time) != tc.tm || int(h.Threads) != tc.p || len(h.Salt) != tc.salt || len(h.Key) != tc.key {
			t.Errorf("%s: parsed as %+v", tc.name, h)
		}
	}
	for _, tc := range []struct {
		name    string
		encoded string
		says    string
	}{
		{"memory under 8 a thread", phc(8*2-1, 1, 2, 8, 16), "beyond what this server computes"},
		{"memory over the most", phc(MaxHashMemoryKiB+1, 1, 1, 8, 16), "beyond what this server computes"},
		{"no time", phc(8, 0, 1, 8, 16), "beyond"},
		{"time over the most", phc(8, MaxHashTime+1, 1, 8, 16), "beyond"},
		{"no thread", phc(8, 1, 0, 8, 16), "beyond"},
		{"threads over the most", phc(8*5, 1, MaxHashThreads+1, 8, 16), "beyond"},
		{"salt too short", phc(8, 1, 1, 7, 16), "bad salt"},
		{"salt too long", phc(8, 1, 1, 65, 16), "bad salt"},
		{"key too short", phc(8, 1, 1, 8, 15), "bad key"},
		{"key too long", phc(8, 1, 1, 8, 65), "bad key"},
		{"salt not base64", strings.Replace(phc(8, 1, 1, 8, 16), "$c3Nz", "$!!!!", 1), "bad salt"},
		{"argon2i", strings.Replace(phc(8, 1, 1, 8, 16), "argon2id", "argon2i", 1), "not an argon2id hash"},
		{"version 16", strings.Replace(phc(8, 1, 1, 8, 16), "v=19", "v=16", 1), "unsupported argon2 version"},
		{"parameters padded", strings.Replace(phc(8, 1, 1, 8, 16), "m=8", "m=08", 1), "bad parameters"},
		{"a part missing", "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ", "not an argon2id hash"},
	} {
		if _, err := ParsePasswordHash(tc.encoded); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s (%s): %v, want a refusal saying %q", tc.name, tc.encoded, err, tc.says)
		}
	}
}
