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
	if e.LeaderAddr == "" {
		return fmt.Sprintf("engine: not the leader; the leader is %s (its client address is not known here yet)", e.Leader)
	}
	return fmt.Sprintf("engine: not the leader; the leader is %s at %s", e.Leader, e.LeaderAddr)
}

func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// ErrTooLarge is returned for a payload over Config.MaxEntrySize.
var ErrTooLarge = errors.New("engine: entry too large")

// Proposal is a group of entries on their way into the log and to commit.
type Proposal struct {
	payloads [][]byte
	size     int64  // bytes held in Node.pending until resolved
	index    uint64 // last entry's index; set by the node before ch fires
	ch       chan error
	err      error
	done     bool
}

// Index is the index of the proposal's last entry, valid once Wait
// returned nil.
func (p *Proposal) Index() uint64 { return p.index }

// Wait returns nil once the entries are committed (under SYNC_FLUSH:
// fsynced by a majority); a NotLeaderError if they were never appended;
// ErrLeadershipLost or ErrClosed if their outcome became unknown; or ctx's
// error (they may still commit). Wait may be called again after a ctx
// error.
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

// Ready reports whether the proposal's outcome is known, so that Wait
// would return at once. Like Wait, it is for the proposal's one owner
// goroutine.
func (p *Proposal) Ready() bool {
	if p.done {
		return true
	}
	select {
	case p.err = <-p.ch:
		p.done = true
		return true
	default:
		return false
	}
}

// Propose hands payloads to the node to append as consecutive entries and
// returns at once; Wait on the Proposal for the commit. Proposals from all
// goroutines are appended together by the node's loop (one write for all
// of them under SYNC_FLUSH) and sent to followers in shared batches. The
// payloads must not change until Wait returns.
func (n *Node) Propose(payloads ...[]byte) (*Proposal, error) {
	size := int64(0)
	for _, p := range payloads {
		if len(p) > n.cfg.MaxEntrySize {
			return nil, fmt.Errorf("%w: %d bytes, the limit (maxMessageSize) is %d", ErrTooLarge, len(p), n.cfg.MaxEntrySize)
		}
		size += int64(len(p) + segment.HeaderSize)
	}
	if busy := n.pending.Add(size); busy > int64(n.cfg.MaxPendingBytes) && busy > size {
		n.pending.Add(-size)
		return nil, fmt.Errorf("%w: %d bytes of appends await their commit (limit %d)", ErrBusy, busy-size, n.cfg.MaxPendingBytes)
	}
	p, err := n.enqueue(payloads, size)
	if err != nil {
		n.pending.Add(-size)
	}
	return p, err
}

// ErrBusy is returned by Propose when more than Config.MaxPendingBytes of
// appends are waiting for their commit: back off and retry.
var ErrBusy = errors.New("engine: too many appends in flight")

func (n *Node) enqueue(payloads [][]byte, size int64) (*Proposal, error) {
	if !n.leading.Load() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.closed {
			return nil, ErrClosed
		}
		if err := n.core.canPropose(); err != nil {
			return nil, n.proposeErr(err)
		}
	}
	p := &Proposal{payloads: payloads, size: size, ch: make(chan error, 1)}
	n.propMu.Lock()
	if n.propClosed {
		n.propMu.Unlock()
		return nil, ErrClosed
	}
	n.props = append(n.props, p)
	n.propMu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
	return p, nil
}

// appendProposals appends every queued proposal with one log write and
// registers their waiters; called by the loop under mu.
func (n *Node) appendProposals() {
	n.propMu.Lock()
	props := n.props
	n.props = n.spare[:0]
	n.propMu.Unlock()
	defer func() { clear(props); n.spare = props[:0] }()
	if len(props) == 0 {
		return
	}
	es := n.entries[:0]
	for _, p := range props {
		for _, b := range p.payloads {
			es = append(es, segment.Entry{Type: segment.TypeNormal, Payload: b})
		}
	}
	defer func() { clear(es); n.entries = es[:0] }()
	before := n.log.LastIndex()
	last, err := n.core.proposeBatch(es)
	if err != nil {
		err = n.proposeErr(err)
		if n.log.LastIndex() != before {
			// Some entries were appended: a later leader may commit them.
			err = fmt.Errorf("%w (the append failed part way: %w)", ErrLeadershipLost, err)
		}
		for _, p := range props {
			p.ch <- err
			n.pending.Add(-p.size)
		}
		return
	}
	i := last - uint64(len(es))
	for _, p := range props {
		i += uint64(len(p.payloads))
		p.index = i
		n.waiters.push(waiter{index: i, term: n.core.term, size: p.size, ch: p.ch})
	}
}

