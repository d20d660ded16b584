package cli

import (
	"context"
	"fmt"
	"sync"

	"github.com/chapterhouse/chapterhouse/tenantdb"
)

func cmdMigrate(ctx context.Context, e *cmdEnv, args []string) error {
	fs := e.flags()
	jobs := fs.Int("jobs", 4, "tenants to migrate at once")
	if _, err := e.parse(fs, args, 0); err != nil {
		return err
	}
	if *jobs < 1 {
		return &usageError{"migrate: --jobs must be at least 1"}
	}
	ts, err := e.p.Catalog.Tenants(ctx)
	if err != nil {
		return err
	}
	prog := newProgress(e.stdout, e.tty, "migrate", len(ts))
	var (
		mu       sync.Mutex
		migrated int
		failed   []string
		wg       sync.WaitGroup
		sem      = make(chan struct{}, *jobs)
	)
	for _, t := range ts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			note := ""
			db, err := tenantdb.Open(ctx, e.p.Dir, t.ID)
			if err == nil {
				if db.Migrated {
					note = fmt.Sprintf("migrated %s to version %d", t.Slug, tenantdb.LatestVersion())
				}
				err = db.Close()
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, t.Slug)
				note = fmt.Sprintf("FAILED %s: %v", t.Slug, err)
			} else if db.Migrated {
				migrated++
			}
			prog.Step(note)
		}()
	}
	wg.Wait()
	e.printf("%d tenants, %d migrated, %d already at version %d, %d failed\n",
		len(ts), migrated, len(ts)-migrated-len(failed), tenantdb.LatestVersion(), len(failed))
	if len(failed) > 0 {
		return fmt.Errorf("%d tenants failed to migrate: %v", len(failed), failed)
	}
	return nil
}
