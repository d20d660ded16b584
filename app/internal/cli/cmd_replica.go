package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/replica"
)

func errNoReplica(e *cmdEnv) error {
	return fmt.Errorf("no replication here: start the server with `%s serve --replica URL` (or CHAPTERHOUSE_REPLICA); it reports on its own replica", e.progName())
}

// replicaStatusJSON is `replica status --json`.
type replicaStatusJSON struct {
	Replica    string             `json:"replica"`
	Databases  []replica.DBStatus `json:"databases"`
	Registered int                `json:"registered"`
	Failing    int                `json:"failing"`
	Bytes      int64              `json:"bytes_shipped"`
	SyncErrors int64              `json:"sync_errors"`
	Lists      int64              `json:"lists"`
}

func cmdReplicaStatus(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(e.stdout, e.cmd.usageLine(e.progName()), e.cmd.summary, fs)
		return errHelpShown
	}
	if err != nil || len(pos) > 1 {
		return &usageError{"replica status: want at most one SLUG\nusage: " + e.cmd.usageLine(e.progName())}
	}
	r := e.p.Replica
	if r == nil {
		return errNoReplica(e)
	}
	out := replicaStatusJSON{Replica: r.Target().String(), Bytes: r.Stats.Bytes.Load(), SyncErrors: r.Stats.SyncErrors.Load(), Lists: r.Stats.Lists.Load()}
	all := r.Registered()
	out.Registered = len(all)
	out.Failing = len(r.Failing(0, time.Now()))
	slugs := map[string]string{replica.CatalogName: "(catalog)"}
	if len(pos) == 1 {
		t, err := e.p.Catalog.Tenant(pos[0])
		if err != nil {
			return err
		}
		s, ok := r.Status(t.ID)
		if !ok {
			return fmt.Errorf("tenant %s has not been replicated by this server yet (it is replicated from its first open)", t.Slug)
		}
		all = []replica.DBStatus{s}
		slugs[t.ID] = t.Slug
	} else {
		for _, s := range all {
			if t, ok := e.p.Catalog.TenantByID(s.Name); ok {
				slugs[s.Name] = t.Slug
			}
		}
	}
	out.Databases = nonNil(all)
	if *asJSON {
		return printJSON(e.stdout, out)
	}
	e.printf("replica %s: %d databases streaming, %d failing; %d bytes shipped, %d sync errors, %d listings\n",
		out.Replica, out.Registered, out.Failing, out.Bytes, out.SyncErrors, out.Lists)
	e.printf("%-24s %-10s %10s %10s %8s  %-20s %s\n", "TENANT", "STATE", "LOCAL TX", "REPL TX", "LAG", "LAST SYNC", "LAST ERROR")
	for _, s := range all {
		state := "closed"
		if s.Registered {
			state = "streaming"
		} else if s.Waiting {
			state = "in step" // open, registered again at its next write
		}
		if !s.FailingSince.IsZero() {
			state = "failing"
		}
		last := "-"
		if !s.LastSync.IsZero() {
			last = s.LastSync.Format(time.RFC3339)
		}
		name := slugs[s.Name]
		if name == "" {
			name = s.Name
		}
		e.printf("%-24s %-10s %10d %10d %7.2fs  %-20s %s\n", name, state, s.LocalTXID, s.TXID, s.Lag, last, strings.ReplaceAll(s.LastError, "\n", " "))
	}
	return nil
}

func cmdReplicaVerify(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	sample := fs.Int("sample", 5, "tenants to check (0: all)")
	url := fs.String("replica", "", "the replica `URL` (default: the server's --replica)")
	if _, err := e.parse(fs, args, 0); err != nil {
		return err
	}
	if *sample < 0 {
		return &usageError{"replica verify: --sample must be 0 (all) or more"}
	}
	target, err := e.p.ReplicaTarget(*url)
	if err != nil {
		return err
	}
	ts, err := e.p.Catalog.Tenants(ctx)
	if err != nil {
		return err
	}
	ts = sampleTenants(ts, *sample)
	bar := newProgress(e.stdout, e.tty, "verify", len(ts))
	bad := 0
	for _, t := range ts {
		if err := e.p.VerifyReplica(ctx, target, t); err != nil {
			bad++
			bar.Step(fmt.Sprintf("BAD %s: %v", t.Slug, err))
			continue
		}
		bar.Step("")
	}
	if bad > 0 {
		e.printf("%d of %d tenants differ from their replica or could not be restored\n", bad, len(ts))
		return errSilent
	}
	e.printf("replica %s: %d tenants restored and match their live files (integrity_check, digest)\n", target, len(ts))
	return nil
}

// sampleTenants is n tenants of ts picked at random (all for 0).
func sampleTenants(ts []catalog.Tenant, n int) []catalog.Tenant {
	if n == 0 || n >= len(ts) {
		return ts
	}
	rand.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
	return ts[:n]
}
