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
