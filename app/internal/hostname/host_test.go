package hostname

import "testing"

func TestNormalizeHost(t *testing.T) {
	good := []struct{ in, want string }{
		{"demo.localhost", "demo.localhost"},
		{"Demo.LocalHost:8080", "demo.localhost"},
		{"demo.localhost.", "demo.localhost"},
		{"DEMO.localhost.:80", "demo.localhost"},
		{"www.xn--bcher-kva.example", "www.xn--bcher-kva.example"},
		{"a-b.example.org", "a-b.example.org"},
		{"127.0.0.1:8080", "127.0.0.1"},
		// The bounds are inclusive: a 5-digit port, a 63-letter label, a
		// 253-character name.
		{"demo.localhost:65535", "demo.localhost"},
		{longLabel()[:63] + ".example", longLabel()[:63] + ".example"},
		{longHost()[:253], longHost()[:253]},
	}
	for _, tc := range good {
		got, err := Normalize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("normalizeHost(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	bad := []string{
		"", ".", "..", "a..b", ".a", "a.b..", "-a.example", "a-.example", "a_b.example",
		"%2e%2e%2fcatalog", "../catalog.db", "a&_pragma=x", "a?mode=rwc", "demo.localhost\x00.evil",
		"bücher.example", "demo.localhost:", "demo.localhost:99999a", "[::1]:80", "a/b",
		string(make([]byte, 64)) + ".example", longLabel() + ".example", longHost(),
		"demo.localhost:123456", "example.org-", "example.org-.",
	}
	for _, in := range bad {
		if got, err := Normalize(in); err == nil {
			t.Errorf("normalizeHost(%q) = %q, want an error", in, got)
		}
	}
}

func longLabel() string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

func longHost() string {
	s := "a"
	for len(s) < 254 {
		s += ".a"
	}
	return s
}

func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"demo.localhost:8080", "A.B.", "%2e%2e", "xn--x.y", "a&_pragma=x", "..", "a:1:2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, err := Normalize(in)
		if err != nil {
			return
		}
		// A normalised host is only ever LDH labels: nothing that could
		// mean something in a path or a DSN.
		if len(h) == 0 || len(h) > 253 {
			t.Fatalf("normalizeHost(%q) = %q: bad length", in, h)
		}
		for i := 0; i < len(h); i++ {
			c := h[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
				t.Fatalf("normalizeHost(%q) = %q: byte %q", in, h, c)
			}
		}
		if h[0] == '.' || h[len(h)-1] == '.' || h[0] == '-' {
			t.Fatalf("normalizeHost(%q) = %q", in, h)
		}
		again, err := Normalize(h)
		if err != nil || again != h {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, h, again, err)
		}
	})
}

// TestNormalizeTakesEachRangeToItsEnds: the first and last character of
// each range a label may hold (a-z, 0-9, A-Z folded to a-z) and a hyphen
// inside, and refuses the byte just outside each range.
func TestNormalizeTakesEachRangeToItsEnds(t *testing.T) {
	if got, err := Normalize("az09-AZ.example"); err != nil || got != "az09-az.example" {
		t.Errorf("Normalize(%q) = %q, %v; want %q", "az09-AZ.example", got, err, "az09-az.example")
	}
	for _, c := range "`{/:@[" {
		in := "a" + string(c) + "b.example:80"
		if got, err := Normalize(in); err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", in, got)
		}
	}
}
