package tenantdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// TestImportLimitIsInclusive imports a file of exactly the size limit
// (accepted, whole) and one byte over it (refused), and checks that the
// import reports the sha256 of the file as it was read.
func TestImportLimitIsInclusive(t *testing.T) {
	ctx := context.Background()
	valid := validExport(t)
	b, err := os.ReadFile(valid)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	im, err := PrepareImport(ctx, valid, t.TempDir(), int64(len(b)))
	if err != nil {
		t.Fatalf("a file of exactly the limit (%d bytes): %v", len(b), err)
	}
	defer im.Discard()
	if im.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("the import reports sha256 %q, want the file's %x", im.SHA256, sum)
	}
	if _, err := PrepareImport(ctx, valid, t.TempDir(), int64(len(b))-1); err == nil || !strings.Contains(err.Error(), "more than the import limit") {
		t.Errorf("a file a byte over the limit: %v", err)
	}
}
