package cli

import (
	"io"
	"sync"
	"time"
)

// logWriter gathers the server's log lines and writes them to w in one
// system call every interval, instead of one call for every line: under
// load the request log otherwise costs a write(2) per request, as much as
// a third of what serving a cached page costs. Lines keep their order,
// nothing is dropped (a writer that falls behind by maxPending bytes makes
// the next Write wait for it), and Close writes what is left. What a
// process killed outright loses is the last interval's lines.
type logWriter struct {
	w        io.Writer
	interval time.Duration

	wmu sync.Mutex // held while writing to w: batches go out in order

	mu        sync.Mutex
	buf       []byte // lines not yet written
	scheduled bool   // a flush is due within interval
	closed    bool   // write through from now on
}

// maxPending is how many bytes of lines may wait for a flush.
const maxPending = 256 << 10

func newLogWriter(w io.Writer, interval time.Duration) *logWriter {
	return &logWriter{w: w, interval: interval}
}

func (lw *logWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	if lw.closed {
		lw.mu.Unlock()
		lw.wmu.Lock()
		defer lw.wmu.Unlock()
		return lw.w.Write(p)
	}
	lw.buf = append(lw.buf, p...)
	full := len(lw.buf) >= maxPending
	if !lw.scheduled && !full {
		lw.scheduled = true
		time.AfterFunc(lw.interval, func() { lw.flush() })
	}
	lw.mu.Unlock()
	if full {
		if err := lw.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush writes the lines gathered so far.
func (lw *logWriter) flush() error {
	lw.wmu.Lock()
	defer lw.wmu.Unlock()
	lw.mu.Lock()
	out := lw.buf
	lw.buf, lw.scheduled = nil, false
	lw.mu.Unlock()
	if len(out) == 0 {
		return nil
	}
	_, err := lw.w.Write(out)
	return err
}

// Close writes what is left; later lines are written as they come.
func (lw *logWriter) Close() error {
	lw.mu.Lock()
	lw.closed = true
	lw.mu.Unlock()
	return lw.flush()
}
