package cli

import "testing"

// The default connection cap leaves every tenant allowed open its files,
// stays within what a small box should give connections, and keeps a
// floor when the file limit is too low for the tenants.
func TestDefaultMaxConnsLeavesTheTenantsTheirFiles(t *testing.T) {
	for _, tc := range []struct {
		name           string
		files, maxOpen int
		want           int
	}{
		{"this box: ulimit -n 20000, 256 tenants", 20000, 256, 10_000},
		{"the tenants' files first", 4096, 256, 4096 - 256*fdsPerTenant - fdsReserved},
		{"systemd's soft default, 1024, with 16 tenants", 1024, 16, 1024 - 16*fdsPerTenant - fdsReserved},
		{"a limit too low for the tenants", 1024, 256, minConns},
		{"an unknown limit", 0, 256, maxConnsCeiling},
	} {
		if got := defaultMaxConns(tc.files, tc.maxOpen); got != tc.want {
			t.Errorf("%s: defaultMaxConns(%d, %d) = %d, want %d", tc.name, tc.files, tc.maxOpen, got, tc.want)
		}
	}
}
