package site

import (
	"context"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

// BenchmarkCountVisit is the work countVisit adds to a request: the bot
// check, the salt of the day, the visitor's hash and the count in memory.
func BenchmarkCountVisit(b *testing.B) {
	dir := b.TempDir()
	db, err := tenantdb.Create(context.Background(), dir, tenantdb.NewTenantID())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var vc visitCounter
	const agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if vc.agents.isBot(agent) {
			b.Fatal("a browser taken for a bot")
		}
		ds := vc.salt(now)
		db.CountVisit(ds.day, "/", ds.visitor("tenantid", "203.0.113.7", agent))
	}
}

func BenchmarkIsBot(b *testing.B) {
	var a agents
	for b.Loop() {
		a.isBot("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	}
}

func BenchmarkVisitorHash(b *testing.B) {
	var vc visitCounter
	ds := vc.salt(time.Now())
	for b.Loop() {
		ds.visitor("tenantid", "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	}
}
