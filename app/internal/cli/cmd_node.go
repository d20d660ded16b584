package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chapterhouse/chapterhouse/app/internal/platform"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// nodeListed is a node as `node list` shows it.
type nodeListed struct {
	ID        string    `json:"id"`
	Addr      string    `json:"addr"`
	Epoch     uint64    `json:"epoch"`
	Tenants   int       `json:"tenants"`
	Open      int       `json:"open"`
	Load      float64   `json:"load"`
	Heartbeat time.Time `json:"heartbeat"`
	// Draining: `node drain` ran on it; it gets no new tenants until it
	// restarts.
	Draining bool `json:"draining"`
}

// clusterOfEnv is the node this command runs in, or a clear error: the
// node commands need a server started with --cluster.
func clusterOfEnv(e *cmdEnv) (*platform.Cluster, error) {
	if e.p.Cluster == nil {
		return nil, errors.New(e.cmd.name + ": no node of a cluster serves this data dir (start it with serve --cluster, and point --data at a node's data dir)")
	}
	return e.p.Cluster, nil
}

func cmdNodeList(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := e.parse(fs, args, 0); err != nil {
		return err
	}
	c, err := clusterOfEnv(e)
	if err != nil {
		return err
	}
	var list []nodeListed
	for _, n := range c.Node.Nodes() {
		list = append(list, nodeListed{ID: n.ID, Addr: n.Advertise, Epoch: n.Epoch, Tenants: n.Owned, Open: n.Open, Load: n.Load, Heartbeat: n.Heartbeat, Draining: n.Draining})
	}
	if *asJSON {
		return printJSON(e.stdout, nonNil(list))
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tTENANTS\tOPEN\tLOAD (REQ/S)\tLAST HEARTBEAT")
	for _, n := range list {
		self := ""
		if n.ID == c.Node.ID() {
			self = " (this one)"
		}
		if n.Draining {
			self += " (draining)"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%d\t%d\t%.1f\t%s ago\n", n.ID, self, n.Addr, n.Tenants, n.Open, n.Load,
			time.Since(n.Heartbeat).Round(100*time.Millisecond))
	}
	return tw.Flush()
}

func cmdNodeDrain(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	pos, err := e.parse(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := clusterOfEnv(e)
	if err != nil {
		return err
	}
	if pos[0] != c.Node.ID() {
		live := false
		for _, n := range c.Node.Nodes() {
			live = live || n.ID == pos[0]
		}
		if !live {
			return fmt.Errorf("node drain: %q is not a live node of the cluster (`node list` shows them)", pos[0])
		}
		return fmt.Errorf("node drain: this data dir is node %s's; run the drain on node %s (its --data), which hands its tenants over", c.Node.ID(), pos[0])
	}
	start := time.Now()
	moved, failed, err := c.Drain(ctx, func(slug, to string, frozen time.Duration, err error) {
		if err != nil {
			e.printf("%s: not moved: %v\n", slug, err)
			return
		}
		e.printf("%s -> %s (frozen %s)\n", slug, to, frozen.Round(time.Millisecond))
	})
	if err != nil {
		return fmt.Errorf("node drain: %w", err)
	}
	e.audit(ctx, "node.drain", "", fmt.Sprintf("%s: %d moved, %d failed", pos[0], moved, failed))
	e.printf("drained %s: %d tenants moved, %d failed, in %s\n", pos[0], moved, failed, time.Since(start).Round(time.Millisecond))
	if failed > 0 {
		return fmt.Errorf("node drain: %d tenants could not be moved (see above)", failed)
	}
	return nil
}

// moveToNode hands tenant t to node to of the cluster (move --to-node).
func moveToNode(ctx context.Context, e *cmdEnv, t catalog.Tenant, to string) error {
	c, err := clusterOfEnv(e)
	if err != nil {
		return err
	}
	end, err := e.p.Ops.Begin("a move", t.ID, "slug "+t.Slug)
	if err != nil {
		return err
	}
	defer end()
	e.printf("moving %s from node %s to node %s\n", t.Slug, c.Node.ID(), to)
	frozen, err := c.Move(ctx, t, to)
	if err != nil {
		return fmt.Errorf("move %s: %w", t.Slug, err)
	}
	e.audit(ctx, "tenant.move", t.ID, "to node "+to)
	e.printf("moved %s to node %s; writes were refused for %s (the freeze window)\n", t.Slug, to, frozen.Round(time.Millisecond))
	return nil
}

// fileCommands work on a tenant's file, named by their first argument:
// in a cluster only the tenant's owner has it current.
var fileCommands = map[string]bool{
	"tenant stats": true, "tenant digest": true, "tenant sql": true, "tenant delete": true,
	"export": true, "import": true, "restore": true, "move": true,
	"admin add": true, "admin reset-password": true, "admin list": true, "admin remove": true,
}

// servedHere lets a command on a tenant's file run on a node of a cluster
// only where the tenant is served: its owner (a tenant with no live owner
// is claimed here and its file restored, as a request would). Elsewhere it
// is refused, naming the node to run it on.
func (e *cmdEnv) servedHere(ctx context.Context, args []string) error {
	if e.p == nil || e.p.Cluster == nil { // help, local commands, a single node
		return nil
	}
	c := e.p.Cluster
	if !fileCommands[e.cmd.name] || len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return nil
	}
	t, ok := e.p.Catalog.TenantBySlug(args[0])
	if !ok {
		return nil // a new tenant (import), or the command's own not-found error
	}
	owner, _, err := c.Route(ctx, t)
	if err != nil {
		return fmt.Errorf("%s: %w", e.cmd.name, err)
	}
	if owner != "" {
		o, _ := c.Node.Owner(t.ID)
		return fmt.Errorf("%s: tenant %s is served by node %s (%s), not this one (%s): run the command on that node's data dir",
			e.cmd.name, t.Slug, o.Node, owner, c.Node.ID())
	}
	return nil
}
