package engine

import "github.com/rmqlog/rmqlog/flush"

// What engine's external tests (package engine_test) may see of the
// package and of its test build; nothing here is part of the API.

// RaceEnabled is whether the tests run under the race detector.
const RaceEnabled = raceEnabled

// FlushStats returns the counters of n's flusher: BenchmarkCluster
// reports the leader's fsyncs, which Status does not give.
func FlushStats(n *Node) flush.Stats { return n.st.flusher.Stats() }
