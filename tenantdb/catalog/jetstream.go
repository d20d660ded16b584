package catalog

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chapterhouse/chapterhouse/tenantdb"
	"github.com/chapterhouse/chapterhouse/tenantdb/sqlitefile"
)

// The catalog's buckets and stream in JetStream. Every node creates them
// if they are missing, with the same configuration, so that any node may
// start first.
const (
	BucketTenants = "ch_tenants" // tenant id -> Tenant (JSON)
	BucketSlugs   = "ch_slugs"   // slug -> tenant id: a slug is taken by creating its key
	BucketDomains = "ch_domains" // host (keyOf) -> every claim of the host (JSON list of Domain)
	BucketTrash   = "ch_trash"   // trash file name (keyOf) -> TrashEntry (JSON)
	AuditStream   = "CH_AUDIT"   // the audit log, one message per entry on AuditSubject
	AuditSubject  = "ch.audit"
)

// Bounds of the audit stream: the oldest entries go first.
const (
	auditMaxMsgs = 1_000_000
	auditMaxAge  = 400 * 24 * time.Hour
)

// casAttempts bounds the compare-and-set retries of one change; each
// retry follows a change by another writer that landed in between.
const casAttempts = 50

// watchWait bounds how long a change waits for this node's watch to show
// it, so that the change is in memory when the call returns.
const watchWait = 10 * time.Second

// The watched buckets, as indexes of kvStore.applied.
const (
	watchTenants = iota
	watchDomains
	watchTrash
	watchSlugs
	watchCount
)

// kvStore is a Catalog's data in JetStream KV buckets (cluster mode).
// Every change is a compare-and-set on the revision of one key; the
// Catalog's maps are fed only by a WatchAll of each bucket,
// and a change returns once that watch has shown it, so that a node
// reads its own writes and sees the other nodes' within a watch delay.
type kvStore struct {
	c                                      *Catalog
	js                                     jetstream.JetStream
	tenantsKV, slugsKV, domainsKV, trashKV jetstream.KeyValue
	auditStream                            jetstream.Stream
	consumers                              []jetstream.ConsumeContext
	loadedAt                               [watchCount]uint64
	// orphanAge is how old a slug key without its tenant must be before
	// addTenant takes it over (a minute; tests shorten it).
	orphanAge time.Duration

	// Guarded by c.mu, with the Catalog's maps.
	tenantRev map[string]uint64     // tenant id -> revision of its record
	hosts     map[string]hostClaims // host -> its claims
	trashed   map[string]TrashEntry // trash file -> its entry
	slugKeys  map[string]slugKey    // slug -> the tenant that took it
	applied   [watchCount]uint64    // the last revision each watch applied
	changed   chan struct{}         // closed (and replaced) when a watch applies an entry
	watchErr  error                 // set when a watch ended without Close
}

// slugKey is the record of one slug in ch_slugs.
type slugKey struct {
	id  string
	rev uint64
}

// hostClaims is the record of one host in ch_domains: every tenant's
// claim of it (Slug empty), at revision rev.
type hostClaims struct {
	rev    uint64
	claims []Domain
}

// OpenJetStream opens the catalog kept in JetStream KV (cluster mode),
// creating its buckets and audit stream if they are missing (three
// replicas when the client knows at least three servers, else one). It
// returns once its watches have loaded every tenant and domain. dir is the
// node's own data dir, where tenant files and trashed files stay ("" if
// none); Dir returns it. Close stops the watches; the caller closes the
// NATS connection. Export (a catalog.db snapshot for backups) and Check
// work as on a single node; the trash list is the cluster's, and a trash
// entry's file is on the node that trashed it.
func OpenJetStream(ctx context.Context, js jetstream.JetStream, dir string) (*Catalog, error) {
	if dir != "" {
		for _, d := range []string{dir, filepath.Join(dir, "tenants"), filepath.Join(dir, "trash")} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
		}
	}
	c := &Catalog{dir: dir, now: time.Now,
		bySlug: map[string]Tenant{}, byID: map[string]Tenant{}, byHost: map[string]string{}}
	k := &kvStore{c: c, js: js, orphanAge: time.Minute, tenantRev: map[string]uint64{}, hosts: map[string]hostClaims{}, trashed: map[string]TrashEntry{},
		slugKeys: map[string]slugKey{}, changed: make(chan struct{})}
	c.st = k
	replicas := 1
	if nc := js.Conn(); nc != nil && len(nc.Servers()) >= 3 {
		replicas = 3
	}
	var err error
	for _, b := range []struct {
		kv   *jetstream.KeyValue
		name string
	}{{&k.tenantsKV, BucketTenants}, {&k.slugsKV, BucketSlugs}, {&k.domainsKV, BucketDomains}, {&k.trashKV, BucketTrash}} {
		if *b.kv, err = bucket(ctx, js, b.name, replicas); err != nil {
			return nil, err
		}
	}
	if k.auditStream, err = auditStream(ctx, js, replicas); err != nil {
		return nil, err
	}
	for i, kv := range []jetstream.KeyValue{k.tenantsKV, k.domainsKV, k.trashKV, k.slugsKV} {
		if err := k.watch(ctx, i, kv); err != nil {
			k.close()
			return nil, err
		}
	}
	// The buckets load at once; wait for each to reach its leader's last
	// revision.
	wctx, cancel := context.WithTimeout(ctx, watchWait)
	defer cancel()
	for i, last := range k.loadedAt {
		if err := k.seen(wctx, i, last); err != nil {
			k.close()
			return nil, fmt.Errorf("catalog: loading the catalog: %w", err)
		}
	}
	return c, nil
}

