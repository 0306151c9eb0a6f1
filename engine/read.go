package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/rmqlog/rmqlog/engine/raft"
	"github.com/rmqlog/rmqlog/segment"
)

// ErrNotCommitted is returned by Read for an index above the commit index.
var ErrNotCommitted = errors.New("engine: entry not committed")

// Read returns committed entry i. The entry (its Payload) aliases the
// mapped log file: it is valid until retention deletes the entry's file
// twice over, a follower's log is reset or truncated, or the node closes;
// copy it to keep it longer, or use View. No-op entries
// (TypeNoop) are part of the log; skip them.
func (n *Node) Read(i uint64) (segment.Entry, error) {
	if err := n.st.beginRead(); err != nil {
		return segment.Entry{}, err
	}
	defer n.st.endRead()
	return n.readCommitted(i)
}

// readCommitted reads committed entry i; between beginRead and endRead.
func (n *Node) readCommitted(i uint64) (segment.Entry, error) {
	if c := n.commit.Load(); i > c {
		return segment.Entry{}, fmt.Errorf("%w: %d, commit index is %d", ErrNotCommitted, i, c)
	}
	return n.st.Read(i)
}

// View calls fn with committed entry i while the entry's bytes are
// guaranteed mapped: no truncation, reset or retention can unmap its file
// until fn returns. fn must be short (it delays those) and must not call
// back into the node; copy what it needs. Use View rather than Read when
// another goroutine may change the log meanwhile (a follower serving reads).
func (n *Node) View(i uint64, fn func(segment.Entry)) error {
	if err := n.st.beginRead(); err != nil {
		return err
	}
	defer n.st.endRead()
	e, err := n.readCommitted(i)
	if err == nil {
		fn(e)
	}
	return err
}

// CommitIndex returns the highest committed index this node knows.
func (n *Node) CommitIndex() uint64 { return n.commit.Load() }

// WaitCommit blocks until the commit index is at least i, the node
// closes (ErrClosed) or ctx ends.
func (n *Node) WaitCommit(ctx context.Context, i uint64) error {
	for {
		// Take the channel, then say a wait may follow, then check: a
		// commit published after the check finds the flag and closes ch
		// (or a later channel, whose making closed ch).
		ch := *n.commitCh.Load()
		n.commitWaited.Store(true)
		if n.commit.Load() >= i {
			return nil
		}
		select {
		case <-ch:
		case <-n.stop:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Iterator reads committed entries in order from an index.
type Iterator struct {
	n    *Node
	next uint64
}

// Iter returns an iterator positioned at index from.
func (n *Node) Iter(from uint64) *Iterator { return &Iterator{n: n, next: from} }

// Next returns the next committed entry, waiting for it to commit. The
// entry follows Read's lifetime rule.
func (it *Iterator) Next(ctx context.Context) (segment.Entry, error) {
	if err := it.n.WaitCommit(ctx, it.next); err != nil {
		return segment.Entry{}, err
	}
	e, err := it.n.Read(it.next)
	if err == nil {
		it.next++
	}
	return e, err
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
	seq, err := n.core.RequestRead()
	if err != nil {
		err = n.proposeErr(err)
		n.mu.Unlock()
		return 0, err
	}
	w := readWait{seq: seq, index: n.core.Commit(), ch: make(chan error, 1)}
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
func (n *Node) releaseReads(rd *raft.Ready) {
	if len(n.reads) == 0 {
		return
	}
	if rd.Role != Leader || rd.Stopped != nil || n.closed {
		err := ErrLeadershipLost
		if rd.Stopped != nil {
			err = rd.Stopped
		} else if n.closed {
			err = ErrClosed
		} else {
			err = &NotLeaderError{Leader: rd.Lead, LeaderAddr: n.clientAddr(rd.Lead)}
		}
		for _, w := range n.reads {
			w.ch <- err
		}
		n.reads = n.reads[:0]
		return
	}
	k := 0
	for _, w := range n.reads {
		if w.seq <= rd.ReadDone {
			w.ch <- nil
		} else {
			n.reads[k] = w
			k++
		}
	}
	clear(n.reads[k:])
	n.reads = n.reads[:k]
}
