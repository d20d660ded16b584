package platform

import (
	"fmt"
	"sync"
)

// Ops lets one data operation (import, restore, move, ...) at a time
// work on a tenant; a second one is refused rather than queued, since the
// operator who started it should decide what happens next.
type Ops struct {
	mu   sync.Mutex
	busy map[string]string // tenant id or slug -> what runs
}

// Begin claims the keys (tenant ids and slugs) for op, or says who has one.
func (o *Ops) Begin(op string, keys ...string) (end func(), err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.busy == nil {
		o.busy = map[string]string{}
	}
	for _, k := range keys {
		if other, ok := o.busy[k]; ok {
			return nil, fmt.Errorf("%s: %s is running on it; try again when it has finished", k, other)
		}
	}
	for _, k := range keys {
		o.busy[k] = op
	}
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, k := range keys {
			delete(o.busy, k)
		}
	}, nil
}
