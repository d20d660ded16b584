package tenantdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb/tenanttest"
)

// TestImportTakesAnImageOfExactlyTheLimit: an image of exactly
// MaxMediaSize bytes, its size and sha256 recorded, imports; one a byte
// larger is refused, naming the sizes.
func TestImportTakesAnImageOfExactlyTheLimit(t *testing.T) {
	ctx := context.Background()
	valid := validExport(t)
	withImage := func(n int) string {
		sum := sha256.Sum256(make([]byte, n))
		return tenanttest.Alter(t, valid, fmt.Sprintf(
			`UPDATE media SET data = zeroblob(%d), size = %d, sha256 = '%s' WHERE id = (SELECT min(id) FROM media)`,
			n, n, hex.EncodeToString(sum[:])))
	}
	im, err := PrepareImport(ctx, withImage(MaxMediaSize), t.TempDir(), 1<<30)
	if err != nil {
		t.Fatalf("an image of exactly %d bytes: %v", MaxMediaSize, err)
	}
	im.Discard()
	_, err = PrepareImport(ctx, withImage(MaxMediaSize+1), t.TempDir(), 1<<30)
	if want := fmt.Sprintf("image of %d bytes", MaxMediaSize+1); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("an image a byte over the limit: %v, want %q", err, want)
	}
}

// TestImportTakesAMessageAddressOfExactlyTheLimit: a contact message's
// recorded address of 64 bytes imports; 65 is refused, naming the field.
func TestImportTakesAMessageAddressOfExactlyTheLimit(t *testing.T) {
	ctx := context.Background()
	valid := validExport(t)
	withIP := func(n int) string {
		return tenanttest.Alter(t, valid, fmt.Sprintf(`UPDATE messages SET ip = '%s'`, strings.Repeat("1", n)))
	}
	im, err := PrepareImport(ctx, withIP(64), t.TempDir(), 1<<30)
	if err != nil {
		t.Fatalf("a message address of 64 bytes: %v", err)
	}
	im.Discard()
	if _, err := PrepareImport(ctx, withIP(65), t.TempDir(), 1<<30); err == nil || !strings.Contains(err.Error(), `field "ip"`) {
		t.Errorf("a message address of 65 bytes: %v, want a refusal naming ip", err)
	}
}
