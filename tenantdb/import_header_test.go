package tenantdb

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chapterhouse/chapterhouse/tenantdb/tenanttest"
)

// TestImportHeaderEdges checks the import's reading of the SQLite header
// at the edges of what SQLite writes: the smallest and the largest page
// size (65536 is stored as 1) and a header without a page count (older
// SQLite wrote none) are imported, with the same rows; a page size that
// is too small or not a power of two, and a file longer than its header
// says, are refused, each saying why.
func TestImportHeaderEdges(t *testing.T) {
	ctx := context.Background()
	valid := validExport(t)
	want, err := FileDigest(ctx, valid)
	if err != nil {
		t.Fatal(err)
	}
	patched := func(name string, patch func(b []byte) []byte) string {
		b, err := os.ReadFile(valid)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, patch(b), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pageSize := func(b []byte) int { return int(binary.BigEndian.Uint16(b[16:18])) }
	validBytes, err := os.ReadFile(valid)
	if err != nil {
		t.Fatal(err)
	}
	pages := len(validBytes) / pageSize(validBytes)
	for _, tc := range []struct {
		name, path string
		want       string // "" accepted, else what the refusal says
	}{
		{"page size 512", tenanttest.Alter(t, valid, "PRAGMA page_size = 512", "VACUUM"), ""},
		{"page size 65536", tenanttest.Alter(t, valid, "PRAGMA page_size = 65536", "VACUUM"), ""},
		{"no page count in the header", patched("nocount.db", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[28:32], 0)
			return b
		}), ""},
		{"a page count the header does not vouch for", patched("stale.db", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[28:32], 1)                                   // wrong, but
			binary.BigEndian.PutUint32(b[92:96], binary.BigEndian.Uint32(b[24:28])+1) // not valid for this change counter
			return b
		}), ""},
		{"page size 256", patched("p256.db", func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[16:18], 256)
			return b
		}), "damaged SQLite header (page size 256)"},
		{"page size 1536", patched("p1536.db", func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[16:18], 1536)
			return b
		}), "damaged SQLite header (page size 1536)"},
		{"a page more than the header counts", patched("longer.db", func(b []byte) []byte {
			return append(b, make([]byte, pageSize(b))...)
		}), fmt.Sprintf("longer than its header says (%d pages, the file holds %d)", pages, pages+1)},
		{"a page fewer than the header counts", patched("shorter.db", func(b []byte) []byte {
			return b[:len(b)-pageSize(b)]
		}), fmt.Sprintf("the file is truncated: its header counts %d pages, the file holds %d", pages, pages-1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if b, _ := os.ReadFile(tc.path); strings.HasPrefix(tc.name, "page size 512") && pageSize(b) != 512 ||
				strings.HasPrefix(tc.name, "page size 65536") && pageSize(b) != 1 {
				t.Fatalf("the file's page size field is %d: the test would prove nothing", pageSize(b))
			}
			im, err := PrepareImport(ctx, tc.path, t.TempDir(), 1<<30)
			if tc.want != "" {
				if err == nil {
					im.Discard()
					t.Fatalf("imported; want a refusal saying %q", tc.want)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("refused with %q, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			defer im.Discard()
			if im.Digest.Sum() != want.Sum() {
				t.Errorf("imported rows differ from the export's")
			}
		})
	}
}
