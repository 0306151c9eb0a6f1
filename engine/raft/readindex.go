package raft

import (
	"slices"

	"github.com/rmqlog/rmqlog/replication/wire"
)

// Read confirmation (Raft §6.4, etcd's ReadIndex): a leader that answers
// "index i is not committed" must first make sure it still leads, or a
// deposed leader that has not heard of its successor (paused, partitioned)
// would deny entries the new leader already committed. A positive read
// needs no confirmation: committed entries never change.
//
// The leader numbers confirmation rounds; every heartbeat carries the
// newest round in its hint and followers echo it. Once a majority
// (the leader included) has echoed round k in this term, every read that
// asked before round k was sent is confirmed: no other leader existed when
// those followers answered, since they would have refused this term.

// RequestRead starts a confirmation round and returns its number, or an
// error if this node cannot serve linearizable reads (not the leader, or
// its no-op is not committed yet, so its commit index may be stale).
func (r *Raft) RequestRead() (uint64, error) {
	if r.stopped != nil {
		return 0, r.stopped
	}
	if !r.Writable() {
		return 0, ErrNotLeader
	}
	r.readSeq++
	for _, p := range r.peers {
		r.send(wire.Msg{Type: wire.TypeHeartbeat, To: p, Commit: min(r.commit, r.prs[p].match), Hint: r.readSeq,
			Index: r.log.LastIndex()})
	}
	r.confirmReads()
	return r.readSeq, nil
}

// confirmReads advances readDone to the newest round a majority answered.
func (r *Raft) confirmReads() {
	var acks []uint64
	for _, id := range r.voters {
		if id == r.cfg.ID {
			acks = append(acks, r.readSeq)
		} else if pr := r.prs[id]; pr != nil {
			acks = append(acks, pr.readAck)
		} else {
			acks = append(acks, 0)
		}
	}
	if len(acks) < r.quorum() {
		return
	}
	slices.Sort(acks)
	if k := acks[len(acks)-r.quorum()]; k > r.readDone {
		r.readDone = k
	}
}
