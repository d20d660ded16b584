package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
)

func cmdTrashList(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := e.parse(fs, args, 0); err != nil {
		return err
	}
	items, err := e.p.TrashItems(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, nonNil(items))
	}
	if len(items) == 0 {
		e.printf("the trash is empty\n")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tSLUG\tNAME\tTRASHED\tSIZE")
	for _, it := range items {
		size := platform.HumanSize(it.Size)
		switch {
		case it.Missing:
			size = "missing"
		case it.Orphan:
			size += " (not recorded)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.File, it.Slug, it.Name, it.DeletedAt.Format(time.RFC3339), size)
	}
	return tw.Flush()
}

func cmdTrashRestore(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	slug := fs.String("slug", "", "slug to restore the tenant as (default: the one it had)")
	pos, err := e.parse(fs, args, 1)
	if err != nil {
		return err
	}
	file := pos[0]
	if file != filepath.Base(file) || !strings.HasSuffix(file, ".db") {
		return &usageError{fmt.Sprintf("trash restore: %q is not a trash file name; see `%s trash list`", file, e.progName())}
	}
	entry, err := e.p.Catalog.TrashEntry(ctx, file)
	if err != nil {
		return err
	}
	if *slug == "" {
		*slug = entry.Slug
	}
	t, err := e.p.RestoreTrash(ctx, entry, *slug)
	if err != nil {
		return fmt.Errorf("trash restore %s: %w", file, err)
	}
	e.audit(ctx, "trash.restore", t.ID, fmt.Sprintf("%s as %s", file, t.Slug))
	e.printf("restored %s as tenant %s (id %s)\n", file, t.Slug, t.ID)
	e.printf("site: %s\n", e.p.SiteURL(t.Slug))
	return nil
}

func cmdTrashPurge(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	olderThan := fs.String("older-than", "", "purge what was trashed longer ago than this, e.g. 30d, 12h")
	if _, err := e.parse(fs, args, 0); err != nil {
		return err
	}
	if *olderThan == "" {
		return &usageError{"trash purge: --older-than DURATION is required, e.g. --older-than 30d (0s purges everything)"}
	}
	age, err := parseAge(*olderThan)
	if err != nil {
		return &usageError{"trash purge: " + err.Error()}
	}
	purged, left, err := e.p.PurgeTrash(ctx, age, func(it platform.TrashItem) {
		e.printf("purged %s (%s, trashed %s)\n", it.File, it.Slug, it.DeletedAt.Format(time.RFC3339))
		e.audit(ctx, "trash.purge", it.TenantID, it.File)
	})
	var freed int64
	for _, it := range purged {
		freed += it.Size
	}
	e.printf("purged %d files, %s freed; %d left in the trash\n", len(purged), platform.HumanSize(freed), left)
	return err
}

// parseAge reads a duration as Go writes it (36h, 90m) or in days (30d).
func parseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a duration like 30d or 12h", s)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration like 30d or 12h", s)
	}
	return d, nil
}
