package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/rmqlog/rmqlog/engine/raft"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/replication"
	"github.com/rmqlog/rmqlog/replication/wire"
	"github.com/rmqlog/rmqlog/segment"
)

// Node is one member of a replicated log group: the Raft core, its segment
// log and flusher, the peer transport and one dispatcher per peer. It is
// safe for concurrent use.
//
// Goroutines: one loop (ticks, proposal kicks, durable-index changes), one
// dispatcher per peer, the transport's reader per inbound connection, and
// the role notifier. Every call into the core happens under mu.
type Node struct {
	cfg Config
	st  *store // the log, its flusher and the raft-state file (store.go)
	tr  *replication.Transport

	// mu guards the core and everything it mutates (log appends,
	// truncation, hard state), the waiters and the fields below it.
	mu        sync.Mutex
	core      *raft.Raft
	waiters   waitQueue
	reads     []readWait // ReadIndex calls waiting for their round
	closed    bool
	requested uint64 // highest index handed to flusher.Request
	lastRole  RoleChange
	reported  RoleChange // last role change queued for the embedder

	commit atomic.Uint64
	// commitCh is closed and replaced when the commit index advances while
	// commitWaited says a WaitCommit may wait on it (a channel per commit
	// would be an allocation per append batch that nobody waits on).
	commitCh     atomic.Pointer[chan struct{}]
	commitWaited atomic.Bool

	// propMu guards props and propClosed: proposals queued for the loop to
	// append, and whether the node stopped taking them.
	propMu     sync.Mutex
	props      []*Proposal
	propClosed bool
	spare      []*Proposal     // loop only: the other props buffer
	entries    []segment.Entry // loop only: scratch for appendProposals
	leading    atomic.Bool     // leader and not transferring: Propose queues without locking mu
	pending    atomic.Int64    // bytes of proposals not yet committed or failed (MaxPendingBytes)

	// Replication counters: Append batches and the entries in them sent;
	// iterations of the loop.
	batchesSent, entriesSent, loops atomic.Uint64

	// advertMu guards adverts: the client addresses peers advertised in
	// their handshakes.
	advertMu sync.Mutex
	adverts  map[string]string

	disp  map[string]*dispatcher
	kick  chan struct{}
	stop  chan struct{}
	wg    sync.WaitGroup
	roles *notifier
	// stateFull: the hard state could not be saved for lack of space; the
	// core is halted (it sends nothing, so nothing depends on the unsaved
	// term or vote) and the save is retried every tick. Guarded by mu.
	stateFull bool
	// unrouted: ids the core sent messages to without a known address
	// (noRoute logged them once). Guarded by mu.
	unrouted map[string]bool
	// known: the peer address of every member a configuration named since
	// the node started (syncPeers). lastLead: the leader syncPeers last
	// saw. Guarded by mu.
	known    map[string]string
	lastLead string
}

// Open starts a node: it recovers the log and the hard state from
// cfg.Dir, then joins the group. It returns once the node is running; it
// becomes leader or follower by itself (see Config.OnRoleChange, Status).
func Open(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, kick: make(chan struct{}, 1), stop: make(chan struct{}), known: map[string]string{}}
	n.waiters.pending = &n.pending
	ch := make(chan struct{})
	n.commitCh.Store(&ch)
	st := newStore(cfg)
	n.st = st // before the log opens: recovery may call recordDamage
	if err := st.open(cfg, n.recordDamage); err != nil {
		return nil, err
	}
	hs, err := n.loadStartState()
	if err != nil {
		st.closeLog()
		st.unlockDir()
		return nil, err
	}
	confs, err := st.loadConfs()
	if err != nil {
		st.closeLog()
		st.unlockDir()
		return nil, err
	}
	st.startMembershipWriter()
	cc := n.coreConfig()
	cc.Confs = confs
	n.core = raft.New(cc, st, hs)
	st.core = n.core
	n.warnConfig()
	n.core.DurableTo(st.flusher.Durable())
	st.sendTerm.Store(n.core.Term())
	n.roles = newNotifier(cfg.OnRoleChange)
	if err := n.startNetwork(); err != nil {
		n.roles.close()
		st.closeLog()
		st.unlockDir()
		return nil, err
	}
	n.wg.Add(1)
	go n.run()
	cfg.Logger.Info("node started", "id", cfg.ID, "group", cfg.Group, "term", hs.Term,
		"first", st.FirstIndex(), "last", st.LastIndex(), "flush", cfg.FlushMode.String())
	return n, nil
}

