package cli

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

func heapGoal() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestHeapFloorRaisesTheCollectorsGoal: while serve holds the floor the
// collector's next goal is above it, so a small heap is not collected
// every few MB; with the operator's own GOGC there is no floor.
func TestHeapFloorRaisesTheCollectorsGoal(t *testing.T) {
	release := heapFloor(func(string) string { return "" })
	if goal := heapGoal(); goal < heapFloorBytes {
		t.Errorf("heap goal with the floor: %d bytes, want at least %d", goal, heapFloorBytes)
	}
	release()
	before := heapGoal()
	release = heapFloor(func(k string) string {
		if k == "GOGC" {
			return "100"
		}
		return ""
	})
	defer release()
	if goal := heapGoal(); goal >= before+heapFloorBytes/2 {
		t.Errorf("heap goal with GOGC set: %d bytes (%d without a floor), want no floor", goal, before)
	}
}
