package webtest

import (
	"os"
	"strings"
	"testing"
)

// OpenFiles lists the files this process holds open whose path contains
// part (deleted ones included, as "... (deleted)"), from /proc/self/fd:
// what a request left open after it ended.
func OpenFiles(t testing.TB, part string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var out []string
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.Contains(target, part) {
			out = append(out, target)
		}
	}
	return out
}
