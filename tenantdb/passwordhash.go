package tenantdb

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// Stored password hashes are argon2id in the PHC string format
//
//	$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>
//
// and verifying one costs what its parameters say: m KiB of memory, t
// passes over it, p threads. A tenant file may come from elsewhere (an
// import, a restore), so its hashes are data like any other: the
// parameters are bounded here, once, for both the import's checks and the
// verifier, which refuses to compute a hash beyond them. The ceiling is a
// few times what Chapterhouse produces (19 MiB, t=2, p=1) and takes the
// common library defaults (argon2-cffi: 64 MiB, t=3, p=4).
const (
	MaxHashMemoryKiB = 64 * 1024
	MaxHashTime      = 3
	MaxHashThreads   = 4
)

// PasswordHash is a parsed argon2id hash.
type PasswordHash struct {
	Memory    uint32 // KiB
	Time      uint32
	Threads   uint8
	Salt, Key []byte
}

// ParsePasswordHash parses an argon2id PHC string and checks its
// parameters against the ceiling above.
func ParsePasswordHash(encoded string) (PasswordHash, error) {
	var h PasswordHash
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return h, fmt.Errorf("not an argon2id hash in the PHC format")
	}
	if parts[2] != "v=19" {
		return h, fmt.Errorf("unsupported argon2 version %q (want v=19)", parts[2])
	}
	var m, t, p uint64
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 ||
		fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) != parts[3] {
		return h, fmt.Errorf("bad parameters %q", parts[3])
	}
	if m < 8*p || m > MaxHashMemoryKiB || t < 1 || t > MaxHashTime || p < 1 || p > MaxHashThreads {
		return h, fmt.Errorf("parameters %s are beyond what this server computes (at most m=%d KiB, t=%d, p=%d)",
			parts[3], MaxHashMemoryKiB, MaxHashTime, MaxHashThreads)
	}
	h.Memory, h.Time, h.Threads = uint32(m), uint32(t), uint8(p)
	b64 := base64.RawStdEncoding
	var err error
	if h.Salt, err = b64.DecodeString(parts[4]); err != nil || len(h.Salt) < 8 || len(h.Salt) > 64 {
		return h, fmt.Errorf("bad salt")
	}
	if h.Key, err = b64.DecodeString(parts[5]); err != nil || len(h.Key) < 16 || len(h.Key) > 64 {
		return h, fmt.Errorf("bad key")
	}
	return h, nil
}