// loadStartState reads the hard state and makes startState's changes
// durable before the node answers anyone.
func (n *Node) loadStartState() (HardState, error) {
	hs, err := n.readState()
	if err != nil {
		return hs, err
	}
	if !n.st.stateExists() {
		hs = n.noState()
	}
	next := raft.StartState(hs, n.cfg.FlushMode == flush.AsyncFlush)
	if next == hs {
		return hs, nil
	}
	if err := n.st.saveState(next); err != nil {
		return hs, fmt.Errorf("engine: saving the hard state at start: %w", err)
	}
	if hs.AsyncOpen {
		n.cfg.Logger.Warn("the last run under ASYNC_FLUSH ended without its final sync (a crash or a power cut): "+
			"this node's vote counts only with every member's until its log holds the leader's",
			"id", n.cfg.ID, "term", next.Term, "last", n.st.LastIndex(), "durable", n.st.flusher.Durable())
	}
	return next, nil
}

// noState is the hard state of a node whose data directory holds no
// raft-state file. A node cannot tell a brand-new directory from one that
// was wiped (or replaced) after it voted and acknowledged entries, so it
// starts from lostState either way: it votes normally once it has heard
// every member's term. If every member is still at term 0, no member ever
// voted or acknowledged anything and the group is new (closeCensus).
func (n *Node) noState() HardState {
	if n.st.LastIndex() < n.st.FirstIndex() && n.st.FirstIndex() <= 1 {
		n.cfg.Logger.Info("new data directory: this node votes once it has heard every member "+
			"(a new group elects its first leader once every member has started; a member whose directory "+
			"was wiped votes again once it holds the leader's log)", "id", n.cfg.ID, "dir", n.cfg.Dir)
		return raft.LostState(0)
	}
	// A log without its hard state: restored without it, or it was removed.
	n.cfg.Logger.Error("the data directory holds a log but no raft-state file: this node does not know "+
		"its term and vote; it votes only with every member until it has heard every member's term and holds the leader's log",
		"id", n.cfg.ID, "dir", n.cfg.Dir, "first", n.st.FirstIndex(), "last", n.st.LastIndex())
	t, _ := n.st.Term(n.st.LastIndex())
	return raft.LostState(t)
}

// readState reads the hard state. A file that cannot be decoded (a flipped
// bit, a torn write on a file system that does not keep renames atomic) is
// set aside, never deleted, and the node starts from lostState: restoring
// an older copy could bring back an older vote, and starting from nothing
// could vote twice in one term.
func (n *Node) readState() (HardState, error) {
	hs, err := n.st.loadState()
	if !errors.Is(err, ErrState) {
		return hs, err
	}
	aside, serr := n.st.setStateAside()
	if serr != nil {
		return hs, fmt.Errorf("%w (setting it aside: %w)", err, serr)
	}
	n.cfg.Logger.Error("damaged raft-state file set aside: this node does not know its term and vote; "+
		"it votes only with every member until it has heard every member's term and holds the leader's log",
		"id", n.cfg.ID, "err", err, "setAside", aside)
	hs = raft.LostState(0)
	if err := n.st.saveState(hs); err != nil {
		return hs, fmt.Errorf("engine: saving the hard state after setting the damaged one aside: %w", err)
	}
	return hs, nil
}

// recordDamage persists, before the log cuts its damaged part, that this
// node must repair its log before it votes again (see raft.repairing).
func (n *Node) recordDamage(d segment.Damage) error {
	hs, err := n.readState()
	if err != nil {
		return err
	}
	hs.RepairTo = max(hs.RepairTo, d.Had)
	hs.RepairTerm = max(hs.RepairTerm, hs.Term)
	if err := n.st.saveState(hs); err != nil {
		return fmt.Errorf("engine: recording the repair of a damaged log: %w", err)
	}
	n.cfg.Logger.Error("damaged log: this node will not vote or campaign until the leader has repaired it",
		"id", n.cfg.ID, "damage", d.String(), "repairTo", hs.RepairTo, "term", hs.Term)
	return nil
}

