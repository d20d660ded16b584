package web

import (
	"context"
	"sync"
	"time"
)

// lazyTimeout is context.WithTimeout whose timer starts only when Done is
// first asked for. Taking an open tenant from the pool never waits, and so
// never asks; a timer made and stopped on every request was a measurable
// part of a page cache hit.
type lazyTimeout struct {
	context.Context // the parent
	deadline        time.Time

	once  sync.Once
	armed context.Context // after Done: the real timeout context
	stop  context.CancelFunc
}

func newLazyTimeout(parent context.Context, d time.Duration) *lazyTimeout {
	return &lazyTimeout{Context: parent, deadline: time.Now().Add(d)}
}

func (l *lazyTimeout) arm() {
	l.once.Do(func() { l.armed, l.stop = context.WithDeadline(l.Context, l.deadline) })
}

func (l *lazyTimeout) Deadline() (time.Time, bool) {
	if d, ok := l.Context.Deadline(); ok && d.Before(l.deadline) {
		return d, true
	}
	return l.deadline, true
}

func (l *lazyTimeout) Done() <-chan struct{} {
	l.arm()
	return l.armed.Done()
}

// Err is nil until Done has been asked for and is closed, as a Context's
// Err must be while Done is open; a caller that never waited sees the
// parent's.
func (l *lazyTimeout) Err() error {
	l.arm()
	return l.armed.Err()
}

// cancel ends the context and releases its timer, if one was started.
func (l *lazyTimeout) cancel() {
	l.once.Do(func() { l.armed = ended }) // never armed: ended, with no timer
	if l.stop != nil {
		l.stop()
	}
}

// ended is a context that is done already.
var ended = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()
