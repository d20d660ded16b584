//go:build race

package main

// raceEnabled: the race detector slows the nodes (child processes of the
// same instrumented binary) several times over.
const raceEnabled = true
