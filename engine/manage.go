package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/rmqlog/rmqlog/segment"
)

// TransferLeadership moves leadership to the member id: the leader stops
// taking writes, brings id up to date, and tells it to campaign at once.
// It returns when id leads, or an error when this node is not the leader
// or the transfer did not complete within ctx or an election timeout.
func (n *Node) TransferLeadership(ctx context.Context, id string) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	err := n.core.Transfer(id)
	if err != nil {
		err = n.proposeErr(err)
	}
	n.afterLocked()
	term := n.core.Term()
	n.mu.Unlock()
	if err != nil || id == n.cfg.ID {
		return err
	}
	// Two election timeouts, counted in the node's ticks (Config.Clock).
	tick := n.cfg.Clock.NewTicker(n.cfg.TickInterval)
	defer tick.Stop()
	for left := 2 * n.cfg.ticks(n.cfg.ElectionTimeout); ; left-- {
		st := n.Status()
		switch {
		case st.Leader == id && st.Term > term:
			return nil
		case st.Role == Leader && st.Term == term && n.transferee() == "":
			return fmt.Errorf("engine: transfer to %s did not complete within the election timeout %v", id, n.cfg.ElectionTimeout)
		}
		if left == 0 {
			return fmt.Errorf("engine: transfer to %s: no new leader after %v", id, 2*n.cfg.ElectionTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C():
		}
	}
}

func (n *Node) transferee() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.core.Transferee()
}

// DeletePrefix removes the oldest log files whose entries are all below i
// (retention: fileReservedTime, disk usage), never anything not yet
// committed or fsynced, and returns the new first index. A follower that
// later needs a deleted entry has its log restarted at the leader's first
// index (Reset).
func (n *Node) DeletePrefix(i uint64) (uint64, error) {
	return n.st.DeletePrefix(min(i, n.commit.Load()+1))
}

// Retain applies RocketMQ-style retention at time now: log files other than
// the newest whose last write is older than maxAge (fileReservedTime), and
// the oldest files while all of them exceed maxBytes, are deleted through
// DeletePrefix (so never anything not yet committed or fsynced). Zero
// disables a limit. It returns the first index after the call.
func (n *Node) Retain(now time.Time, maxAge time.Duration, maxBytes int64) (uint64, error) {
	segs, err := n.st.segments()
	if err != nil {
		return 0, err
	}
	i := segment.RetentionIndex(segs, now, maxAge, maxBytes)
	if i <= n.st.FirstIndex() {
		return n.st.FirstIndex(), nil
	}
	return n.DeletePrefix(i)
}