func (n *Node) coreConfig() raft.Config {
	c := n.cfg
	seed := c.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	return raft.Config{ID: c.ID, Members: c.bootstrap().Members,
		ElectionTicks: c.ticks(c.ElectionTimeout), HeartbeatTicks: c.ticks(c.HeartbeatInterval),
		RetransmitTicks: c.ticks(c.RetransmitTimeout), SyncQuorum: c.FlushMode == flush.SyncFlush,
		MaxBatchBytes: c.MaxBatchBytes, MaxBatchCount: c.MaxBatchCount,
		WindowBatches: c.WindowBatches, WindowBytes: c.WindowBytes,
		Preferred: c.PreferredLeader, PreferredCooldownTicks: 10 * c.ticks(c.ElectionTimeout),
		Rand: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), Logger: c.Logger.With("node", c.ID)}
}

// startNetwork starts the transport and the dispatchers. It holds mu: a
// peer's message can arrive as soon as the transport accepts, and its
// handling (handle, under mu) needs the dispatchers.
func (n *Node) startNetwork() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.cfg
	tr, err := replication.New(replication.Config{Group: c.Group, Self: c.ID, Peers: c.Peers,
		Listener: c.Listener, Logger: c.Logger.With("node", c.ID),
		Advert: c.ClientAddr, OnPeer: n.learnAdvert,
		MaxFrame: c.MaxBatchBytes + c.MaxEntrySize + wire.HeaderSize + segment.HeaderSize}, n.handle)
	if err != nil {
		return err
	}
	n.tr = tr
	n.disp = make(map[string]*dispatcher)
	n.syncPeers()
	return nil
}

// run is the node's loop: clock ticks, proposal kicks, and the flusher's
// durable-index changes all become calls into the core.
func (n *Node) run() {
	defer n.wg.Done()
	t := n.cfg.Clock.NewTicker(n.cfg.TickInterval)
	defer t.Stop()
	for {
		n.loops.Add(1)
		// Take the channel before reading the index it signals, so a change
		// between the two is never missed.
		changed := n.st.flusher.Changed()
		if n.st.flusher.Err() != nil {
			changed = nil // closed for good after a failure: do not spin on it
		}
		n.locked(n.syncDurable)
		select {
		case <-n.stop:
			return
		case <-t.C():
			n.locked(n.tick)
		case <-n.kick:
			n.locked(func() {
				n.appendProposals()
				n.core.FlushAppends()
			})
		case <-changed:
		}
	}
}

// tick advances the core's clock; while the hard state could not be saved
// for lack of space, it retries the save instead and resumes the core once
// it succeeds (a full disk stops the node from taking part; it does not
// stop it for good).
func (n *Node) tick() {
	if !n.stateFull {
		n.core.Tick()
		return
	}
	if err := n.st.saveState(n.core.HardState()); err != nil {
		return
	}
	n.stateFull = false
	n.core.Resume()
	n.cfg.Logger.Warn("raft: the hard state is saved again (the disk has room); this node takes part again", "node", n.cfg.ID, "term", n.core.Term())
}

// syncDurable tells the core the flusher's durable index if it moved, and
// stops the node if the flusher failed (a failed fsync is fail-stop).
func (n *Node) syncDurable() {
	if err := n.st.flusher.Err(); err != nil && (n.core.Stopped() == nil || n.stateFull) {
		// Fail-stop for good, even if halted for a full disk meanwhile: that
		// halt would end once the hard state is saved, this one never does.
		if n.stateFull {
			n.stateFull = false
			n.core.Resume()
		}
		n.core.Halt(fmt.Errorf("flush: %w", err))
		return
	}
	if d := n.st.flusher.Durable(); d != n.core.Durable() {
		n.core.DurableTo(d)
	}
}

// handle is the transport's handler: one inbound message into the core.
func (n *Node) handle(m *wire.Msg) {
	n.locked(func() { n.core.Step(m) })
}

// locked runs f on the core under mu, then does what its outputs require.
func (n *Node) locked(f func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	f()
	n.afterLocked()
}