// bucket creates the KV bucket name, or binds to it if it exists.
func bucket(ctx context.Context, js jetstream.JetStream, name string, replicas int) (jetstream.KeyValue, error) {
	cfg := jetstream.KeyValueConfig{Bucket: name, History: 1, Storage: jetstream.FileStorage, Replicas: replicas}
	kv, err := js.CreateKeyValue(ctx, cfg)
	for wait := 0; isNoPeers(err) && wait < placementWait; wait++ {
		time.Sleep(time.Second)
		kv, err = js.CreateKeyValue(ctx, cfg)
	}
	if isReplicasUnsupported(err) {
		cfg.Replicas = 1
		kv, err = js.CreateKeyValue(ctx, cfg)
	}
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = js.KeyValue(ctx, name)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: bucket %s: %w", name, err)
	}
	return kv, nil
}

// auditStream creates the audit stream, or binds to it if it exists.
func auditStream(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	cfg := jetstream.StreamConfig{Name: AuditStream, Subjects: []string{AuditSubject}, Storage: jetstream.FileStorage,
		Replicas: replicas, MaxMsgs: auditMaxMsgs, MaxAge: auditMaxAge, Discard: jetstream.DiscardOld, AllowDirect: true}
	s, err := js.CreateStream(ctx, cfg)
	for wait := 0; isNoPeers(err) && wait < placementWait; wait++ {
		time.Sleep(time.Second)
		s, err = js.CreateStream(ctx, cfg)
	}
	if isReplicasUnsupported(err) {
		cfg.Replicas = 1
		s, err = js.CreateStream(ctx, cfg)
	}
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		s, err = js.Stream(ctx, AuditStream)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: stream %s: %w", AuditStream, err)
	}
	return s, nil
}

// placementWait is how many seconds a bucket's creation is retried while
// the cluster has too few peers for its replicas: a cluster that has just
// formed takes a moment before its meta leader knows every server.
const placementWait = 30

// isNoPeers is the error of a cluster that cannot place the replicas.
func isNoPeers(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10005
}

// isReplicasUnsupported is the error of a lone server asked for replicas.
func isReplicasUnsupported(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10074
}

// watch starts loading every entry of kv into memory, then applying its
// changes until Close. It records in loadedAt[i] the bucket's last
// revision on its stream leader, which memory must hold before the
// catalog is used (the consumer may sit on a replica a few writes
// behind).
//
// It is an ordered pull consumer with a 1 s heartbeat rather than
// KeyValue.WatchAll, whose push consumer notices a lost server only after
// its fixed 5 s heartbeats are missed twice: with WatchAll a node whose
// consumer sat on a stopped server saw no change for 10-20 s; with this
// one it resumes within a few seconds (TestClusterServerStops).
func (k *kvStore) watch(ctx context.Context, i int, kv jetstream.KeyValue) error {
	bucket := kv.Bucket()
	s, err := k.js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return fmt.Errorf("catalog: bucket %s: %w", bucket, err)
	}
	prefix := "$KV." + bucket + "."
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{prefix + ">"}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy})
	if err != nil {
		return fmt.Errorf("catalog: watching %s: %w", bucket, err)
	}
	last := s.CachedInfo().State.LastSeq
	cc, err := cons.Consume(func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			return
		}
		put := true
		switch m.Headers().Get("KV-Operation") {
		case "DEL", "PURGE":
			put = false
		}
		if m.Headers().Get("Nats-Marker-Reason") != "" {
			put = false
		}
		k.apply(i, strings.TrimPrefix(m.Subject(), prefix), m.Data(), put, meta.Sequence.Stream)
	}, jetstream.PullHeartbeat(time.Second), jetstream.PullExpiry(5*time.Second), jetstream.PullMaxMessages(4096),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if errors.Is(err, jetstream.ErrConnectionClosed) {
				k.fail(fmt.Errorf("catalog: the watch of %s ended: %w", bucket, err))
			}
		}))
	if err != nil {
		return fmt.Errorf("catalog: watching %s: %w", bucket, err)
	}
	k.consumers = append(k.consumers, cc)
	k.loadedAt[i] = last
	return nil
}

// fail records that the watches have ended, so that changes and Ping
// report err rather than wait.
func (k *kvStore) fail(err error) {
	k.c.mu.Lock()
	defer k.c.mu.Unlock()
	if k.watchErr == nil {
		k.watchErr = err
	}
	close(k.changed)
	k.changed = make(chan struct{})
}

// apply brings memory in line with one entry of watched bucket i: the
// value of key at revision rev, or its deletion (put false).
func (k *kvStore) apply(i int, key string, value []byte, put bool, rev uint64) {
	c := k.c
	c.mu.Lock()
	defer c.mu.Unlock()
	switch i {
	case watchTenants:
		id := key
		if old, ok := c.byID[id]; ok {
			if c.bySlug[old.Slug].ID == id {
				delete(c.bySlug, old.Slug)
			}
			delete(c.byID, id)
			delete(k.tenantRev, id)
		}
		var t Tenant
		if put && json.Unmarshal(value, &t) == nil && t.ID == id {
			c.byID[id], c.bySlug[t.Slug], k.tenantRev[id] = t, t, rev
		}
	case watchSlugs:
		delete(k.slugKeys, key)
		if put {
			k.slugKeys[key] = slugKey{id: string(value), rev: rev}
		}
	case watchTrash:
		file, ok := nameOfKey(key)
		if !ok {
			break
		}
		delete(k.trashed, file)
		var t TrashEntry
		if put && json.Unmarshal(value, &t) == nil {
			k.trashed[file] = t
		}
	case watchDomains:
		host, ok := nameOfKey(key)
		if !ok {
			break
		}
		delete(k.hosts, host)
		delete(c.byHost, host)
		var claims []Domain
		if put && json.Unmarshal(value, &claims) == nil {
			k.hosts[host] = hostClaims{rev: rev, claims: claims}
			for _, d := range claims {
				if d.Verified {
					c.byHost[host] = d.TenantID
				}
			}
		}
	}
	if rev > k.applied[i] {
		k.applied[i] = rev
	}
	close(k.changed)
	k.changed = make(chan struct{})
}

