package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Replica is what the metrics read of the replicator (tenantdb/replica).
type Replica struct {
	Registered func() int // databases streaming now
	Failing    func() int // of them, those whose replica fails now
	Bytes      func() int64
	SyncErrors func() int64
	Lists      func() int64
	Registers  func() int64 // databases registered (at an open out of step, or a first write)
	Deferred   func() int64 // opens in step that registered nothing until a write
	// BucketLists counts the listings that read a whole NATS bucket;
	// IndexedFiles is the files its index holds (nil: not NATS).
	BucketLists  func() int64
	IndexedFiles func() int
	// IncompleteObjects counts the NATS objects found without all their
	// chunks (an upload cut short) by restores and registers.
	IncompleteObjects func() int64
	// ObserveLag has the metrics told each sync's lag.
	ObserveLag func(func(time.Duration))
}

// WatchReplica exports replication: a lag histogram (no per-tenant
// label), sync errors, bytes shipped and the databases registered.
// Restores are operation_duration_seconds{op="replica_restore"}.
func (m *Metrics) WatchReplica(r Replica) {
	const ns = "chapterhouse"
	lag := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: ns, Name: "replica_lag_seconds",
		Help:    "Age of the newest transaction of each sync when the replica had it (all databases).",
		Buckets: []float64{.05, .1, .25, .5, 1, 1.5, 2, 3, 5, 10, 30, 60},
	})
	r.ObserveLag(func(d time.Duration) { lag.Observe(d.Seconds()) })
	counter := func(name, help string, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help},
			func() float64 { return float64(v()) })
	}
	m.register(lag,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "replica_databases",
			Help: "Databases (open tenants and the catalog) streaming to the replica now."}, func() float64 { return float64(r.Registered()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "replica_databases_failing",
			Help: "Registered databases whose last call to the replica failed."}, func() float64 { return float64(r.Failing()) }),
		counter("replica_bytes_shipped_total", "Bytes uploaded to the replica.", r.Bytes),
		counter("replica_sync_errors_total", "Failed calls to the replica (uploads, listings, deletes, final syncs).", r.SyncErrors),
		counter("replica_lists_total", "Listings of the replica (a re-register in step needs none).", r.Lists),
		counter("replica_registers_total", "Databases registered with Litestream (an open out of step with its position record, or a first write).", r.Registers),
		counter("replica_deferred_total", "Opens in step with the replica that registered nothing until a write.", r.Deferred),
	)
	if r.BucketLists != nil && r.IndexedFiles != nil {
		m.register(
			counter("replica_bucket_lists_total", "Listings that read every object of the NATS bucket (restores, takeovers, a listing the bucket index could not answer).", r.BucketLists),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "replica_index_files",
				Help: "LTX files, every database's, in this node's index of the NATS bucket."}, func() float64 { return float64(r.IndexedFiles()) }),
		)
	}
	if r.IncompleteObjects != nil {
		m.register(counter("replica_incomplete_objects_total",
			"Objects of the NATS bucket found without all their chunks (an upload cut short by a lost server), left out of a restore or deleted by the next writer.", r.IncompleteObjects))
	}
}
