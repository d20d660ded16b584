package cli

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the flusher and the test.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogWriterKeepsEveryLineInOrder: lines from many goroutines at once
// all arrive, whole and in each goroutine's order, in fewer writes than
// lines.
func TestLogWriterKeepsEveryLineInOrder(t *testing.T) {
	var out lockedBuffer
	lw := newLogWriter(&out, time.Hour) // only Close and a full buffer write
	const writers, lines = 8, 5000
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				fmt.Fprintf(lw, "g=%d i=%d %s\n", g, i, strings.Repeat("x", 40))
			}
		}()
	}
	wg.Wait()
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("got %d lines, want %d", len(got), writers*lines)
	}
	for _, line := range got {
		var g, i int
		if _, err := fmt.Sscanf(line, "g=%d i=%d", &g, &i); err != nil || i != next[g] {
			t.Fatalf("line %q: want g=%d i=%d next", line, g, next[g])
		}
		next[g]++
	}
	if out.writes >= writers*lines/10 {
		t.Errorf("%d writes for %d lines: the lines were not gathered", out.writes, writers*lines)
	}
	fmt.Fprintf(lw, "after close\n")
	if !strings.HasSuffix(out.String(), "after close\n") {
		t.Error("a line written after Close was not written through")
	}
}

// TestLogWriterWritesAnIdleLineSoon: a lone line is written without a
// Close, within the interval.
func TestLogWriterWritesAnIdleLineSoon(t *testing.T) {
	var out lockedBuffer
	lw := newLogWriter(&out, time.Millisecond)
	defer lw.Close()
	fmt.Fprintf(lw, "alone\n")
	for deadline := time.Now().Add(10 * time.Second); out.String() == ""; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a lone line was not written within 10s")
		}
	}
	if out.String() != "alone\n" {
		t.Errorf("wrote %q, want %q", out.String(), "alone\n")
	}
}