// seen waits until watch i has applied revision rev, so that a change is
// in memory when the call that made it returns.
func (k *kvStore) seen(ctx context.Context, i int, rev uint64) error {
	ctx, cancel := context.WithTimeout(ctx, watchWait)
	defer cancel()
	for {
		k.c.mu.RLock()
		done, ch, err := k.applied[i] >= rev, k.changed, k.watchErr
		k.c.mu.RUnlock()
		switch {
		case done:
			return nil
		case err != nil:
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("catalog: the change is stored (revision %d) but this node's watch has not shown it: %w", rev, ctx.Err())
		}
	}
}

// awaitChange waits, after a compare-and-set on revision rev lost, until
// the watch shows another revision of the key (rev reads it from memory),
// and reports whether it did within a second; if not, the caller reads
// the key with a Get.
func (k *kvStore) awaitChange(ctx context.Context, rev func() uint64, lost uint64) bool {
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	for {
		k.c.mu.RLock()
		cur, ch := rev(), k.changed
		k.c.mu.RUnlock()
		if cur != lost {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (k *kvStore) close() error {
	for _, cc := range k.consumers {
		cc.Stop()
	}
	for _, cc := range k.consumers {
		<-cc.Closed()
	}
	k.consumers = nil
	k.fail(errors.New("catalog: closed"))
	return nil
}

// keyPattern is a key kept as it is: what hosts and trash file names
// normally look like, and always a valid KV key.
var keyPattern = regexp.MustCompile(`^[a-z0-9_-]+(\.[a-z0-9_-]+)*$`)

// keyOf is the KV key of a host or file name: the name itself when it is
// a valid key of lower-case tokens, else "=" and its base64url (a name
// never starts with "=").
func keyOf(name string) string {
	if keyPattern.MatchString(name) {
		return name
	}
	return "=" + base64.RawURLEncoding.EncodeToString([]byte(name))
}

// nameOfKey reverses keyOf.
func nameOfKey(key string) (string, bool) {
	if enc, ok := strings.CutPrefix(key, "="); ok {
		b, err := base64.RawURLEncoding.DecodeString(enc)
		return string(b), err == nil
	}
	return key, true
}

// isCAS is a compare-and-set that lost: the key changed (or exists).
func isCAS(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) ||
		errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// del deletes key of kv if its revision is still rev (whatever it is if
// rev is 0), and returns the revision of the delete marker (which the
// watch shows).
func (k *kvStore) del(ctx context.Context, kv jetstream.KeyValue, key string, rev uint64) (uint64, error) {
	m := nats.NewMsg("$KV." + kv.Bucket() + "." + key)
	m.Header.Set("KV-Operation", "DEL")
	var opts []jetstream.PublishOpt
	if rev != 0 {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(rev))
	}
	ack, err := k.js.PublishMsg(ctx, m, opts...)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// storedTime is t as catalog.db would return it: UTC, to the millisecond.
func storedTime(t time.Time) time.Time {
	return sqlitefile.ParseTime(sqlitefile.FormatTime(t))
}

func storedTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	s := storedTime(*t)
	return &s
}

// Tenants.

func (k *kvStore) tenants(context.Context) ([]Tenant, error) {
	k.c.mu.RLock()
	ts := make([]Tenant, 0, len(k.c.byID))
	for _, t := range k.c.byID {
		ts = append(ts, t)
	}
	k.c.mu.RUnlock()
	sort.Slice(ts, func(i, j int) bool { return ts[i].Slug < ts[j].Slug })
	return ts, nil
}

// addTenant takes the slug by creating its key in ch_slugs, then creates
// the tenant's record; a taken slug or id is ErrConflict, as in
// catalog.db. A slug key left by a writer that died before creating its
// tenant (older than a minute, its tenant absent) is taken over.
func (k *kvStore) addTenant(ctx context.Context, t Tenant) error {
	conflict := fmt.Errorf("tenant %q: %w", t.Slug, tenantdb.ErrConflict)
	if _, taken := k.c.TenantByID(t.ID); taken {
		return conflict
	}
	t.CreatedAt = storedTime(t.CreatedAt)
	value, err := json.Marshal(t)
	if err != nil {
		return err
	}
	slugRev, err := k.slugsKV.Create(ctx, t.Slug, []byte(t.ID))
	if isCAS(err) {
		slugRev, err = k.takenSlug(ctx, t)
		if isCAS(err) {
			return conflict
		}
	}
	if err != nil {
		return fmt.Errorf("tenant %q: %w", t.Slug, err)
	}
	rev, err := k.tenantsKV.Create(ctx, t.ID, value)
	if isCAS(err) {
		// The id is taken: free the slug again.
		_, derr := k.del(ctx, k.slugsKV, t.Slug, slugRev)
		return errors.Join(conflict, derr)
	}
	if err != nil {
		// The record may have been stored all the same (a timeout after
		// the write): keep the slug key, so that no other tenant takes
		// the slug; if the record is not there, the key is an orphan
		// that a later AddTenant of the slug takes over.
		return fmt.Errorf("tenant %q: %w", t.Slug, err)
	}
	return k.seen(ctx, watchTenants, rev)
}

// takenSlug decides about the slug key of t.Slug that exists: it is t's
// own when an earlier attempt stored it and then failed (its revision is
// returned); an orphan is taken over; else it is another tenant's
// (ErrKeyExists).
func (k *kvStore) takenSlug(ctx context.Context, t Tenant) (uint64, error) {
	if e, err := k.slugsKV.Get(ctx, t.Slug); err == nil && string(e.Value()) == t.ID {
		return e.Revision(), nil
	}
	if !k.orphanSlug(ctx, t.Slug) {
		return 0, jetstream.ErrKeyExists
	}
	return k.slugsKV.Create(ctx, t.Slug, []byte(t.ID))
}

// orphanSlug deletes the slug key of slug if it names a tenant that does
// not exist and is older than a minute (a writer died between the two
// creates of addTenant), and reports whether it did.
func (k *kvStore) orphanSlug(ctx context.Context, slug string) bool {
	e, err := k.slugsKV.Get(ctx, slug)
	if err != nil || time.Since(e.Created()) < k.orphanAge {
		return false
	}
	if _, err := k.tenantsKV.Get(ctx, string(e.Value())); !errors.Is(err, jetstream.ErrKeyNotFound) {
		return false
	}
	_, err = k.del(ctx, k.slugsKV, slug, e.Revision())
	return err == nil
}

// tenantRecord is the current record of tenant id and its revision: from
// memory first, from a Get after a lost compare-and-set.
func (k *kvStore) tenantRecord(ctx context.Context, id string, fresh bool) (Tenant, uint64, error) {
	if !fresh {
		k.c.mu.RLock()
		t, ok := k.c.byID[id]
		rev := k.tenantRev[id]
		k.c.mu.RUnlock()
		if ok {
			return t, rev, nil
		}
	}
	e, err := k.tenantsKV.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Tenant{}, 0, tenantdb.ErrNotFound
	}
	if err != nil {
		return Tenant{}, 0, err
	}
	var t Tenant
	if err := json.Unmarshal(e.Value(), &t); err != nil {
		return t, 0, fmt.Errorf("catalog: tenant %s: %w", id, err)
	}
	return t, e.Revision(), nil
}

// updateTenant changes tenant slug's record with change by compare-and-set.
func (k *kvStore) updateTenant(ctx context.Context, slug string, change func(*Tenant)) (Tenant, error) {
	cur, err := k.c.Tenant(slug)
	if err != nil {
		return cur, err
	}
	fresh := false
	for range casAttempts {
		t, rev, err := k.tenantRecord(ctx, cur.ID, fresh)
		if errors.Is(err, tenantdb.ErrNotFound) {
			return Tenant{}, fmt.Errorf("tenant %q: %w", slug, tenantdb.ErrNotFound)
		}
		if err != nil {
			return Tenant{}, err
		}
		change(&t)
		value, err := json.Marshal(t)
		if err != nil {
			return t, err
		}
		newRev, err := k.tenantsKV.Update(ctx, t.ID, value, rev)
		if isCAS(err) {
			fresh = !k.awaitChange(ctx, func() uint64 { return k.tenantRev[t.ID] }, rev)
			continue
		}
		if err != nil {
			return Tenant{}, fmt.Errorf("tenant %q: %w", slug, err)
		}
		return t, k.seen(ctx, watchTenants, newRev)
	}
	return Tenant{}, fmt.Errorf("tenant %q: changed by others %d times in a row: %w", slug, casAttempts, tenantdb.ErrConflict)
}

func (k *kvStore) setStatus(ctx context.Context, slug, status string) (Tenant, error) {
	return k.updateTenant(ctx, slug, func(t *Tenant) { t.Status = status })
}

func (k *kvStore) setQuota(ctx context.Context, slug string, quota *int64) (Tenant, error) {
	return k.updateTenant(ctx, slug, func(t *Tenant) {
		t.Quota = nil
		if quota != nil {
			q := *quota
			t.Quota = &q
		}
	})
}

// removeTenant records the trash entry first (a taken file name refuses
// the removal, as in catalog.db), deletes the tenant's record (it stops
// routing on every node), then its claims and its slug key.
func (k *kvStore) removeTenant(ctx context.Context, t Tenant, trashFile string) error {
	notFound := fmt.Errorf("tenant %q: %w", t.Slug, tenantdb.ErrNotFound)
	if _, ok := k.c.TenantByID(t.ID); !ok {
		if _, _, err := k.tenantRecord(ctx, t.ID, true); err != nil {
			return notFound
		}
	}
	var trashRev uint64
	if trashFile != "" {
		e := TrashEntry{File: trashFile, TenantID: t.ID, Slug: t.Slug, Name: t.Name, DeletedAt: storedTime(k.c.now())}
		var err error
		if trashRev, err = k.createTrash(ctx, e); err != nil {
			return err
		}
	}
	undoTrash := func(err error) error {
		if trashRev == 0 {
			return err
		}
		_, derr := k.del(ctx, k.trashKV, keyOf(trashFile), trashRev)
		return errors.Join(err, derr)
	}
	var rev uint64
	fresh := false
	for attempt := 0; ; attempt++ {
		_, cur, err := k.tenantRecord(ctx, t.ID, fresh)
		if errors.Is(err, tenantdb.ErrNotFound) {
			return undoTrash(notFound)
		}
		if err != nil {
			return undoTrash(err)
		}
		rev, err = k.del(ctx, k.tenantsKV, t.ID, cur)
		if err == nil {
			break
		}
		if !isCAS(err) || attempt == casAttempts {
			return undoTrash(fmt.Errorf("tenant %q: %w", t.Slug, err))
		}
		fresh = !k.awaitChange(ctx, func() uint64 { return k.tenantRev[t.ID] }, cur)
	}
	if err := k.seen(ctx, watchTenants, rev); err != nil {
		return err
	}
	if trashRev != 0 {
		if err := k.seen(ctx, watchTrash, trashRev); err != nil {
			return err
		}
	}
	k.c.mu.RLock()
	var hosts []string
	for host, hc := range k.hosts {
		for _, d := range hc.claims {
			if d.TenantID == t.ID {
				hosts = append(hosts, host)
				break
			}
		}
	}
	k.c.mu.RUnlock()
	for _, host := range hosts {
		if _, err := k.updateHost(ctx, host, func(claims []Domain) ([]Domain, any, error) {
			return withoutTenant(claims, t.ID), nil, nil
		}); err != nil {
			return fmt.Errorf("tenant %q removed, its domain %s not: %w", t.Slug, host, err)
		}
	}
	return k.freeSlug(ctx, t)
}

// freeSlug deletes the slug key of tenant t, if it is still t's.
func (k *kvStore) freeSlug(ctx context.Context, t Tenant) error {
	fresh := false
	for range casAttempts {
		var sk slugKey
		if !fresh {
			k.c.mu.RLock()
			sk = k.slugKeys[t.Slug]
			k.c.mu.RUnlock()
		}
		if fresh || sk.rev == 0 {
			e, err := k.slugsKV.Get(ctx, t.Slug)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("tenant %q removed, its slug not freed: %w", t.Slug, err)
			}
			sk = slugKey{id: string(e.Value()), rev: e.Revision()}
		}
		if sk.id != t.ID {
			return nil
		}
		_, err := k.del(ctx, k.slugsKV, t.Slug, sk.rev)
		if !isCAS(err) {
			if err != nil {
				return fmt.Errorf("tenant %q removed, its slug not freed: %w", t.Slug, err)
			}
			return nil
		}
		fresh = !k.awaitChange(ctx, func() uint64 { return k.slugKeys[t.Slug].rev }, sk.rev)
	}
	return fmt.Errorf("tenant %q removed, its slug changed by others %d times in a row", t.Slug, casAttempts)
}

