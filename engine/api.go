package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rmqlog/rmqlog/segment"
)

// NotLeaderError is returned by writes on a node that is not the leader.
// errors.Is(err, ErrNotLeader) holds. Leader is "" when no leader is known
// (an election is running): retry shortly.
type NotLeaderError struct {
	Leader     string // the leader's id, if known
	LeaderAddr string // its client address (Config.ClientAddrs), if known
}

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return "engine: not the leader; no leader is known yet (election in progress)"
	}
	return fmt.Sprintf("engine: not the leader; the leader is %s at %s", e.Leader, e.LeaderAddr)
}

func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// ErrTooLarge is returned for a payload over Config.MaxEntrySize.
var ErrTooLarge = errors.New("engine: entry too large")

// Proposal is an appended entry waiting for its commit.
type Proposal struct {
	index uint64
	ch    chan error
	err   error
	done  bool
}

// Index is the entry's log index. It is final only if Wait returns nil.
func (p *Proposal) Index() uint64 { return p.index }

// Wait returns nil once the entry is committed (under SYNC_FLUSH: fsynced
// by a majority), ErrLeadershipLost or ErrClosed if its outcome became
// unknown, or ctx's error (the entry may still commit). Wait may be called
// again after a ctx error.
func (p *Proposal) Wait(ctx context.Context) error {
	if p.done {
		return p.err
	}
	select {
	case p.err = <-p.ch:
		p.done = true
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Propose appends payloads to the log as consecutive entries and returns
// at once; the Proposal's Wait returns when the last of them commits.
// Proposals from many goroutines are sent to followers together.
func (n *Node) Propose(payloads ...[]byte) (*Proposal, error) {
	for _, p := range payloads {
		if len(p) > n.cfg.MaxEntrySize {
			return nil, fmt.Errorf("%w: %d bytes, the limit (maxMessageSize) is %d", ErrTooLarge, len(p), n.cfg.MaxEntrySize)
		}
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	var last uint64
	for _, p := range payloads {
		i, err := n.core.propose(segment.TypeNormal, p)
		if err != nil {
			err = n.proposeErr(err)
			n.afterLocked()
			n.mu.Unlock()
			return nil, err
		}
		last = i
	}
	w := waiter{index: last, term: n.core.term, ch: make(chan error, 1)}
	n.waiters.push(w)
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
	return &Proposal{index: last, ch: w.ch}, nil
}

// proposeErr turns a core error into what the caller sees; mu held.
func (n *Node) proposeErr(err error) error {
	if errors.Is(err, ErrNotLeader) || errors.Is(err, ErrTransferring) {
		lead := n.core.lead
		if lead == n.cfg.ID {
			lead = n.core.transferee
		}
		return &NotLeaderError{Leader: lead, LeaderAddr: n.cfg.ClientAddrs[lead]}
	}
	return err
}

// Append appends payload and returns its index once it is committed under
// the configured flush mode. See Proposal.Wait for the errors.
func (n *Node) Append(ctx context.Context, payload []byte) (uint64, error) {
	p, err := n.Propose(payload)
	if err != nil {
		return 0, err
	}
	return p.index, p.Wait(ctx)
}

// AppendBatch appends payloads as consecutive entries and returns the
// index of the first once all are committed.
func (n *Node) AppendBatch(ctx context.Context, payloads [][]byte) (uint64, error) {
	if len(payloads) == 0 {
		return 0, nil
	}
	p, err := n.Propose(payloads...)
	if err != nil {
		return 0, err
	}
	return p.index - uint64(len(payloads)) + 1, p.Wait(ctx)
}

// ErrNotCommitted is returned by Read for an index above the commit index.
var ErrNotCommitted = errors.New("engine: entry not committed")

// Read returns committed entry i. The entry (its Payload) aliases the
// mapped log file: it is valid until retention deletes the entry's file
// twice over or the node closes; copy it to keep it longer. No-op entries
// (TypeNoop) are part of the log; skip them.
func (n *Node) Read(i uint64) (segment.Entry, error) {
	if c := n.commit.Load(); i > c {
		return segment.Entry{}, fmt.Errorf("%w: %d, commit index is %d", ErrNotCommitted, i, c)
	}
	return n.log.Read(i)
}

// CommitIndex returns the highest committed index this node knows.
func (n *Node) CommitIndex() uint64 { return n.commit.Load() }

// WaitCommit blocks until the commit index is at least i.
func (n *Node) WaitCommit(ctx context.Context, i uint64) error {
	for {
		ch := *n.commitCh.Load()
		if n.commit.Load() >= i {
			return nil
		}
		select {
		case <-ch:
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

// FollowerStatus is what a leader knows about one follower.
type FollowerStatus struct {
	ID      string
	Match   uint64 // highest index known to be in its log
	Durable uint64 // highest index it reported fsynced
	Next    uint64
	State   string // "probe" or "replicate"
	Lag     uint64 // leader's last index - Match
}

// Status is a snapshot of a node.
type Status struct {
	ID        string
	Role      Role
	Term      uint64
	Leader    string
	Writable  bool // leader with its no-op committed
	First     uint64
	Last      uint64
	Commit    uint64
	Durable   uint64
	Followers []FollowerStatus // leader only, ordered by id
	Err       error            // set once a storage failure stopped the node
}

// Status returns a snapshot of the node's state.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.core
	s := Status{ID: n.cfg.ID, Role: r.role, Term: r.term, Leader: r.lead, Writable: r.writable(),
		First: n.log.FirstIndex(), Last: n.log.LastIndex(), Commit: r.commit,
		Durable: n.flusher.Durable(), Err: r.stopped}
	if r.role == Leader {
		for _, id := range r.peers {
			pr := r.prs[id]
			s.Followers = append(s.Followers, FollowerStatus{ID: id, Match: pr.match, Durable: pr.durable,
				Next: pr.next, State: pr.state.String(), Lag: s.Last - min(pr.match, s.Last)})
		}
	}
	return s
}

// TransferLeadership moves leadership to the member id: the leader stops
// taking writes, brings id up to date, and tells it to campaign at once.
// It returns when id leads, or an error when this node is not the leader
// or the transfer did not complete within ctx or an election timeout.
func (n *Node) TransferLeadership(ctx context.Context, id string) error {
	n.mu.Lock()
	err := n.core.transfer(id)
	if err != nil {
		err = n.proposeErr(err)
	}
	n.afterLocked()
	term := n.core.term
	n.mu.Unlock()
	if err != nil || id == n.cfg.ID {
		return err
	}
	deadline := time.NewTimer(2 * n.cfg.ElectionTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(n.cfg.TickInterval)
	defer tick.Stop()
	for {
		st := n.Status()
		switch {
		case st.Leader == id && st.Term > term:
			return nil
		case st.Role == Leader && st.Term == term && n.transferee() == "":
			return fmt.Errorf("engine: transfer to %s did not complete within the election timeout %v", id, n.cfg.ElectionTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("engine: transfer to %s: no new leader after %v", id, 2*n.cfg.ElectionTimeout)
		case <-tick.C:
		}
	}
}

func (n *Node) transferee() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.core.transferee
}

// DeletePrefix removes the oldest log files whose entries are all below i
// (retention: fileReservedTime, disk usage), never anything not yet
// committed or fsynced, and returns the new first index. A follower that
// later needs a deleted entry has its log restarted at the leader's first
// index (Reset).
func (n *Node) DeletePrefix(i uint64) (uint64, error) {
	i = min(i, n.commit.Load()+1, n.flusher.Durable()+1)
	n.sendMu.Lock() // no dispatcher is sending slices of the files that go
	defer n.sendMu.Unlock()
	return n.log.DeletePrefix(i)
}
