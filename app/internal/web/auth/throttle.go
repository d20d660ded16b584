package auth

import (
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/ratelimit"
)

// loginThrottle limits password guesses without letting a guesser lock
// the real owner out. It refuses an attempt before the password is
// checked only on what the attempt's own client did:
//
//   - perClient: every attempt of a client address counts (each costs a
//     password hash), whatever the account;
//   - perPair: the failures of one client on one account;
//   - underAttack: once an account's failures from all clients together
//     pass perAccount, each client gets one attempt on it per
//     underAttack period (the ceiling against a guesser spread over many
//     addresses).
//
// perAccount itself never refuses: a client with no recent failures on
// the account always gets its attempt checked, so the owner logs in with
// the right password from their own address however many addresses guess
// at the account. See docs/security.md, "Login throttling".
type loginThrottle struct {
	perClient   *ratelimit.Limiter
	perPair     *ratelimit.Limiter
	perAccount  *ratelimit.Limiter
	underAttack *ratelimit.Limiter
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{
		perClient:   ratelimit.New(20, 6*time.Second, 50_000),  // 20 at once, then 10 a minute
		perPair:     ratelimit.New(5, time.Minute, 50_000),     // 5 failures, then 1 a minute
		perAccount:  ratelimit.New(10, 30*time.Second, 50_000), // 10 failures, then 2 a minute
		underAttack: ratelimit.New(1, 15*time.Minute, 100_000), // then 1 per client per 15 minutes
	}
}

// accountKey names an account of a tenant in the throttles.
func accountKey(tenantID, email string) string {
	return tenantID + "\x00" + strings.ToLower(strings.TrimSpace(email))
}

// pairKey names one client's attempts on one account.
func pairKey(account, client string) string { return account + "\x00" + client }

const tooMany = "too many login attempts"

// allow decides whether client may try a password for account at now,
// before the password is checked: a *ratelimit.Error if not. Every
// allowed attempt counts against the client.
func (t *loginThrottle) allow(account, client string, now time.Time) error {
	pair := pairKey(account, client)
	if wait := t.perPair.Wait(pair, now); wait > 0 {
		return &ratelimit.Error{What: tooMany, Wait: wait}
	}
	if t.perAccount.Wait(account, now) > 0 {
		if wait := t.underAttack.Wait(pair, now); wait > 0 {
			return &ratelimit.Error{What: tooMany, Wait: wait}
		}
	}
	if ok, wait := t.perClient.Take(client, now); !ok {
		return &ratelimit.Error{What: tooMany, Wait: wait}
	}
	return nil
}

// failed records a wrong password of client for account at now.
func (t *loginThrottle) failed(account, client string, now time.Time) {
	pair := pairKey(account, client)
	t.perPair.Take(pair, now)
	if ok, _ := t.perAccount.Take(account, now); !ok || t.perAccount.Wait(account, now) > 0 {
		t.underAttack.Take(pair, now)
	}
}