// afterLocked carries out a core step's outputs, in this order:
//  1. persist the hard state (term, vote) if it changed, before any
//     message that depends on it leaves;
//  2. hand the messages to the dispatchers;
//  3. ask the flusher to sync what was appended (SYNC_FLUSH);
//  4. publish the commit index, release committed appends;
//  5. report a role change.
func (n *Node) afterLocked() {
	rd := n.core.Ready()
	if rd.SaveState {
		if err := n.st.saveState(rd.HardState); err != nil {
			n.core.Halt(fmt.Errorf("saving term and vote: %w", err))
			rd = n.core.Ready()
			rd.Msgs = nil // nothing that depends on the unsaved state leaves
			n.stateFull = errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
		}
	}
	n.st.sendTerm.Store(rd.Term)
	if rd.ConfChanged || rd.Lead != n.lastLead {
		n.lastLead = rd.Lead
		n.syncPeers()
	}
	for _, m := range rd.Msgs {
		if d := n.disp[m.To]; d != nil {
			d.enqueue(m)
		} else {
			n.noRoute(m.To)
		}
	}
	if last := n.st.LastIndex(); last != n.requested || rd.Rewritten {
		n.requested = last
		n.st.flusher.Request(last)
	}
	n.publishCommit(&rd)
	n.releaseReads(&rd)
	n.reportRole(&rd)
	n.leading.Store(rd.Role == Leader && !rd.Transferring && rd.Stopped == nil)
}

func (n *Node) publishCommit(rd *raft.Ready) {
	if rd.Commit > n.commit.Load() {
		n.commit.Store(rd.Commit)
		if n.commitWaited.Load() && n.commitWaited.Swap(false) {
			ch := make(chan struct{})
			close(*n.commitCh.Swap(&ch))
		}
	}
	switch {
	case rd.Stopped != nil:
		n.waiters.fail(rd.Stopped)
	case rd.Role == Leader:
		n.waiters.commit(rd.Commit, rd.Term)
	case n.waiters.len() > 0:
		n.waiters.settle(rd.Commit, func(i uint64) uint64 {
			t, err := n.st.Term(i)
			if err != nil {
				return 0
			}
			return t
		}, ErrLeadershipLost)
	}
}

func (n *Node) reportRole(rd *raft.Ready) {
	rc := RoleChange{Role: rd.Role, Term: rd.Term, Leader: rd.Lead}
	if rc.Role == Leader && !rd.Writable {
		return // reported once the no-op commits
	}
	if rc != n.reported {
		n.reported = rc
		n.roles.push(rc)
		n.cfg.Logger.Info("role changed", "node", n.cfg.ID, "role", rc.Role.String(), "term", rc.Term, "leader", rc.Leader)
	}
}

// ErrLeadershipLost is returned by Append when the node stopped being the
// leader before the entry committed: the entry may or may not commit under
// the next leader. A client that retries may write it twice.
var ErrLeadershipLost = errors.New("engine: leadership lost before the entry committed; its outcome is unknown")

// ErrClosed is returned by calls on a closed node.
var ErrClosed = errors.New("engine: node closed")

// Close stops the node: it stops taking part in the group, fails waiting
// appends with ErrClosed, syncs the log and closes it.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.waiters.fail(ErrClosed)
	n.releaseReads(&raft.Ready{Stopped: n.core.Stopped()}) // closed: every read fails
	n.propMu.Lock()
	for _, p := range n.props {
		n.pending.Add(-p.size) // first: once resolved, p may be proposed again
		p.ch <- ErrClosed
	}
	n.props, n.propClosed = nil, true
	n.propMu.Unlock()
	n.mu.Unlock()
	close(n.stop)
	n.st.closeReads() // wait for reads in progress; later ones get ErrClosed
	err := n.tr.Close()
	for _, d := range n.disp {
		d.close()
	}
	n.wg.Wait()
	n.roles.close()
	defer n.st.unlockDir()
	if cerr := n.st.closeLog(); cerr != nil {
		return errors.Join(err, cerr) // AsyncOpen stays set: the next start repairs
	}
	if hs := n.core.HardState(); hs.AsyncOpen {
		// The final sync covered every entry this node acknowledged.
		hs.AsyncOpen = false
		if serr := n.st.saveState(hs); serr != nil {
			err = errors.Join(err, fmt.Errorf("engine: recording the clean stop: %w", serr))
		}
	}
	return err
}

// ID returns the node's id.
func (n *Node) ID() string { return n.cfg.ID }