func withoutTenant(claims []Domain, tenantID string) []Domain {
	var out []Domain
	for _, d := range claims {
		if d.TenantID != tenantID {
			out = append(out, d)
		}
	}
	return out
}

// Domains.

// joined is claims as catalog.db's join with tenants returns them: with
// their tenant's slug, without the claims of tenants that are gone, the
// owner's claim first, then the pending ones oldest first. The caller
// holds c.mu.
func (k *kvStore) joined(claims []Domain) []Domain {
	var out []Domain
	for _, d := range claims {
		t, ok := k.c.byID[d.TenantID]
		if !ok {
			continue
		}
		d.Slug = t.Slug
		out = append(out, d)
	}
	sortDomains(out)
	return out
}

func sortDomains(ds []Domain) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if ap, bp := a.Status == DomainPending, b.Status == DomainPending; ap != bp {
			return bp
		}
		return a.CreatedAt.Before(b.CreatedAt)
	})
}

func (k *kvStore) domains(_ context.Context, tenantID string) ([]Domain, error) {
	k.c.mu.RLock()
	defer k.c.mu.RUnlock()
	var ds []Domain
	for _, hc := range k.hosts {
		for _, d := range k.joined(hc.claims) {
			if tenantID == "" || d.TenantID == tenantID {
				ds = append(ds, d)
			}
		}
	}
	sortDomains(ds)
	return ds, nil
}

