package raft

import "slices"

// quorumIndex returns the highest index that at least a majority of the
// given per-member indexes have reached: with the indexes sorted in
// decreasing order, the one at position len/2. It is the commit rule's
// arithmetic, tested against a naive count in quorum_test.go. scratch is
// reused to avoid an allocation per call.
func quorumIndex(idx []uint64, scratch []uint64) uint64 {
	s := append(scratch[:0], idx...)
	slices.Sort(s)
	// Ascending: the majority reached the element len - majority.
	return s[len(s)-majority(len(s))]
}

// majority is the size of a quorum of n members.
func majority(n int) int { return n/2 + 1 }
