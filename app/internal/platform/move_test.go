package platform

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
)

// lyingRemote is a destination data dir that takes every command but
// reports a digest that is not the source's, as a damaged copy would: the
// move must fail after the source was frozen and the copy made.
type lyingRemote struct {
	dir  string
	runs []string
}

func (r *lyingRemote) Dir() string  { return r.dir }
func (r *lyingRemote) Served() bool { return true }

func (r *lyingRemote) Run(_ context.Context, args ...string) (string, error) {
	r.runs = append(r.runs, strings.Join(args, " "))
	switch {
	case len(args) >= 2 && args[1] == "list":
		return "[]", nil
	case len(args) >= 2 && args[0] == "tenant" && args[1] == "digest":
		return strings.Repeat("0", 64) + "  " + args[2] + "\n", nil
	}
	return "", nil
}

// TestFailedMoveThawsTheSource moves a tenant to a destination whose copy
// does not verify: the move fails, the copy there is deleted, and the
// source is thawed (a frozen source refuses every write).
func TestFailedMoveThawsTheSource(t *testing.T) {
	ctx := context.Background()
	p, err := Open(ctx, t.TempDir(), 4, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tn, err := p.CreateTenant(ctx, "riverside", "Riverside Post 42")
	if err != nil {
		t.Fatal(err)
	}
	dest := &lyingRemote{dir: t.TempDir()}
	err = p.Move(ctx, tn, dest, io.Discard, io.Discard, "test")
	if err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("move to a destination with a bad copy: %v, want a digest mismatch", err)
	}
	now, ok := p.Catalog.TenantBySlug("riverside")
	if !ok || now.Status != catalog.StatusActive {
		t.Fatalf("after the failed move the source is %+v, want it active (thawed)", now)
	}
	if last := dest.runs[len(dest.runs)-1]; last != "tenant delete riverside" {
		t.Errorf("the copy at the destination was not deleted; last command %q", last)
	}
}