func (k *kvStore) claims(_ context.Context, host string) ([]Domain, error) {
	k.c.mu.RLock()
	defer k.c.mu.RUnlock()
	return k.joined(k.hosts[host].claims), nil
}

func (k *kvStore) tenantDomain(ctx context.Context, tenantID, host string) (Domain, error) {
	ds, _ := k.claims(ctx, host)
	for _, d := range ds {
		if d.TenantID == tenantID {
			return d, nil
		}
	}
	return Domain{}, fmt.Errorf("domain %s: %w", host, tenantdb.ErrNotFound)
}

// updateHost changes the claims of host by compare-and-set on its key:
// change gets a copy of the current claims (from memory, then from a Get
// after a lost compare-and-set) and returns the new ones (none: the key is
// deleted) and a result for the caller, or an error that changes nothing.
func (k *kvStore) updateHost(ctx context.Context, host string, change func([]Domain) ([]Domain, any, error)) (any, error) {
	key := keyOf(host)
	fresh := false
	for range casAttempts {
		var hc hostClaims
		if !fresh {
			k.c.mu.RLock()
			hc = k.hosts[host]
			k.c.mu.RUnlock()
		} else {
			e, err := k.domainsKV.Get(ctx, key)
			switch {
			case errors.Is(err, jetstream.ErrKeyNotFound):
			case err != nil:
				return nil, fmt.Errorf("domain %s: %w", host, err)
			default:
				hc.rev = e.Revision()
				if err := json.Unmarshal(e.Value(), &hc.claims); err != nil {
					return nil, fmt.Errorf("domain %s: %w", host, err)
				}
			}
		}
		claims, result, err := change(k.live(ctx, hc.claims))
		if err != nil {
			return result, err
		}
		var rev uint64
		switch {
		case len(claims) == 0 && hc.rev == 0:
			return result, nil
		case len(claims) == 0:
			rev, err = k.del(ctx, k.domainsKV, key, hc.rev)
		default:
			for i := range claims {
				claims[i].Slug = ""
			}
			value, jerr := json.Marshal(claims)
			if jerr != nil {
				return nil, jerr
			}
			if hc.rev == 0 {
				rev, err = k.domainsKV.Create(ctx, key, value)
			} else {
				rev, err = k.domainsKV.Update(ctx, key, value, hc.rev)
			}
		}
		if isCAS(err) {
			fresh = !k.awaitChange(ctx, func() uint64 { return k.hosts[host].rev }, hc.rev)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("domain %s: %w", host, err)
		}
		return result, k.seen(ctx, watchDomains, rev)
	}
	return nil, fmt.Errorf("domain %s: changed by others %d times in a row: %w", host, casAttempts, tenantdb.ErrConflict)
}

