package platform

import "testing"

func TestParseSizeReadsWhatOperatorsType(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"1048576", 1048576}, {"500MB", 500_000_000}, {"2GB", 2_000_000_000}, {"1.5 GB", 1_500_000_000},
		{"300kb", 300_000}, {"512MiB", 512 << 20}, {" 2 gib ", 2 << 30}, {"10m", 10_000_000}, {"7B", 7},
	}
	for _, tc := range good {
		if got, err := ParseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "12 parsecs", "-5MB", "MB", "1.2.3GB", "5 M B", "1e3", "99999999999TB"} {
		if got, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", bad, got)
		}
	}
}

func TestFormatSizeRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{{0, "0 B"}, {999, "999 B"}, {12_300_000, "12.3 MB"}, {200_000_000, "200 MB"}, {2_000_000_000, "2 GB"}} {
		if got := FormatSize(tc.in); got != tc.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tc.in, got, tc.want)
		}
		if back, err := ParseSize(FormatSize(tc.in)); err != nil || back != tc.in {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", tc.in, back, err)
		}
	}
}
