package engine

import "github.com/rmqlog/rmqlog/flush"

// What engine's external tests (package engine_test) may see of the
// package's internals; nothing here is part of the API.

// FlushStats returns the counters of n's flusher: BenchmarkCluster
// reports the leader's fsyncs, which Status does not give.
func FlushStats(n *Node) flush.Stats { return n.st.flusher.Stats() }
