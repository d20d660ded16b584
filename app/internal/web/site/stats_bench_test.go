package site

import (
	"context"
	"testing"
	"time"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

const benchAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// benchTenant is a new tenant's database, closed when b ends.
func benchTenant(b *testing.B) *tenantdb.DB {
	db, err := tenantdb.Create(context.Background(), b.TempDir(), tenantdb.NewTenantID())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkCountVisit is the work countVisit adds to a request of a
// returning visitor (visitCounter.count): the bot check, the salt of the
// day, the visitor's hash and the count in memory.
func BenchmarkCountVisit(b *testing.B) {
	db := benchTenant(b)
	var vc visitCounter
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		vc.count(db, "tenantid", "/", "203.0.113.7", benchAgent, now)
	}
}

// BenchmarkCountVisitParallel is BenchmarkCountVisit on every core at
// once, on one chapter: what its locks cost when requests contend.
func BenchmarkCountVisitParallel(b *testing.B) {
	db := benchTenant(b)
	var vc visitCounter
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			vc.count(db, "tenantid", "/", "203.0.113.7", benchAgent, now)
		}
	})
}

func BenchmarkIsBot(b *testing.B) {
	var a agents
	for b.Loop() {
		a.isBot(benchAgent)
	}
}

func BenchmarkVisitorHash(b *testing.B) {
	var vc visitCounter
	ds := vc.salt(time.Now())
	agent := sumAgent(benchAgent)
	for b.Loop() {
		ds.visitor("tenantid", "203.0.113.7", agent)
	}
}