// live is a copy of claims without the claims of tenants that are gone
// (left by a node that died while removing its tenant): catalog.db's
// foreign key removes them with the tenant. A tenant is gone when this
// node's memory does not have it and a Get does not find it either.
func (k *kvStore) live(ctx context.Context, claims []Domain) []Domain {
	out := make([]Domain, 0, len(claims))
	for _, d := range claims {
		if _, ok := k.c.TenantByID(d.TenantID); !ok {
			if _, err := k.tenantsKV.Get(ctx, d.TenantID); errors.Is(err, jetstream.ErrKeyNotFound) {
				continue
			}
		}
		out = append(out, d)
	}
	return out
}

// withSlug is d with the slug of its tenant t.
func withSlug(d Domain, t Tenant) Domain {
	d.Slug = t.Slug
	return d
}

func (k *kvStore) addDomain(ctx context.Context, t Tenant, host string, pendingTTL time.Duration) (Domain, error) {
	if _, ok := k.c.TenantByID(t.ID); !ok {
		return Domain{}, fmt.Errorf("tenant %q: %w", t.Slug, tenantdb.ErrNotFound)
	}
	now := storedTime(k.c.now())
	token := "chapterhouse-verify=" + tenantdb.NewToken()
	res, err := k.updateHost(ctx, host, func(claims []Domain) ([]Domain, any, error) {
		var kept []Domain
		for _, d := range claims {
			if d.Status == DomainPending && d.CreatedAt.Before(now.Add(-pendingTTL)) {
				continue
			}
			switch {
			case d.TenantID == t.ID:
				return nil, withSlug(d, t), fmt.Errorf("domain %s: %w", host, tenantdb.ErrConflict)
			case d.Verified:
				return nil, nil, fmt.Errorf("domain %s: %w", host, ErrDomainOwned)
			}
			kept = append(kept, d)
		}
		d := Domain{Host: host, TenantID: t.ID, Status: DomainPending, Token: token, CreatedAt: now}
		return append(kept, d), withSlug(d, t), nil
	})
	d, _ := res.(Domain)
	return d, err
}

func (k *kvStore) removeDomain(ctx context.Context, host string) ([]Domain, error) {
	res, err := k.updateHost(ctx, host, func(claims []Domain) ([]Domain, any, error) {
		k.c.mu.RLock()
		ds := k.joined(claims)
		k.c.mu.RUnlock()
		if len(ds) == 0 {
			return nil, nil, fmt.Errorf("domain %s: %w", host, tenantdb.ErrNotFound)
		}
		return nil, ds, nil
	})
	ds, _ := res.([]Domain)
	return ds, err
}

func (k *kvStore) removeTenantDomain(ctx context.Context, tenantID, host string) (Domain, error) {
	res, err := k.updateHost(ctx, host, func(claims []Domain) ([]Domain, any, error) {
		for _, d := range claims {
			if t, ok := k.c.TenantByID(tenantID); ok && d.TenantID == tenantID {
				return withoutTenant(claims, tenantID), withSlug(d, t), nil
			}
		}
		return nil, nil, fmt.Errorf("domain %s: %w", host, tenantdb.ErrNotFound)
	})
	d, _ := res.(Domain)
	return d, err
}

func (k *kvStore) expirePendingDomains(ctx context.Context, cutoff time.Time) ([]Domain, error) {
	cutoff = storedTime(cutoff)
	expired := func(d Domain) bool { return d.Status == DomainPending && d.CreatedAt.Before(cutoff) }
	k.c.mu.RLock()
	var hosts []string
	for host, hc := range k.hosts {
		for _, d := range hc.claims {
			if expired(d) {
				hosts = append(hosts, host)
				break
			}
		}
	}
	k.c.mu.RUnlock()
	var all []Domain
	for _, host := range hosts {
		res, err := k.updateHost(ctx, host, func(claims []Domain) ([]Domain, any, error) {
			var kept, gone []Domain
			for _, d := range claims {
				if expired(d) {
					gone = append(gone, d)
				} else {
					kept = append(kept, d)
				}
			}
			k.c.mu.RLock()
			gone = k.joined(gone)
			k.c.mu.RUnlock()
			return kept, gone, nil
		})
		if err != nil {
			return all, err
		}
		ds, _ := res.([]Domain)
		all = append(all, ds...)
	}
	sortDomains(all)
	return all, nil
}

// ownClaim returns the index of tenant tenantID's claim in claims, or
// ErrNotFound.
func ownClaim(claims []Domain, tenantID, host string) (int, error) {
	for i, d := range claims {
		if d.TenantID == tenantID {
			return i, nil
		}
	}
	return -1, fmt.Errorf("domain %s: %w", host, tenantdb.ErrNotFound)
}

// domainResult is claims[i] with its slug, or ErrNotFound if its tenant
// is gone.
func (k *kvStore) domainResult(d Domain) (Domain, error) {
	t, ok := k.c.TenantByID(d.TenantID)
	if !ok {
		return Domain{}, fmt.Errorf("domain %s: %w", d.Host, tenantdb.ErrNotFound)
	}
	return withSlug(d, t), nil
}

