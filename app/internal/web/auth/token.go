package auth

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// Login tokens are JWTs signed with HS256 only. The key is derived per
// tenant from a server secret, so a token minted for tenant A does not
// verify on tenant B even if its audience were never checked; and B's file
// has no session with A's session id anyway.
const (
	tokenTTL    = 12 * time.Hour
	tokenIssuer = "chapterhouse"
	// SecretsFile holds the server secrets when --secret-file is not given.
	SecretsFile = "token-secrets"
)

// Keyring holds the server secrets. The first signs new tokens; the others
// still verify tokens signed before a rotation. Each is named by a kid
// derived from it, which tokens carry in their header.
type Keyring struct {
	secrets []serverSecret
}

type serverSecret struct {
	kid    string
	secret []byte
}

// LoadKeyring reads the secrets from file, or from DATA/token-secrets,
// which is created with one random secret (mode 0600) if it does not exist.
// With neither a file nor a data dir, the secret lives in memory only.
func LoadKeyring(dataDir, file string) (*Keyring, error) {
	if file == "" && dataDir == "" {
		return NewKeyring(NewSecret())
	}
	if file == "" {
		file = filepath.Join(dataDir, SecretsFile)
		content := "# Chapterhouse token secrets: the first line signs login tokens, later lines\n" +
			"# still verify them (rotation: add a new first line, restart, drop the old\n" +
			"# line after " + tokenTTL.String() + "). Keep this file private: it can mint logins.\n" +
			NewSecret() + "\n"
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.WriteString(content)
			err = errors.Join(err, f.Sync(), f.Close())
			if err != nil {
				os.Remove(file)
				return nil, fmt.Errorf("writing %s: %w", file, err)
			}
		} else if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("token secrets: %w", err)
	}
	k, err := ParseKeyring(data)
	if err != nil {
		return nil, fmt.Errorf("token secrets in %s: %w", file, err)
	}
	return k, nil
}

func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseKeyring reads one secret per line (at least 32 characters; blank
// lines and # comments are skipped).
func ParseKeyring(data []byte) (*Keyring, error) {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, errors.New("no secret (one secret of at least 32 characters per line)")
	}
	return NewKeyring(lines...)
}

func NewKeyring(secrets ...string) (*Keyring, error) {
	k := &Keyring{}
	for i, s := range secrets {
		if len(s) < 32 {
			return nil, fmt.Errorf("secret %d is %d characters; at least 32 are needed", i+1, len(s))
		}
		sum := sha256.Sum256([]byte("chapterhouse kid\x00" + s))
		kid := strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:10]
		k.secrets = append(k.secrets, serverSecret{kid: kid, secret: []byte(s)})
	}
	return k, nil
}

// TenantKey derives the HS256 key of tenantID from the secret named kid.
func (k *Keyring) TenantKey(kid, tenantID string) ([]byte, bool) {
	for _, s := range k.secrets {
		if s.kid == kid {
			return deriveKey(s.secret, "tenant token key v1", tenantID), true
		}
	}
	return nil, false
}

// Current is the kid that signs new tokens.
func (k *Keyring) Current() string { return k.secrets[0].kid }

func deriveKey(secret []byte, purpose, tenantID string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("chapterhouse\x00" + purpose + "\x00" + tenantID))
	return m.Sum(nil)
}

// tokenClaims are the claims of a login token: sub is the admin's id, aud
// the tenant's id, sid the session row that must still exist.
type tokenClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// mintToken signs a login token for admin's session sess on tenant t.
func (a *Auth) mintToken(t catalog.Tenant, admin tenantdb.Admin, sess tenantdb.Session) (string, error) {
	kid := a.keys.Current()
	key, _ := a.keys.TenantKey(kid, t.ID)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Subject:   strconv.FormatInt(admin.ID, 10),
			Audience:  jwt.ClaimStrings{t.ID},
			IssuedAt:  jwt.NewNumericDate(sess.CreatedAt),
			ExpiresAt: jwt.NewNumericDate(sess.ExpiresAt),
		},
		SessionID: sess.ID,
	})
	tok.Header["kid"] = kid
	return tok.SignedString(key)
}

// errBadToken is every reason a token is refused; the details are not the
// client's business.
var errBadToken = errors.New("invalid or expired login token")

// parseToken verifies raw for tenant tenantID: HS256 with the tenant's key
// of the kid in its header, the issuer, the tenant as audience, iat, and
// an exp that must be present and in the future. It does not look at the
// session: the caller does.
func (a *Auth) parseToken(tenantID, raw string) (*tokenClaims, error) {
	if len(raw) > 4096 {
		return nil, errBadToken
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(tenantID),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(a.now),
		jwt.WithStrictDecoding(),
	)
	claims := &tokenClaims{}
	_, err := p.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, ok := a.keys.TenantKey(kid, tenantID)
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return key, nil
	})
	if err != nil || claims.SessionID == "" || claims.Subject == "" {
		return nil, errBadToken
	}
	return claims, nil
}

// CSRFToken is the anti-forgery token of a session for the dashboard's
// forms: an HMAC of the session id under the tenant's key, so it needs no
// storage and dies with the session.
func (a *Auth) CSRFToken(tenantID, sessionID string) string {
	key, _ := a.keys.TenantKey(a.keys.Current(), tenantID)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("csrf\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