// proposeErr turns a core error into what the caller sees; mu held.
func (n *Node) proposeErr(err error) error {
	if errors.Is(err, ErrNotLeader) || errors.Is(err, ErrTransferring) {
		lead := n.core.lead
		if lead == n.cfg.ID {
			lead = n.core.transferee
		}
		return &NotLeaderError{Leader: lead, LeaderAddr: n.clientAddr(lead)}
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
	err = p.Wait(ctx)
	return p.index, err
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
	err = p.Wait(ctx)
	return p.index - uint64(len(payloads)) + 1, err
}

// ErrNotCommitted is returned by Read for an index above the commit index.
var ErrNotCommitted = errors.New("engine: entry not committed")

// Read returns committed entry i. The entry (its Payload) aliases the
// mapped log file: it is valid until retention deletes the entry's file
// twice over, a follower's log is reset or truncated, or the node closes;
// copy it to keep it longer, or use View. No-op entries
// (TypeNoop) are part of the log; skip them.
func (n *Node) Read(i uint64) (segment.Entry, error) {
	n.readMu.RLock()
	defer n.readMu.RUnlock()
	return n.readCommitted(i)
}

// readCommitted reads committed entry i; readMu held shared.
func (n *Node) readCommitted(i uint64) (segment.Entry, error) {
	if n.readClosed {
		return segment.Entry{}, ErrClosed
	}
	if c := n.commit.Load(); i > c {
		return segment.Entry{}, fmt.Errorf("%w: %d, commit index is %d", ErrNotCommitted, i, c)
	}
	return n.log.Read(i)
}

// View calls fn with committed entry i while the entry's bytes are
// guaranteed mapped: no truncation, reset or retention can unmap its file
// until fn returns. fn must be short (it delays those) and must not call
// back into the node; copy what it needs. Use View rather than Read when
// another goroutine may change the log meanwhile (a follower serving reads).
func (n *Node) View(i uint64, fn func(segment.Entry)) error {
	n.readMu.RLock()
	defer n.readMu.RUnlock()
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
		ch := *n.commitCh.Load()
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
	ID     string
	Role   Role
	Term   uint64
	Leader string
	// LeaderAddr is the leader's client address, if known (see
	// Config.ClientAddr).
	LeaderAddr string
	Writable   bool // leader with its no-op committed
	First      uint64
	Last       uint64
	Commit     uint64
	Durable    uint64
	Followers  []FollowerStatus // leader only, ordered by id
	Err        error            // set once a storage failure stopped the node
	// BatchesSent and EntriesSent count the Append batches this node sent
	// to followers, and the entries in them, since it started.
	BatchesSent, EntriesSent uint64
	// Elections counts the elections this node started (as a candidate,
	// after a successful pre-vote or for a transfer) since it started.
	Elections uint64
	// RepairTo is not 0 while the node repairs a log that may lack entries
	// it acknowledged (damage, or an unclean stop under ASYNC_FLUSH:
	// RepairUnknown): its vote counts only in an election every member
	// votes in, until its log holds the leader's; see docs/durability.md.
	RepairTo uint64
	// TermLost is set while a node whose hard state was lost waits to hear
	// every member's term (its vote counts only when every member votes).
	TermLost bool
	// Waiting lists the members a node with TermLost has not heard yet: a
	// new group elects its first leader once every member has answered.
	Waiting []string
	// Contradiction is set once a leader asked this node to overwrite an
	// entry it knows is committed, which it refused (ErrContradiction);
	// Contradictions counts such refusals since the node started.
	Contradiction  error
	Contradictions uint64
}

// Status returns a snapshot of the node's state.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.core
	s := Status{ID: n.cfg.ID, Role: r.role, Term: r.term, Leader: r.lead, Writable: r.writable(),
		First: n.log.FirstIndex(), Last: n.log.LastIndex(), Commit: r.commit,
		Durable: n.flusher.Durable(), Err: r.stopped, Elections: r.elections,
		BatchesSent: n.batchesSent.Load(), EntriesSent: n.entriesSent.Load(), RepairTo: r.repairTo,
		Contradiction: r.contradiction, Contradictions: r.contradictions, TermLost: r.termLost,
		Waiting: r.waiting()}
	s.LeaderAddr = n.clientAddr(r.lead)
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
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
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
	n.readMu.Lock() // no View is inside a file that goes
	defer n.readMu.Unlock()
	if n.readClosed {
		return 0, ErrClosed
	}
	i = min(i, n.commit.Load()+1, n.flusher.Durable()+1)
	n.sendMu.Lock() // no dispatcher is sending slices of the files that go
	defer n.sendMu.Unlock()
	return n.log.DeletePrefix(i)
}

// learnAdvert records the client address peer id advertised in its
// handshake (replication.Config.OnPeer).
func (n *Node) learnAdvert(id, addr string) {
	if addr == "" {
		return
	}
	n.advertMu.Lock()
	defer n.advertMu.Unlock()
	if n.adverts == nil {
		n.adverts = make(map[string]string)
	}
	n.adverts[id] = addr
}

// clientAddr returns member id's client address: configured, advertised by
// it, or "" if unknown.
func (n *Node) clientAddr(id string) string {
	switch {
	case id == "":
		return ""
	case n.cfg.ClientAddrs[id] != "":
		return n.cfg.ClientAddrs[id]
	case id == n.cfg.ID:
		return n.cfg.ClientAddr
	}
	n.advertMu.Lock()
	defer n.advertMu.Unlock()
	return n.adverts[id]
}

// Retain applies RocketMQ-style retention at time now: log files other than
// the newest whose last write is older than maxAge (fileReservedTime), and
// the oldest files while all of them exceed maxBytes, are deleted through
// DeletePrefix (so never anything not yet committed or fsynced). Zero
// disables a limit. It returns the first index after the call.
func (n *Node) Retain(now time.Time, maxAge time.Duration, maxBytes int64) (uint64, error) {
	segs, err := n.segments()
	if err != nil {
		return 0, err
	}
	i := segment.RetentionIndex(segs, now, maxAge, maxBytes)
	if i <= n.log.FirstIndex() {
		return n.log.FirstIndex(), nil
	}
	return n.DeletePrefix(i)
}

func (n *Node) segments() ([]segment.FileInfo, error) {
	n.readMu.RLock()
	defer n.readMu.RUnlock()
	if n.readClosed {
		return nil, ErrClosed
	}
	return n.log.Segments()
}
