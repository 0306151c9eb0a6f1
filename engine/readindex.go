package engine

import (
	"context"
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

// requestRead starts a confirmation round and returns its number, or an
// error if this node cannot serve linearizable reads (not the leader, or
// its no-op is not committed yet, so its commit index may be stale).
func (r *raft) requestRead() (uint64, error) {
	if r.stopped != nil {
		return 0, r.stopped
	}
	if !r.writable() {
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
func (r *raft) confirmReads() {
	acks := []uint64{r.readSeq}
	for _, pr := range r.prs {
		acks = append(acks, pr.readAck)
	}
	slices.Sort(acks)
	if k := acks[len(acks)-r.quorum()]; k > r.readDone {
		r.readDone = k
	}
}

// readWait is a ReadIndex call waiting for its round.
type readWait struct {
	seq   uint64
	index uint64
	ch    chan error
}

// ReadIndex returns the commit index as of the call, once this node has
// confirmed that it was still the leader after the call began: every
// entry acknowledged to any client before the call is at or below it, so
// an index above it was not committed when the call began (linearizable).
// It fails with a *NotLeaderError on a follower, a leader whose no-op is
// not committed yet, or a leader deposed before the confirmation; and with
// ctx's error if no majority answers in time.
func (n *Node) ReadIndex(ctx context.Context) (uint64, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return 0, ErrClosed
	}
	seq, err := n.core.requestRead()
	if err != nil {
		err = n.proposeErr(err)
		n.mu.Unlock()
		return 0, err
	}
	w := readWait{seq: seq, index: n.core.commit, ch: make(chan error, 1)}
	n.reads = append(n.reads, w)
	n.afterLocked()
	n.mu.Unlock()
	select {
	case err := <-w.ch:
		return w.index, err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// releaseReads answers the ReadIndex calls whose round is confirmed, and
// fails them all if this node no longer leads; mu held.
func (n *Node) releaseReads() {
	r := n.core
	if len(n.reads) == 0 {
		return
	}
	if r.role != Leader || r.stopped != nil || n.closed {
		err := ErrLeadershipLost
		if r.stopped != nil {
			err = r.stopped
		} else if n.closed {
			err = ErrClosed
		} else {
			err = &NotLeaderError{Leader: r.lead, LeaderAddr: n.clientAddr(r.lead)}
		}
		for _, w := range n.reads {
			w.ch <- err
		}
		n.reads = n.reads[:0]
		return
	}
	k := 0
	for _, w := range n.reads {
		if w.seq <= r.readDone {
			w.ch <- nil
		} else {
			n.reads[k] = w
			k++
		}
	}
	clear(n.reads[k:])
	n.reads = n.reads[:k]
}
