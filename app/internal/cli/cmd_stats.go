package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
)

func cmdTenantStats(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	asJSON := fs.Bool("json", false, "print JSON")
	t, _, err := e.parseTenant(fs, args, 1)
	if err != nil {
		return err
	}
	st, err := e.p.TenantStats(ctx, t)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, st)
	}
	when := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), e.p.Now().Sub(*t).Round(time.Second))
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "tenant:\t%s (id %s, %s)\n", st.Slug, st.ID, st.Status)
	fmt.Fprintf(tw, "file:\t%s\n", st.File)
	fmt.Fprintf(tw, "size on disk:\t%s (database %s, WAL %s, shared memory %s)\n",
		platform.HumanSize(st.SizeBytes), platform.HumanSize(st.DBBytes), platform.HumanSize(st.WALBytes), platform.HumanSize(st.SHMBytes))
	if u := st.Storage; u != nil {
		fmt.Fprintf(tw, "storage:\t%s; quota %s\n", u, quotaText(u.Quota, u.QuotaDefault))
		fmt.Fprintf(tw, "taken by:\t%s (%d images)\n", u.Breakdown(), u.MediaCount)
	}
	fmt.Fprintf(tw, "last written:\t%s\n", when(st.Modified))
	open := "no"
	if st.Open {
		open = "yes"
	}
	fmt.Fprintf(tw, "open now:\t%s\n", open)
	if st.Serving {
		fmt.Fprintf(tw, "requests:\t%d since the server started %s\n", st.Requests, st.Since.UTC().Format(time.RFC3339))
		fmt.Fprintf(tw, "last request:\t%s\n", when(st.LastRequest))
	} else {
		fmt.Fprintf(tw, "requests:\tnot known: no server is running (the server counts them in memory)\n")
	}
	domains := "none"
	if len(st.Domains) > 0 {
		domains = strings.Join(st.Domains, ", ")
	}
	fmt.Fprintf(tw, "custom domains:\t%s\n", domains)
	return tw.Flush()
}
