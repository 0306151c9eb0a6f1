package engine

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

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
	cfg     Config
	log     *segment.Log
	flusher *flush.Flusher
	tr      *replication.Transport
	nlog    *nodeLog

	// mu guards the core and everything it mutates (log appends,
	// truncation, hard state), the waiters and the fields below it.
	mu        sync.Mutex
	core      *raft
	waiters   waitQueue
	reads     []readWait // ReadIndex calls waiting for their round
	closed    bool
	requested uint64 // highest index handed to flusher.Request
	lastRole  RoleChange
	reported  RoleChange // last role change queued for the embedder

	// readMu: Read holds it shared while it looks the entry up, View while
	// fn runs; Close, DeletePrefix, truncation and reset take it
	// exclusively, so no reader is inside a file they unmap. Lock order:
	// mu, readMu, sendMu.
	readMu     sync.RWMutex
	readClosed bool

	sendMu   sync.RWMutex  // see nodeLog
	sendTerm atomic.Uint64 // see nodeLog
	commit   atomic.Uint64
	// commitCh is closed and replaced when the commit index advances.
	commitCh atomic.Pointer[chan struct{}]

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

	disp     map[string]*dispatcher
	kick     chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
	roles    *notifier
	stateDir string
	// dirLock locks Dir (FS.Lock) from Open to Close, unless Dir is LogDir,
	// which the log locks itself.
	dirLock io.Closer
	// stateFull: the hard state could not be saved for lack of space; the
	// core is halted (it sends nothing, so nothing depends on the unsaved
	// term or vote) and the save is retried every tick. Guarded by mu.
	stateFull bool
}

// Open starts a node: it recovers the log and the hard state from
// cfg.Dir, then joins the group. It returns once the node is running; it
// becomes leader or follower by itself (see Config.OnRoleChange, Status).
func Open(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, kick: make(chan struct{}, 1), stop: make(chan struct{}), stateDir: cfg.Dir}
	n.waiters.pending = &n.pending
	ch := make(chan struct{})
	n.commitCh.Store(&ch)
	if err := n.openStorage(); err != nil {
		n.unlockDir()
		return nil, err
	}
	hs, err := n.loadStartState()
	if err != nil {
		n.closeStorage()
		n.unlockDir()
		return nil, err
	}
	n.core = newRaft(n.coreConfig(), n.nlog, hs)
	n.core.durableTo(n.flusher.Durable())
	n.sendTerm.Store(n.core.term)
	n.roles = newNotifier(cfg.OnRoleChange)
	if err := n.startNetwork(); err != nil {
		n.roles.close()
		n.closeStorage()
		n.unlockDir()
		return nil, err
	}
	n.wg.Add(1)
	go n.run()
	cfg.Logger.Info("node started", "id", cfg.ID, "group", cfg.Group, "term", hs.Term,
		"first", n.log.FirstIndex(), "last", n.log.LastIndex(), "flush", cfg.FlushMode.String())
	return n, nil
}

func (n *Node) openStorage() error {
	c := n.cfg
	if err := c.FS.MkdirAll(c.Dir); err != nil {
		return fmt.Errorf("engine: data directory %s: %w", c.Dir, err)
	}
	if filepath.Clean(c.Dir) != filepath.Clean(c.LogDir) { // the log locks its own directory
		lk, err := c.FS.Lock(c.Dir)
		if err != nil {
			return err
		}
		n.dirLock = lk
	}
	log, err := segment.Open(c.LogDir, segment.Options{
		SegmentSize: c.SegmentSize, IndexEntries: c.IndexEntries, FS: c.FS,
		Logger: c.Logger,
		// Prewriting zeros makes fdatasync overwrite written blocks (1.5x
		// the syncs/s, results/storage.md): worth it when every ack waits for
		// a sync. Under ASYNC_FLUSH no ack waits for one, and the zeros
		// doubled the bytes written and halved the throughput of
		// BenchmarkCluster (results/replication.md).
		NoPrewrite: c.FlushMode == flush.AsyncFlush || c.NoPrewrite, PrewriteRate: c.PrewriteRate,
		// Damage anywhere in the log is found at start (a full read of the
		// log), and cut: the node then repairs it from the leader, neither
		// voting nor campaigning meanwhile (raft.repairing). Under
		// ASYNC_FLUSH entries count before they are synced, so a bad entry
		// followed by a good one is damage even above the synced position.
		VerifyAll: true, CheckUnsynced: c.FlushMode == flush.AsyncFlush, OnDamage: n.recordDamage})
	if err != nil {
		return err
	}
	f, err := flush.New(log, flush.Options{Mode: c.FlushMode, Interval: c.FlushInterval, OnSync: c.OnSync})
	if err != nil {
		log.Close()
		return err
	}
	n.log, n.flusher = log, f
	n.nlog = &nodeLog{Log: log, flusher: f, sendMu: &n.sendMu, readMu: &n.readMu, sendTerm: &n.sendTerm,
		term: func() uint64 { return n.core.term }, interrupt: n.interruptSends}
	return nil
}

