package site_test

import (
	"testing"

	"github.com/chapterhouse/chapterhouse/app/internal/web"
)

// BenchmarkNewsAsMember compares /news rendered for a member (the session
// row read, the members-only post listed, never cached) with the same
// page rendered for an anonymous visitor, the page cache off for both.
func BenchmarkNewsAsMember(b *testing.B) {
	for _, who := range []string{"anonymous", "member"} {
		b.Run(who, func(b *testing.B) {
			f := newMembersFixture(b, func(c *web.Config) { c.PageCacheMB = 0 })
			header := "X-Anonymous: 1"
			if who == "member" {
				header = "Cookie: " + f.memberA
			}
			b.ResetTimer()
			for b.Loop() {
				if r := f.ts.Get(f.lodge, "/news", header); r.Status != 200 {
					b.Fatalf("GET /news: %d", r.Status)
				}
			}
		})
	}
}
