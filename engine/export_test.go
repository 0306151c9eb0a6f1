package engine

import "github.com/rmqlog/rmqlog/flush"

// What engine's external tests (package engine_test) may see of the
// package's internals; nothing here is part of the API.

// FlushStats returns the counters of n's flusher: BenchmarkCluster
// reports the leader's fsyncs, which Status does not give.
func FlushStats(n *Node) flush.Stats { return n.st.flusher.Stats() }

// EntryOffset returns the global offset of entry i in n's log files: the
// stamp test checks that what the leader stamped is where each member
// holds the payload.
func EntryOffset(n *Node, i uint64) (uint64, error) { return n.st.Offset(i) }
