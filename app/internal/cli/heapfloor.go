package cli

import "runtime"

// heapFloorBytes is the heap the collector counts as live on top of the
// real one while the server runs. With a small live heap (a few MB: a
// server with few chapters and pages cached) the collector otherwise runs
// every few MB of allocation, hundreds of times a second under load: 10
// to 14% of a page cache hit's CPU in alternating runs under wrk. The
// floor is a slice that is never touched, so it costs address space, not
// resident memory; the heap may hold up to this much more garbage between
// collections. An operator's own GOGC turns it off.
const heapFloorBytes = 32 << 20

// heapFloor holds the floor until the function it returns is called.
func heapFloor(getenv func(string) string) (release func()) {
	if getenv("GOGC") != "" {
		return func() {}
	}
	floor := make([]byte, heapFloorBytes)
	return func() { runtime.KeepAlive(floor) }
}
