package engine

import (
	"github.com/rmqlog/rmqlog/engine/raft"
	"github.com/rmqlog/rmqlog/segment"
)

// The consensus core lives in engine/raft; the names of it that the
// engine's API shows are re-exported here, so an embedder imports engine
// alone.

// Role is a node's Raft role (raft.Role).
type Role = raft.Role

// The roles. RocketMQ calls the leader the master and followers slaves.
const (
	Follower     = raft.Follower
	PreCandidate = raft.PreCandidate
	Candidate    = raft.Candidate
	Leader       = raft.Leader
)

// HardState is what a node persists before it answers (raft.HardState).
type HardState = raft.HardState

// RepairUnknown is HardState.RepairTo for a node that may have
// acknowledged entries it no longer holds without knowing which
// (raft.RepairUnknown). It equals segment.HadUnknown, which recovery
// reports for such damage: the array below fails to compile otherwise.
const RepairUnknown = raft.RepairUnknown

var _ [raft.RepairUnknown - segment.HadUnknown]struct{} = [0]struct{}{}

// Errors of the core, as the node's calls return them.
var (
	ErrNotLeader     = raft.ErrNotLeader
	ErrTransferring  = raft.ErrTransferring
	ErrStopped       = raft.ErrStopped
	ErrContradiction = raft.ErrContradiction
)