func (k *kvStore) setDomainStatus(ctx context.Context, tenantID, host, status string) (Domain, error) {
	now := storedTime(k.c.now())
	verified := status == DomainVerified
	res, err := k.updateHost(ctx, host, func(claims []Domain) ([]Domain, any, error) {
		i, err := ownClaim(claims, tenantID, host)
		if err != nil {
			return nil, nil, err
		}
		for _, d := range claims {
			if d.TenantID == tenantID {
				continue
			}
			if verified && d.Verified || !verified && status != DomainPending && d.Status != DomainPending {
				return nil, nil, fmt.Errorf("domain %s: %w", host, ErrDomainOwned)
			}
		}
		if verified {
			claims = []Domain{claims[i]}
			i = 0
		}
		d := &claims[i]
		d.Status, d.Verified, d.CheckedAt = status, verified, &now
		if verified {
			if d.VerifiedAt == nil {
				d.VerifiedAt = &now
			}
			d.MisconfiguredSince = nil
		}
		r, err := k.domainResult(*d)
		return claims, r, err
	})
	d, _ := res.(Domain)
	return d, err
}

func (k *kvStore) recordDomainFailure(ctx context.Context, tenantID, host string, grace time.Duration) (Domain, error) {
	now := storedTime(k.c.now())
	res, err := k.updateHost(ctx, host, func(claims []Domain) ([]Domain, any, error) {
		i, err := ownClaim(claims, tenantID, host)
		if err != nil {
			return nil, nil, err
		}
		d := &claims[i]
		switch d.Status {
		case DomainVerified:
			d.Status, d.MisconfiguredSince = DomainMisconfigured, &now
			d.Verified = grace > 0
		case DomainMisconfigured:
			if d.MisconfiguredSince == nil {
				d.MisconfiguredSince = &now
			}
			d.Verified = d.Verified && now.Before(d.MisconfiguredSince.Add(grace))
		}
		d.CheckedAt = &now
		r, err := k.domainResult(*d)
		return claims, r, err
	})
	d, _ := res.(Domain)
	return d, err
}

// putDomains adds the claims one host at a time; if one is refused, the
// hosts already changed get their claims back (each by compare-and-set),
// so that nothing is added.
func (k *kvStore) putDomains(ctx context.Context, t Tenant, ds []Domain) error {
	if _, ok := k.c.TenantByID(t.ID); !ok {
		return fmt.Errorf("tenant %q: %w", t.Slug, tenantdb.ErrNotFound)
	}
	var done []string
	undo := func(err error) error {
		for _, host := range done {
			if _, uerr := k.updateHost(ctx, host, func(claims []Domain) ([]Domain, any, error) {
				return withoutTenant(claims, t.ID), nil, nil
			}); uerr != nil {
				err = errors.Join(err, fmt.Errorf("domain %s not taken back: %w", host, uerr))
			}
		}
		return err
	}
	for _, in := range ds {
		d := Domain{Host: in.Host, TenantID: t.ID, Status: in.Status, Verified: in.Status == DomainVerified, Token: in.Token,
			CreatedAt: storedTime(in.CreatedAt), VerifiedAt: storedTimePtr(in.VerifiedAt), CheckedAt: storedTimePtr(in.CheckedAt)}
		_, err := k.updateHost(ctx, d.Host, func(claims []Domain) ([]Domain, any, error) {
			for _, o := range claims {
				if o.TenantID == t.ID || d.Status != DomainPending && o.Status != DomainPending {
					return nil, nil, fmt.Errorf("domain %s: %w", d.Host, tenantdb.ErrConflict)
				}
			}
			return append(claims, d), nil, nil
		})
		if err != nil {
			return undo(err)
		}
		done = append(done, d.Host)
	}
	return nil
}

// Trash.

func (k *kvStore) createTrash(ctx context.Context, e TrashEntry) (uint64, error) {
	e.DeletedAt = storedTime(e.DeletedAt)
	value, err := json.Marshal(e)
	if err != nil {
		return 0, err
	}
	rev, err := k.trashKV.Create(ctx, keyOf(e.File), value)
	if isCAS(err) {
		return 0, fmt.Errorf("trash file %s: %w", e.File, tenantdb.ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("trash file %s: %w", e.File, err)
	}
	return rev, nil
}

func (k *kvStore) addTrash(ctx context.Context, e TrashEntry) error {
	rev, err := k.createTrash(ctx, e)
	if err != nil {
		return err
	}
	return k.seen(ctx, watchTrash, rev)
}

func (k *kvStore) trashEntry(_ context.Context, file string) (TrashEntry, error) {
	k.c.mu.RLock()
	e, ok := k.trashed[file]
	k.c.mu.RUnlock()
	if !ok {
		return e, fmt.Errorf("trash entry %q: %w (see `chapterhouse trash list`)", file, tenantdb.ErrNotFound)
	}
	return e, nil
}

func (k *kvStore) trash(context.Context) ([]TrashEntry, error) {
	k.c.mu.RLock()
	es := make([]TrashEntry, 0, len(k.trashed))
	for _, e := range k.trashed {
		es = append(es, e)
	}
	k.c.mu.RUnlock()
	sort.Slice(es, func(i, j int) bool {
		if !es[i].DeletedAt.Equal(es[j].DeletedAt) {
			return es[i].DeletedAt.Before(es[j].DeletedAt)
		}
		return es[i].File < es[j].File
	})
	return es, nil
}

func (k *kvStore) removeTrash(ctx context.Context, file string) error {
	if _, err := k.trashEntry(ctx, file); err != nil {
		return nil // as catalog.db: removing what is not there is no error
	}
	rev, err := k.del(ctx, k.trashKV, keyOf(file), 0)
	if err != nil {
		return fmt.Errorf("trash entry %q: %w", file, err)
	}
	return k.seen(ctx, watchTrash, rev)
}

// Audit.

func (k *kvStore) audit(ctx context.Context, actor, action, tenantID, detail string) error {
	b, err := json.Marshal(AuditEntry{At: storedTime(k.c.now()), Actor: actor, Action: action, TenantID: tenantID, Detail: detail})
	if err != nil {
		return err
	}
	if _, err := k.js.Publish(ctx, AuditSubject, b); err != nil {
		return fmt.Errorf("catalog: audit: %w", err)
	}
	return nil
}

// auditLog reads the newest limit messages of the audit stream, newest
// first, one direct get each.
func (k *kvStore) auditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	info, err := k.auditStream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("catalog: audit log: %w", err)
	}
	var es []AuditEntry
	for seq := info.State.LastSeq; seq >= info.State.FirstSeq && seq > 0 && len(es) < limit; seq-- {
		m, err := k.auditStream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: audit log: %w", err)
		}
		var e AuditEntry
		if err := json.Unmarshal(m.Data, &e); err != nil {
			return nil, fmt.Errorf("catalog: audit entry %d: %w", seq, err)
		}
		es = append(es, e)
	}
	return es, nil
}

