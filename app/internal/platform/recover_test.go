package platform

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/catalog"
	"github.com/chapterhouse/chapterhouse/tenantdb/pool"
)

// scriptedRemote is a destination data dir that holds the tenants it is
// given and records the commands run there.
type scriptedRemote struct {
	dir     string
	tenants []catalog.Tenant
	runs    []string
}

func (r *scriptedRemote) Dir() string  { return r.dir }
func (r *scriptedRemote) Served() bool { return true }

func (r *scriptedRemote) Run(_ context.Context, args ...string) (string, error) {
	r.runs = append(r.runs, strings.Join(args, " "))
	if len(args) >= 2 && args[0] == "tenant" && args[1] == "list" {
		b, err := json.Marshal(r.tenants)
		return string(b), err
	}
	return "", nil
}

func (r *scriptedRemote) reach(context.Context, string) (Remote, func(), error) {
	return r, func() {}, nil
}

func openTestPlatform(t *testing.T, dir string) *Platform {
	t.Helper()
	p, err := Open(context.Background(), dir, 4, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// lockedBuffer is a log destination safe for the platform's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logTo sends p's log to a buffer from now on and returns it.
func logTo(p *Platform) *lockedBuffer {
	buf := &lockedBuffer{}
	p.Log = slog.New(slog.NewTextHandler(buf, nil))
	return buf
}

// interruptedMove leaves what a move killed midway leaves: tenant
// riverside frozen here and its record in DATA/moves/.
func interruptedMove(t *testing.T, p *Platform, committed bool) (catalog.Tenant, string) {
	t.Helper()
	ctx := context.Background()
	tn, err := p.CreateTenant(ctx, "riverside", "Riverside Post 42")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Catalog.SetStatus(ctx, tn.Slug, catalog.StatusFrozen); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(p.Dir, "moves", tn.ID+".json")
	os.MkdirAll(filepath.Dir(record), 0o700)
	rec := moveRecord{ID: tn.ID, Slug: tn.Slug, Status: catalog.StatusActive, Dest: "/elsewhere", Committed: committed}
	if err := WriteFileAtomic(record, rec); err != nil {
		t.Fatal(err)
	}
	return tn, record
}

// TestRecoverMovesUndoesAnUncommittedMove: a move killed before the
// destination held the verified copy is undone at the next start: the
// copy there is deleted and the source takes writes again.
func TestRecoverMovesUndoesAnUncommittedMove(t *testing.T) {
	p := openTestPlatform(t, t.TempDir())
	tn, record := interruptedMove(t, p, false)
	copyThere := tn
	dest := &scriptedRemote{dir: "/elsewhere", tenants: []catalog.Tenant{copyThere}}
	log := logTo(p)
	p.RecoverMoves(context.Background(), dest.reach)
	if !strings.Contains(log.String(), `msg="undid a move a crash interrupted" tenant=riverside`) {
		t.Errorf("the operator's log does not say the move was undone: %s", log)
	}
	if now, _ := p.Catalog.TenantBySlug(tn.Slug); now.Status != catalog.StatusActive {
		t.Errorf("after recovery the source is %q, want active", now.Status)
	}
	if !slices.Contains(dest.runs, "tenant delete riverside") {
		t.Errorf("the copy at the destination was not deleted: %q", dest.runs)
	}
	if _, err := os.Stat(record); err == nil {
		t.Error("the move's record is left after its recovery")
	}
}

// TestRecoverMovesFinishesACommittedMove: a move killed after the
// destination held the verified copy is finished: thawed there, retired
// here (its file in the trash).
func TestRecoverMovesFinishesACommittedMove(t *testing.T) {
	p := openTestPlatform(t, t.TempDir())
	tn, record := interruptedMove(t, p, true)
	copyThere := tn
	copyThere.Status = catalog.StatusFrozen
	dest := &scriptedRemote{dir: "/elsewhere", tenants: []catalog.Tenant{copyThere}}
	log := logTo(p)
	p.RecoverMoves(context.Background(), dest.reach)
	if !strings.Contains(log.String(), `msg="finished a move a crash interrupted" tenant=riverside`) {
		t.Errorf("the operator's log does not say the move was finished: %s", log)
	}
	if _, here := p.Catalog.TenantBySlug(tn.Slug); here {
		t.Error("after recovery the tenant is still here")
	}
	if !slices.Contains(dest.runs, "tenant thaw riverside") {
		t.Errorf("the copy at the destination was not thawed: %q", dest.runs)
	}
	if moved, _ := filepath.Glob(filepath.Join(p.Dir, "trash", tn.ID+"-*-moved.db")); len(moved) != 1 {
		t.Errorf("the source file is not in the trash: %v", moved)
	}
	if _, err := os.Stat(record); err == nil {
		t.Error("the move's record is left after its recovery")
	}
}

// TestRecoverMovesKeepsSourceFrozenWhenTheCopyIsMissing: a committed move
// whose destination does not hold the tenant (another id under that slug
// is not it) is neither finished nor undone: thawing here could serve the
// tenant from two places, retiring here could lose it.
func TestRecoverMovesKeepsSourceFrozenWhenTheCopyIsMissing(t *testing.T) {
	p := openTestPlatform(t, t.TempDir())
	tn, record := interruptedMove(t, p, true)
	other := catalog.Tenant{ID: tenantdb.NewTenantID(), Slug: tn.Slug, Status: catalog.StatusActive}
	dest := &scriptedRemote{dir: "/elsewhere", tenants: []catalog.Tenant{other}}
	p.RecoverMoves(context.Background(), dest.reach)
	if now, here := p.Catalog.TenantBySlug(tn.Slug); !here || now.Status != catalog.StatusFrozen {
		t.Errorf("after recovery the source is %+v (here %v), want it frozen here", now, here)
	}
	if len(dest.runs) != 1 {
		t.Errorf("commands run at the destination: %q, want only the listing", dest.runs)
	}
	if _, err := os.Stat(record); err != nil {
		t.Errorf("the record of an unrecovered move is gone: %v", err)
	}
}

// TestMoveLeavesNoRecord: a move that ends, failed or not, removes its
// record, so the next start does not act on it.
func TestMoveLeavesNoRecord(t *testing.T) {
	ctx := context.Background()
	p := openTestPlatform(t, t.TempDir())
	tn, err := p.CreateTenant(ctx, "riverside", "Riverside Post 42")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Move(ctx, tn, &lyingRemote{dir: t.TempDir()}, io.Discard, io.Discard, "test"); err == nil {
		t.Fatal("the move to a lying destination succeeded")
	}
	if left, _ := filepath.Glob(filepath.Join(p.Dir, "moves", "*")); len(left) > 0 {
		t.Errorf("a failed move left %v", left)
	}
}

// TestOpenTrashesUnrecordedTenantFiles: a tenant file no catalog entry
// names (a creation or import killed between the rename and the catalog)
// goes to the trash when the data dir is opened, with its WAL, and the
// trash lists it as an orphan; the recorded tenants stay.
func TestOpenTrashesUnrecordedTenantFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := openTestPlatform(t, dir)
	kept, err := p.CreateTenant(ctx, "riverside", "Riverside Post 42")
	if err != nil {
		t.Fatal(err)
	}
	id := tenantdb.NewTenantID()
	db, err := tenantdb.Create(ctx, dir, id)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	p.Close()

	p = openTestPlatform(t, dir)
	if _, err := os.Stat(tenantdb.TenantPath(dir, id)); err == nil {
		t.Error("the unrecorded tenant file is still in DATA/tenants/")
	}
	if _, err := os.Stat(tenantdb.TenantPath(dir, kept.ID)); err != nil {
		t.Errorf("a recorded tenant's file went: %v", err)
	}
	items, err := p.TrashItems(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || !items[0].Orphan || !strings.HasPrefix(items[0].File, id+"-") || !strings.HasSuffix(items[0].File, "-orphan.db") {
		t.Errorf("trash: %+v, want the one orphan %s-<time>-orphan.db", items, id)
	}
}

// TestOpenDropsTrashLinksToLiveFiles: a replace killed between keeping the
// old file in the trash (a hard link) and its rename leaves the live file
// under a second name there; Open removes that name, and only that one:
// the live file and a real trashed file stay.
func TestOpenDropsTrashLinksToLiveFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := openTestPlatform(t, dir)
	tn, err := p.CreateTenant(ctx, "riverside", "Riverside Post 42")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := p.CreateTenant(ctx, "gone", "Gone Post 1")
	if err != nil {
		t.Fatal(err)
	}
	trashed, err := p.DeleteTenant(ctx, gone.Slug)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	live := tenantdb.TenantPath(dir, tn.ID)
	link := filepath.Join(dir, "trash", trashName(tn, p.Now(), "replaced"))
	if err := os.Link(live, link); err != nil {
		t.Fatal(err)
	}

	p = openTestPlatform(t, dir)
	if _, err := os.Stat(link); err == nil {
		t.Error("the trash keeps a second name of a live tenant file")
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the live file went: %v", err)
	}
	if _, err := os.Stat(trashed); err != nil {
		t.Errorf("a deleted tenant's file went from the trash: %v", err)
	}
	if err := p.WithTenant(ctx, tn.Slug, func(catalog.Tenant, *pool.Handle) error { return nil }); err != nil {
		t.Errorf("the tenant does not open: %v", err)
	}
}

// TestOpenRemovesWorkFilesBesideDestinations: an export or a backup writes
// its work file beside its destination, outside the data dir; one killed
// midway leaves it there, and the next Open removes it (and only what
// matches that destination) from the record the operation kept.
func TestOpenRemovesWorkFilesBesideDestinations(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	p := openTestPlatform(t, dir)
	dst := filepath.Join(out, "chapter.db")
	if _, err := p.workBeside(dst); err != nil { // never done: the process died
		t.Fatal(err)
	}
	p.Close()
	left := filepath.Join(out, ".chapter.db.0123abcd.tmp")
	other := filepath.Join(out, ".other.db.0123abcd.tmp")
	for _, f := range []string{left, other} {
		if err := os.WriteFile(f, []byte("half an export"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	openTestPlatform(t, dir)
	if _, err := os.Stat(left); err == nil {
		t.Error("the interrupted export's work file survived the next open")
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file of another destination went: %v", err)
	}
	if records, _ := os.ReadDir(filepath.Join(dir, "work")); len(records) != 0 {
		t.Errorf("DATA/work keeps %d records", len(records))
	}
}

// TestOpenRemovesRecordsKilledWhileWritten: a process killed inside
// WriteFileAtomic (another job of a backup was held or killed elsewhere)
// leaves RECORD.json.tmp in DATA/work or DATA/moves; the record never took
// effect, and the next open removes it.
func TestOpenRemovesRecordsKilledWhileWritten(t *testing.T) {
	dir := t.TempDir()
	p := openTestPlatform(t, dir)
	p.Close()
	var left []string
	for _, sub := range []string{"work", "moves"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, sub, "506322414.json.tmp")
		if err := os.WriteFile(f, []byte(`{"patt`), 0o600); err != nil {
			t.Fatal(err)
		}
		left = append(left, f)
	}
	p = openTestPlatform(t, dir)
	p.RecoverMoves(context.Background(), nil)
	for _, f := range left {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s survived the next start", f)
		}
	}
}
