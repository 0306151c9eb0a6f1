package engine

import (
	"context"
	"errors"
	"fmt"

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
	typ      segment.Type
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
	return n.ProposeAs(segment.TypeNormal, payloads...)
}

// ProposeAs is Propose for entries of type typ: TypeNormal (Propose's) or
// TypeBroker (the RocketMQ broker's entries, kept apart from the native
// client's so that only the broker's reach its stamp and consume queues).
// Readers see the type in Entry.Type.
func (n *Node) ProposeAs(typ segment.Type, payloads ...[]byte) (*Proposal, error) {
	p := new(Proposal)
	if err := n.ProposeWith(p, typ, payloads); err != nil {
		return nil, err
	}
	return p, nil
}

// ProposeWith is ProposeAs into p instead of a new Proposal, so that a
// caller that proposes again and again reuses one Proposal and its
// channel. p is a zero Proposal or one whose outcome its owner took (Wait
// returned nil or an error other than its context's, or Ready returned
// true); it panics on a Proposal still in flight. After an error p holds
// no proposal and may be used again.
func (n *Node) ProposeWith(p *Proposal, typ segment.Type, payloads [][]byte) error {
	if p.ch != nil && !p.done {
		panic(fmt.Sprintf("engine: ProposeWith of a Proposal still in flight (%d payloads, %d bytes)", len(p.payloads), p.size))
	}
	if typ != segment.TypeNormal && typ != segment.TypeBroker {
		return fmt.Errorf("engine: entries of type %v cannot be proposed (only normal and broker)", typ)
	}
	size := int64(0)
	for _, b := range payloads {
		if len(b) > n.cfg.MaxEntrySize {
			return fmt.Errorf("%w: %d bytes, the limit (maxMessageSize) is %d", ErrTooLarge, len(b), n.cfg.MaxEntrySize)
		}
		size += int64(len(b) + segment.HeaderSize)
	}
	if busy := n.pending.Add(size); busy > int64(n.cfg.MaxPendingBytes) && busy > size {
		n.pending.Add(-size)
		return fmt.Errorf("%w: %d bytes of appends await their commit (limit %d)", ErrBusy, busy-size, n.cfg.MaxPendingBytes)
	}
	err := n.enqueue(p, typ, payloads, size)
	if err != nil {
		n.pending.Add(-size)
	}
	return err
}

// ErrBusy is returned by Propose when more than Config.MaxPendingBytes of
// appends are waiting for their commit: back off and retry.
var ErrBusy = errors.New("engine: too many appends in flight")

// enqueue queues p, filled in, for the loop to append.
func (n *Node) enqueue(p *Proposal, typ segment.Type, payloads [][]byte, size int64) error {
	if !n.leading.Load() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.closed {
			return ErrClosed
		}
		if err := n.core.CanPropose(); err != nil {
			return n.proposeErr(err)
		}
	}
	n.propMu.Lock()
	if n.propClosed {
		n.propMu.Unlock()
		return ErrClosed
	}
	if p.ch == nil {
		p.ch = make(chan error, 1)
	}
	p.typ, p.payloads, p.size, p.index, p.err, p.done = typ, payloads, size, 0, nil, false
	n.props = append(n.props, p)
	n.propMu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
	return nil
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
			es = append(es, segment.Entry{Type: p.typ, Payload: b})
		}
	}
	defer func() { clear(es); n.entries = es[:0] }()
	before := n.st.LastIndex()
	last, err := n.core.ProposeBatch(es)
	if err != nil {
		err = n.proposeErr(err)
		if n.st.LastIndex() != before {
			// Some entries were appended: a later leader may commit them.
			err = fmt.Errorf("%w (the append failed part way: %w)", ErrLeadershipLost, err)
		}
		for _, p := range props {
			n.pending.Add(-p.size) // first: once resolved, p may be proposed again
			p.ch <- err
		}
		return
	}
	i := last - uint64(len(es))
	for _, p := range props {
		i += uint64(len(p.payloads))
		p.index = i
		n.waiters.push(waiter{index: i, term: n.core.Term(), size: p.size, ch: p.ch})
	}
}

// proposeErr turns a core error into what the caller sees; mu held.
func (n *Node) proposeErr(err error) error {
	if errors.Is(err, ErrNotLeader) || errors.Is(err, ErrTransferring) {
		lead := n.core.Lead()
		if lead == n.cfg.ID {
			lead = n.core.Transferee()
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
