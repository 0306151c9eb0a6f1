//go:build race

package raft

// raceEnabled: the race detector slows the simulator about tenfold, so
// TestSimRandom runs a tenth of its schedules under it; `make test` runs
// the full count without it too.
const raceEnabled = true
