//go:build race

package engine_test

// raceEnabled: the race detector slows the nodes several-fold, so the
// groups of startGroup allow a longer election timeout under it.
const raceEnabled = true