// Health.

func (k *kvStore) ping(ctx context.Context) error {
	k.c.mu.RLock()
	err := k.watchErr
	k.c.mu.RUnlock()
	if err != nil {
		return err
	}
	if _, err := k.tenantsKV.Status(ctx); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// check checks that every bucket and the audit stream answer.
func (k *kvStore) check(ctx context.Context) error {
	if err := k.ping(ctx); err != nil {
		return err
	}
	for _, kv := range []jetstream.KeyValue{k.slugsKV, k.domainsKV, k.trashKV} {
		if _, err := kv.Status(ctx); err != nil {
			return fmt.Errorf("catalog: bucket %s: %w", kv.Bucket(), err)
		}
	}
	if _, err := k.auditStream.Info(ctx); err != nil {
		return fmt.Errorf("catalog: stream %s: %w", AuditStream, err)
	}
	return nil
}

// export writes the catalog as a catalog.db file, as a single node's
// Export does, so that a backup of a cluster restores on one node too:
// the tenants and domains as this node's watch has them, the trash, and
// the audit log up to its last entry when the export began.
func (k *kvStore) export(ctx context.Context, dst string) (sqlitefile.FileInfo, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".catalog-export-")
	if err != nil {
		return sqlitefile.FileInfo{}, err
	}
	defer os.RemoveAll(tmp)
	snap, err := Open(ctx, tmp)
	if err != nil {
		return sqlitefile.FileInfo{}, err
	}
	defer snap.Close()
	if err := k.copyTo(ctx, snap); err != nil {
		return sqlitefile.FileInfo{}, fmt.Errorf("catalog: export: %w", err)
	}
	return snap.Export(ctx, dst)
}

// copyTo writes every tenant, domain, trash entry and audit entry into
// the empty catalog.db of snap, in one transaction.
func (k *kvStore) copyTo(ctx context.Context, snap *Catalog) error {
	ts, _ := k.tenants(ctx)
	ds, _ := k.domains(ctx, "")
	trash, err := k.trash(ctx)
	if err != nil {
		return err
	}
	tx, err := snap.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range ts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (`+tenantColumns+`, quota_bytes) VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, t.Slug, t.Name, t.Status, sqlitefile.FormatTime(t.CreatedAt), t.Quota); err != nil {
			return fmt.Errorf("tenant %q: %w", t.Slug, err)
		}
	}
	for _, d := range ds {
		if _, err := tx.ExecContext(ctx, `INSERT INTO domains (host, tenant_id, verified, token, status, created_at, verified_at, checked_at, misconfigured_since)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.Host, d.TenantID, d.Verified, d.Token, d.Status, sqlitefile.FormatTime(d.CreatedAt),
			sqlitefile.NullTime(d.VerifiedAt), sqlitefile.NullTime(d.CheckedAt), sqlitefile.NullTime(d.MisconfiguredSince)); err != nil {
			return fmt.Errorf("domain %s: %w", d.Host, err)
		}
	}
	for _, e := range trash {
		if _, err := tx.ExecContext(ctx, `INSERT INTO trash (file, tenant_id, slug, name, deleted_at) VALUES (?, ?, ?, ?, ?)`,
			e.File, e.TenantID, e.Slug, e.Name, sqlitefile.FormatTime(e.DeletedAt)); err != nil {
			return fmt.Errorf("trash file %s: %w", e.File, err)
		}
	}
	if err := k.eachAudit(ctx, func(e AuditEntry) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, tenant_id, detail) VALUES (?, ?, ?, ?, ?)`,
			sqlitefile.FormatTime(e.At), e.Actor, e.Action, e.TenantID, e.Detail)
		return err
	}); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return tx.Commit()
}

// eachAudit calls fn with every audit entry, oldest first, up to the last
// one when it began, through an ordered consumer.
func (k *kvStore) eachAudit(ctx context.Context, fn func(AuditEntry) error) error {
	info, err := k.auditStream.Info(ctx)
	if err != nil {
		return err
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil
	}
	cons, err := k.auditStream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return err
	}
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return err
			}
			if meta.Sequence.Stream > last {
				return nil
			}
			var e AuditEntry
			if err := json.Unmarshal(m.Data(), &e); err != nil {
				return fmt.Errorf("entry %d: %w", meta.Sequence.Stream, err)
			}
			if err := fn(e); err != nil {
				return err
			}
			if meta.Sequence.Stream == last {
				return nil
			}
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("entries up to %d not delivered", last)
		}
	}
}
