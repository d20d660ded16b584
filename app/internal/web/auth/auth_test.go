package auth

import "testing"

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/admin/posts", "/admin/posts"},
		{"/admin/posts?page=2", "/admin/posts?page=2"},
		{"/admin", "/admin"},
		{"", "/admin"},
		{"//evil.example", "/admin"},
		{"/\\evil.example", "/admin"},
		{"/admin\\..\\evil", "/admin"},
		{"https://evil.example/admin", "/admin"},
		{"javascript:alert(1)", "/admin"},
		{"/adminevil", "/admin"},
		{"/admin/\r\nLocation: //evil", "/admin"},
		{"/admin/%0d%0a", "/admin/%0d%0a"},
		{"/\t/evil.example", "/admin"},
		{"/", "/admin"},
		{"/p/about", "/admin"},
	} {
		if got := SafeNext(tc.in); got != tc.want {
			t.Errorf("SafeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
