package platform

import (
	"context"
	"fmt"
	"strings"

	"github.com/chapterhouse/chapterhouse/app/internal/password"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// AddAdmin validates and adds an admin to db; an empty password is
// generated and returned (shown once).
func (p *Platform) AddAdmin(ctx context.Context, db *tenantdb.DB, email, role, pw string) (tenantdb.Admin, string, error) {
	a := tenantdb.Admin{Email: strings.TrimSpace(email), Role: role}
	if a.Role == "" {
		a.Role = tenantdb.RoleEditor
	}
	if err := tenantdb.ValidateEmail("email", a.Email); err != nil {
		return a, "", err
	}
	if err := tenantdb.ValidateRole(a.Role); err != nil {
		return a, "", err
	}
	generated := ""
	if pw == "" {
		pw = password.Generate()
		generated = pw
	} else if err := password.CheckRules(pw, a.Email); err != nil {
		return a, "", err
	}
	if _, err := db.AdminByEmail(ctx, a.Email); err == nil {
		return a, "", fmt.Errorf("admin %q: %w", a.Email, tenantdb.ErrConflict)
	}
	hash, err := p.Passwords.Hash(ctx, pw)
	if err != nil {
		return a, "", err
	}
	a.PasswordHash = hash
	if err := db.AddAdmin(ctx, &a); err != nil {
		return a, "", err
	}
	return a, generated, nil
}
