package cli

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"

	"github.com/chapterhouse/chapterhouse/app/internal/password"
	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// withWritableTenant runs fn on tenant slug's database unless the tenant is
// read-only for maintenance, when a change could be lost.
func (e *cmdEnv) withWritableTenant(ctx context.Context, slug string, fn func(t catalog.Tenant, db *tenantdb.DB) error) error {
	return e.p.WithTenant(ctx, slug, func(t catalog.Tenant, h *pool.Handle) error {
		if t.Status == catalog.StatusFrozen {
			return fmt.Errorf("tenant %s is read-only for maintenance; try again when it is active", t.Slug)
		}
		return fn(t, h.DB)
	})
}

// readPasswordLine reads the password from the first line of the
// command's standard input.
func (e *cmdEnv) readPasswordLine() (string, error) {
	sc := bufio.NewScanner(e.stdin)
	sc.Buffer(make([]byte, 4096), password.MaxBytes+2)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return "", &usageError{fmt.Sprintf("%s: reading the password from standard input: %v", e.cmd.name, err)}
		}
		return "", &usageError{fmt.Sprintf("%s: --password-stdin: no password on standard input", e.cmd.name)}
	}
	pw := strings.TrimRight(sc.Text(), "\r")
	if pw == "" {
		return "", &usageError{fmt.Sprintf("%s: --password-stdin: the first line of standard input is empty", e.cmd.name)}
	}
	return pw, nil
}

// cmdAdminAdd: admin add SLUG EMAIL [--role owner|editor] [--password-stdin].
// Without --password-stdin a password is generated and printed once.
func cmdAdminAdd(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	role := fs.String("role", tenantdb.RoleEditor, "owner or editor")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	pos, err := e.parse(fs, args, 2)
	if err != nil {
		return err
	}
	password := ""
	if *fromStdin {
		if password, err = e.readPasswordLine(); err != nil {
			return err
		}
	}
	return e.withWritableTenant(ctx, pos[0], func(t catalog.Tenant, db *tenantdb.DB) error {
		a, generated, err := e.p.AddAdmin(ctx, db, pos[1], *role, password)
		if err != nil {
			return err
		}
		e.audit(ctx, "admin.add", t.ID, a.Email+" ("+a.Role+")")
		e.printf("added %s %s to %s; they log in at %s/admin\n", a.Role, a.Email, t.Slug, e.p.SiteURL(t.Slug))
		if generated != "" {
			e.printf("password: %s\n", generated)
		}
		return nil
	})
}

// cmdAdminResetPassword: admin reset-password SLUG EMAIL sets a new
// generated password (or the first line of stdin with --password-stdin),
// prints it, and ends the admin's sessions.
func cmdAdminResetPassword(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	fromStdin := fs.Bool("password-stdin", false, "read the new password from the first line of standard input")
	pos, err := e.parse(fs, args, 2)
	if err != nil {
		return err
	}
	pw, generated := "", false
	if *fromStdin {
		if pw, err = e.readPasswordLine(); err != nil {
			return err
		}
	}
	return e.withWritableTenant(ctx, pos[0], func(t catalog.Tenant, db *tenantdb.DB) error {
		a, err := db.AdminByEmail(ctx, pos[1])
		if err != nil {
			return fmt.Errorf("%s has no admin %s", t.Slug, pos[1])
		}
		if pw == "" {
			pw, generated = password.Generate(), true
		} else if err := password.CheckRules(pw, a.Email); err != nil {
			return err
		}
		hash, err := e.p.Passwords.Hash(ctx, pw)
		if err != nil {
			return err
		}
		if err := db.SetPassword(ctx, a.ID, hash); err != nil {
			return err
		}
		e.audit(ctx, "admin.reset-password", t.ID, a.Email)
		e.printf("new password set for %s on %s; their sessions have ended\n", a.Email, t.Slug)
		if generated {
			e.printf("password: %s\n", pw)
		}
		return nil
	})
}

// cmdAdminList: admin list SLUG [--json].
func cmdAdminList(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := e.parse(fs, args, 1)
	if err != nil {
		return err
	}
	return e.p.WithTenant(ctx, pos[0], func(t catalog.Tenant, db *pool.Handle) error {
		as, err := db.Admins(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e.stdout, nonNil(as))
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tROLE\tCREATED\tPASSWORD CHANGED")
		for _, a := range as {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", a.ID, a.Email, a.Role,
				a.CreatedAt.Format(time.DateOnly), a.PasswordChangedAt.Format(time.DateOnly))
		}
		return tw.Flush()
	})
}

// cmdAdminRemove: admin remove SLUG EMAIL (the last owner stays).
func cmdAdminRemove(ctx context.Context, e *cmdEnv, args []string) error {
	pos, err := e.parse(e.flags(), args, 2)
	if err != nil {
		return err
	}
	return e.withWritableTenant(ctx, pos[0], func(t catalog.Tenant, db *tenantdb.DB) error {
		a, err := db.AdminByEmail(ctx, pos[1])
		if err != nil {
			return fmt.Errorf("%s has no admin %s", t.Slug, pos[1])
		}
		if err := db.DeleteAdmin(ctx, a.ID); err != nil {
			return err
		}
		e.audit(ctx, "admin.remove", t.ID, a.Email)
		e.printf("removed %s from %s\n", a.Email, t.Slug)
		return nil
	})
}