// loadStartState reads the hard state and makes startState's changes
// durable before the node answers anyone.
func (n *Node) loadStartState() (HardState, error) {
	hs, err := n.readState()
	if err != nil {
		return hs, err
	}
	if !stateExists(n.cfg.FS, n.cfg.Dir) {
		hs = n.noState()
	}
	next := startState(hs, n.cfg.FlushMode == flush.AsyncFlush)
	if next == hs {
		return hs, nil
	}
	if err := saveState(n.cfg.FS, n.cfg.Dir, next); err != nil {
		return hs, fmt.Errorf("engine: saving the hard state at start: %w", err)
	}
	if hs.AsyncOpen {
		n.cfg.Logger.Warn("the last run under ASYNC_FLUSH ended without its final sync (a crash or a power cut): "+
			"this node's vote counts only with every member's until its log holds the leader's",
			"id", n.cfg.ID, "term", next.Term, "last", n.log.LastIndex(), "durable", n.flusher.Durable())
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
	if n.log.LastIndex() < n.log.FirstIndex() && n.log.FirstIndex() <= 1 {
		n.cfg.Logger.Info("new data directory: this node votes once it has heard every member "+
			"(a new group elects its first leader once every member has started; a member whose directory "+
			"was wiped votes again once it holds the leader's log)", "id", n.cfg.ID, "dir", n.cfg.Dir)
		return lostState(0)
	}
	// A log without its hard state: restored without it, or it was removed.
	n.cfg.Logger.Error("the data directory holds a log but no raft-state file: this node does not know "+
		"its term and vote; it votes only with every member until it has heard every member's term and holds the leader's log",
		"id", n.cfg.ID, "dir", n.cfg.Dir, "first", n.log.FirstIndex(), "last", n.log.LastIndex())
	t, _ := n.log.Term(n.log.LastIndex())
	return lostState(t)
}

// readState reads the hard state. A file that cannot be decoded (a flipped
// bit, a torn write on a file system that does not keep renames atomic) is
// set aside, never deleted, and the node starts from lostState: restoring
// an older copy could bring back an older vote, and starting from nothing
// could vote twice in one term.
func (n *Node) readState() (HardState, error) {
	hs, err := loadState(n.cfg.FS, n.cfg.Dir)
	if !errors.Is(err, ErrState) {
		return hs, err
	}
	aside, serr := setStateAside(n.cfg.FS, n.cfg.Dir)
	if serr != nil {
		return hs, fmt.Errorf("%w (setting it aside: %w)", err, serr)
	}
	n.cfg.Logger.Error("damaged raft-state file set aside: this node does not know its term and vote; "+
		"it votes only with every member until it has heard every member's term and holds the leader's log",
		"id", n.cfg.ID, "err", err, "setAside", aside)
	hs = lostState(0)
	if err := saveState(n.cfg.FS, n.cfg.Dir, hs); err != nil {
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
	if err := saveState(n.cfg.FS, n.cfg.Dir, hs); err != nil {
		return fmt.Errorf("engine: recording the repair of a damaged log: %w", err)
	}
	n.cfg.Logger.Error("damaged log: this node will not vote or campaign until the leader has repaired it",
		"id", n.cfg.ID, "damage", d.String(), "repairTo", hs.RepairTo, "term", hs.Term)
	return nil
}

func (n *Node) coreConfig() coreConfig {
	c := n.cfg
	seed := c.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	peers := make([]string, 0, len(c.Peers))
	for id := range c.Peers {
		peers = append(peers, id)
	}
	return coreConfig{ID: c.ID, Peers: peers,
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
	for _, id := range n.core.peers {
		d := newDispatcher(n, tr.Peer(id))
		n.disp[id] = d
		n.wg.Add(1)
		go d.run()
	}
	return nil
}

// interruptSends aborts every dispatcher's write in progress.
func (n *Node) interruptSends() {
	for _, d := range n.disp {
		d.peer.Interrupt()
	}
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
		changed := n.flusher.Changed()
		if n.flusher.Err() != nil {
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
				n.core.flushAppends()
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
		n.core.tick()
		return
	}
	if err := saveState(n.cfg.FS, n.stateDir, n.core.hardState()); err != nil {
		return
	}
	n.stateFull = false
	n.core.resume()
	n.cfg.Logger.Warn("raft: the hard state is saved again (the disk has room); this node takes part again", "node", n.cfg.ID, "term", n.core.term)
}

// syncDurable tells the core the flusher's durable index if it moved, and
// stops the node if the flusher failed (a failed fsync is fail-stop).
func (n *Node) syncDurable() {
	if err := n.flusher.Err(); err != nil && (n.core.stopped == nil || n.stateFull) {
		// Fail-stop for good, even if halted for a full disk meanwhile: that
		// halt would end once the hard state is saved, this one never does.
		n.stateFull, n.core.stopped = false, nil
		n.core.halt(fmt.Errorf("flush: %w", err))
		return
	}
	if d := n.flusher.Durable(); d != n.core.durable {
		n.core.durableTo(d)
	}
}

// handle is the transport's handler: one inbound message into the core.
func (n *Node) handle(m *wire.Msg) {
	n.locked(func() { n.core.step(m) })
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
	r := n.core
	if r.hsDirty {
		if err := saveState(n.cfg.FS, n.stateDir, r.hardState()); err != nil {
			r.msgs = nil // nothing that depends on the unsaved state leaves
			r.halt(fmt.Errorf("saving term and vote: %w", err))
			n.stateFull = errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
		}
		r.hsDirty = false
	}
	n.sendTerm.Store(r.term)
	for _, m := range r.takeMsgs() {
		n.disp[m.To].enqueue(m)
	}
	if last := n.log.LastIndex(); last != n.requested || n.nlog.resync {
		n.requested, n.nlog.resync = last, false
		n.flusher.Request(last)
	}
	n.publishCommit()
	n.releaseReads()
	n.reportRole()
	n.leading.Store(r.role == Leader && r.transferee == "" && r.stopped == nil)
}

func (n *Node) publishCommit() {
	r := n.core
	if r.commit > n.commit.Load() {
		n.commit.Store(r.commit)
		ch := make(chan struct{})
		close(*n.commitCh.Swap(&ch))
	}
	switch {
	case r.stopped != nil:
		n.waiters.fail(r.stopped)
	case r.role == Leader:
		n.waiters.commit(r.commit, r.term)
	case n.waiters.len() > 0:
		n.waiters.fail(ErrLeadershipLost)
	}
}

func (n *Node) reportRole() {
	r := n.core
	rc := RoleChange{Role: r.role, Term: r.term, Leader: r.lead}
	if rc.Role == Leader && !r.writable() {
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
	n.releaseReads()
	n.propMu.Lock()
	for _, p := range n.props {
		p.ch <- ErrClosed
		n.pending.Add(-p.size)
	}
	n.props, n.propClosed = nil, true
	n.propMu.Unlock()
	n.mu.Unlock()
	close(n.stop)
	n.readMu.Lock() // wait for reads in progress; later ones get ErrClosed
	n.readClosed = true
	n.readMu.Unlock()
	err := n.tr.Close()
	for _, d := range n.disp {
		d.close()
	}
	n.wg.Wait()
	n.roles.close()
	defer n.unlockDir()
	if cerr := n.closeStorage(); cerr != nil {
		return errors.Join(err, cerr) // AsyncOpen stays set: the next start repairs
	}
	if hs := n.core.hardState(); hs.AsyncOpen {
		// The final sync covered every entry this node acknowledged.
		hs.AsyncOpen = false
		if serr := saveState(n.cfg.FS, n.stateDir, hs); serr != nil {
			err = errors.Join(err, fmt.Errorf("engine: recording the clean stop: %w", serr))
		}
	}
	return err
}

// unlockDir releases the data directory's lock (see openStorage).
func (n *Node) unlockDir() {
	if n.dirLock != nil {
		n.dirLock.Close()
		n.dirLock = nil
	}
}

func (n *Node) closeStorage() error {
	return errors.Join(n.flusher.Close(), n.log.Close())
}

// ID returns the node's id.
func (n *Node) ID() string { return n.cfg.ID }
