package raft

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/record"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// The simulator runs the real Raft core (raft) of several nodes on a
// simulated network with a virtual clock: messages are dropped,
// duplicated, delayed and reordered, links are cut one way or both, nodes
// crash (keeping their page cache, or losing everything not fsynced), syncs
// happen at random, and followers' logs are trimmed by retention. After
// every step it checks Raft's safety properties; at the end it heals
// everything and checks liveness and that every acknowledged entry is in
// every node's log. Every random choice comes from one seed, so a failing
// seed replays the exact run: go test ./engine/raft -run TestSimRandom -sim.seed N -v

var (
	simSeeds = flag.Int("sim.seeds", 400, "number of seeded schedules per TestSimRandom configuration")
	simSeed  = flag.Uint64("sim.seed", 0, "run only this seed (with -v it prints the trace)")
	simSteps = flag.Int("sim.steps", 600, "ticks per schedule")
)

type simConfig struct {
	name        string
	nodes       int
	syncQuorum  bool
	drop, dup   float64
	maxDelay    int
	crash       float64 // chance per tick that a node crashes
	powerLoss   bool    // a crash loses what the node had not fsynced
	partition   float64 // chance per tick that the partition changes
	retention   bool
	unreachable bool // report sends over cut links as failed to the sender
	ordered     bool // deliver in send order, as one TCP connection does
	// lossy: faults may take an entry from every member that holds it
	// (damage on any number of nodes); implied by power loss under
	// ASYNC_FLUSH. The checks then allow exactly those losses.
	lossy bool
	// fresh: every node starts with an empty directory as Node.Open sees
	// it (lostState(0)): the census decides that the group is new.
	fresh bool
	// membership: the leader changes the membership (sim_membership_test.go).
	membership bool
}

type simMsg struct {
	m  wire.Msg
	at int
}

type simNode struct {
	id      string
	r       *Raft
	log     *memLog
	hs      HardState
	up      bool
	checked uint64 // commit index checked so far
	leading bool
	pending []simProposal
	// Membership (sim_membership_test.go): joiner started as no member;
	// gone was removed and stopped for good; lingering was removed and
	// keeps running; quorumChecked is the commit index checkCommitQuorum
	// checked last.
	joiner, gone, lingering, wasMember bool
	quorumChecked                      uint64
}

type simProposal struct {
	index, term uint64
	crc         uint32
}

type sim struct {
	t       testing.TB
	cfg     simConfig
	seed    uint64
	rng     *rand.Rand
	now     int
	nodes   []*simNode
	net     []simMsg
	cut     map[[2]string]bool
	leaders map[uint64]string // term -> leader
	commits map[uint64]uint32 // committed index -> entry CRC
	acked   map[uint64]uint32 // index acknowledged to a client -> entry CRC
	props   int
	resets  int
	// lostAcks counts acknowledged entries lost as ASYNC_FLUSH allows:
	// every member that held them lost power (checkComplete).
	lostAcks int
	onSend   func(m *wire.Msg)
	boot     []string // the first members' ids
	changes  int      // membership changes appended
	joined   int      // nodes started to join
	trace    []string
	verbose  bool
}

func newSim(t testing.TB, cfg simConfig, seed uint64) *sim {
	s := &sim{t: t, cfg: cfg, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x5eed)),
		cut: map[[2]string]bool{}, leaders: map[uint64]string{}, commits: map[uint64]uint32{},
		acked: map[uint64]uint32{}}
	var ids []string
	for i := range cfg.nodes {
		ids = append(ids, fmt.Sprintf("n%d", i))
	}
	s.boot = ids
	for _, id := range ids {
		n := &simNode{id: id, log: newMemLog()}
		if cfg.fresh {
			n.hs = LostState(0)
		}
		s.nodes = append(s.nodes, n)
		s.start(n, ids)
	}
	return s
}

func (s *sim) coreConfig(id string, ids []string, k uint64) Config {
	return Config{ID: id, Peers: ids, ElectionTicks: 10, HeartbeatTicks: 2, RetransmitTicks: 6,
		SyncQuorum: s.cfg.syncQuorum, MaxBatchBytes: 1 << 20, MaxBatchCount: 3, WindowBatches: 3,
		WindowBytes: 1 << 20, PreferredCooldownTicks: 30,
		Rand:   rand.New(rand.NewPCG(s.seed, k)),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func (s *sim) ids() []string {
	var ids []string
	for _, n := range s.nodes {
		ids = append(ids, n.id)
	}
	return ids
}

// start boots n from its persisted hard state and its log, as a restarted
// process would (Node.Open: startState).
func (s *sim) start(n *simNode, ids []string) {
	n.hs = StartState(n.hs, !s.cfg.syncQuorum)
	if n.joiner {
		ids = nil // rmqlogJoin: no member until the log says so
	} else if s.boot != nil {
		ids = s.boot
	}
	k := uint64(s.now)<<8 | uint64(len(n.id))
	cfg := s.coreConfig(n.id, ids, k+uint64(n.id[1]))
	cfg.Confs = n.log.confs()
	n.r = New(cfg, n.log, n.hs)
	n.up, n.checked, n.leading, n.pending = true, 0, false, nil
	n.r.DurableTo(n.log.synced)
	s.after(n)
}

func (s *sim) logf(format string, args ...any) {
	line := fmt.Sprintf("%5d ", s.now) + fmt.Sprintf(format, args...)
	if s.verbose {
		s.t.Log(line)
	}
	s.trace = append(s.trace, line)
	if len(s.trace) > 60 {
		s.trace = s.trace[1:]
	}
}

func (s *sim) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("%s seed %d tick %d: %s\nreplay: go test ./engine/raft -run 'TestSim' -sim.seed %d -v\nlast events:\n%s",
		s.cfg.name, s.seed, s.now, fmt.Sprintf(format, args...), s.seed, strings.Join(s.trace, "\n"))
}

// after performs what a driver does after any call into a core: persist
// the hard state, then send the messages; and checks the invariants.
func (s *sim) after(n *simNode) {
	rd := n.r.Ready()
	n.hs = rd.HardState
	for _, m := range rd.Msgs {
		s.sendMsg(n, m)
	}
	s.check(n)
}

func (s *sim) sendMsg(n *simNode, m wire.Msg) {
	if m.Type == wire.TypeReset {
		s.resets++
	}
	if m.Type == wire.TypeAppend && m.Count > 0 {
		m.Entries = n.log.framed(m.Index+1, m.Count)
	}
	m = s.roundTrip(m)
	if s.onSend != nil {
		s.onSend(&m)
	}
	dst := s.node(m.To)
	if s.cut[[2]string{m.From, m.To}] || !dst.up {
		if s.cfg.unreachable && s.rng.IntN(2) == 0 {
			n.r.Unreachable(m.To)
		}
		return
	}
	if s.rng.Float64() < s.cfg.drop {
		return
	}
	s.net = append(s.net, simMsg{m: m, at: s.now + 1 + s.rng.IntN(s.cfg.maxDelay+1)})
	if s.rng.Float64() < s.cfg.dup {
		s.net = append(s.net, simMsg{m: m, at: s.now + 1 + s.rng.IntN(s.cfg.maxDelay+1)})
	}
}

// roundTrip sends m through the wire codec, as the transport does.
func (s *sim) roundTrip(m wire.Msg) wire.Msg {
	d, err := wire.Decode(wire.Encode(nil, &m))
	if err != nil {
		s.fatalf("codec: %v", err)
	}
	d.From, d.To = m.From, m.To
	return d
}

func (s *sim) node(id string) *simNode {
	for _, n := range s.nodes {
		if n.id == id {
			return n
		}
	}
	s.fatalf("no node %q", id)
	return nil
}

// deliver hands every due message to its node, in random order.
func (s *sim) deliver() {
	var due []simMsg
	rest := s.net[:0]
	for _, m := range s.net {
		if m.at <= s.now {
			due = append(due, m)
		} else {
			rest = append(rest, m)
		}
	}
	s.net = rest
	if !s.cfg.ordered {
		s.rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	}
	for _, d := range due {
		dst := s.node(d.m.To)
		if !dst.up || s.cut[[2]string{d.m.From, d.m.To}] {
			continue
		}
		m := d.m
		dst.r.Step(&m)
		s.after(dst)
	}
}

// check asserts the safety properties that can be seen from node n now.
func (s *sim) check(n *simNode) {
	r := n.r
	if r.role == Leader {
		if l, ok := s.leaders[r.term]; ok && l != n.id {
			s.fatalf("two leaders in term %d: %s and %s", r.term, l, n.id)
		}
		s.leaders[r.term] = n.id
		if !n.leading {
			s.logf("%s leads term %d, log [%d,%d]", n.id, r.term, n.log.FirstIndex(), n.log.LastIndex())
			s.checkComplete(n)
		}
	}
	if s.cfg.membership {
		s.checkCommitQuorum(n)
	}
	n.leading = r.role == Leader
	if r.commit > n.log.LastIndex() {
		s.fatalf("%s: commit %d beyond its last index %d", n.id, r.commit, n.log.LastIndex())
	}
	for i := max(n.checked+1, n.log.FirstIndex()); i <= r.commit; i++ {
		c, _ := n.log.crcAt(i)
		if old, ok := s.commits[i]; ok && old != c {
			s.fatalf("%s: committed entry %d changed: crc %08x, committed as %08x", n.id, i, c, old)
		}
		s.commits[i] = c
	}
	n.checked = max(n.checked, r.commit)
	s.resolve(n)
}

// checkComplete: a new leader holds every committed entry (Raft's leader
// completeness). Under ASYNC_FLUSH with power loss the promise is weaker
// (docs/durability.md): a committed entry may be missing only if no member
// holds it any more, up or down: every member that held it lost it to a
// power cut before syncing it. Such an entry is forgotten by the checks.
func (s *sim) checkComplete(n *simNode) {
	for i, want := range s.commits {
		if i < n.log.FirstIndex() {
			continue
		}
		c, ok := n.log.crcAt(i)
		switch {
		case ok && c == want:
		case (s.cfg.lossy || s.cfg.powerLoss && !s.cfg.syncQuorum) && !s.held(i, want):
			s.logf("committed entry %d lost: every member that held it lost it", i)
			if _, acked := s.acked[i]; acked {
				s.lostAcks++
			}
			delete(s.commits, i)
			delete(s.acked, i)
		default:
			s.fatalf("leader %s of term %d lacks committed entry %d (has %08x, ok %v; committed %08x)",
				n.id, n.r.term, i, c, ok, want)
		}
	}
}

// held reports whether any member, up or down, holds entry i with crc.
func (s *sim) held(i uint64, crc uint32) bool {
	for _, n := range s.nodes {
		if c, ok := n.log.crcAt(i); ok && c == crc {
			return true
		}
	}
	return false
}

// resolve acknowledges the proposals of n that its commit index covers,
// as the node answers a client; proposals of a lost leadership are dropped
// (their outcome is unknown to the client).
func (s *sim) resolve(n *simNode) {
	keep := n.pending[:0]
	for _, p := range n.pending {
		switch {
		case n.r.role != Leader || n.r.term != p.term:
		case n.r.commit >= p.index:
			if c, _ := n.log.crcAt(p.index); c != p.crc {
				s.fatalf("%s acknowledged entry %d but holds crc %08x, proposed %08x", n.id, p.index, c, p.crc)
			}
			s.acked[p.index] = p.crc
		default:
			keep = append(keep, p)
		}
	}
	n.pending = keep
}

func (s *sim) propose(n *simNode) {
	s.props++
	payload := fmt.Appendf(nil, "seed %d proposal %d", s.seed, s.props)
	i, err := n.r.Propose(record.TypeNormal, payload)
	if err != nil {
		return
	}
	c, _ := n.log.crcAt(i)
	n.pending = append(n.pending, simProposal{index: i, term: n.r.term, crc: c})
	n.r.FlushAppends()
	s.after(n)
}

func (s *sim) sync(n *simNode) {
	n.r.DurableTo(n.log.sync())
	s.after(n)
}

// crash stops n: a kill (the page cache survives), a power cut (if the
// configuration has them: what was not synced is lost) or, one time in
// four, a clean stop (a final sync, then AsyncOpen cleared, as Node.Close).
func (s *sim) crash(n *simNode) {
	n.up = false
	if s.rng.IntN(4) == 0 {
		n.log.sync()
		n.hs.AsyncOpen = false
		s.logf("%s stops cleanly, log [%d,%d]", n.id, n.log.FirstIndex(), n.log.LastIndex())
		return
	}
	lossy := s.cfg.powerLoss && s.rng.IntN(2) == 0
	if lossy {
		n.log.powerLoss()
	}
	s.logf("%s crashes (power loss %v), log now [%d,%d]", n.id, lossy, n.log.FirstIndex(), n.log.LastIndex())
}

func (s *sim) repartition() {
	clear(s.cut)
	ids := s.ids()
	switch s.rng.IntN(4) {
	case 0: // healed
		s.logf("network healed")
	case 1: // one node isolated
		x := ids[s.rng.IntN(len(ids))]
		for _, y := range ids {
			s.cut[[2]string{x, y}], s.cut[[2]string{y, x}] = true, true
		}
		s.logf("%s isolated", x)
	case 2: // one-way links
		for range 2 {
			a, b := ids[s.rng.IntN(len(ids))], ids[s.rng.IntN(len(ids))]
			s.cut[[2]string{a, b}] = true
			s.logf("link %s->%s cut", a, b)
		}
	case 3: // a random split
		perm := s.rng.Perm(len(ids))
		k := 1 + s.rng.IntN(len(ids)-1)
		for _, i := range perm[:k] {
			for _, j := range perm[k:] {
				s.cut[[2]string{ids[i], ids[j]}], s.cut[[2]string{ids[j], ids[i]}] = true, true
			}
		}
		s.logf("split %v", perm[:k])
	}
}

// step runs one tick of the simulation with its random events.
func (s *sim) step() { s.stepWith(s.restart) }

// stepWith is step, restarting a node that is down with restart.
func (s *sim) stepWith(restart func(*simNode)) {
	s.tickDeliver()
	for _, n := range s.nodes {
		s.randomEvents(n, restart)
	}
	if s.rng.Float64() < s.cfg.partition {
		s.repartition()
	}
	if s.cfg.membership {
		s.retire()
	}
}

// tickDeliver advances the clock: every running node ticks, then the
// messages due are delivered.
func (s *sim) tickDeliver() {
	s.now++
	for _, n := range s.nodes {
		if n.up {
			n.r.Tick()
			s.after(n)
		}
	}
	s.deliver()
}

// restart starts a node that is down, as it was.
func (s *sim) restart(n *simNode) {
	s.logf("%s restarts, term %d vote %q, log [%d,%d]", n.id, n.hs.Term, n.hs.Vote, n.log.FirstIndex(), n.log.LastIndex())
	s.start(n, s.ids())
}

// randomEvents draws one tick's events for n: a restart (by restart) if it
// is down, else proposals, syncs, retention and crashes.
func (s *sim) randomEvents(n *simNode, restart func(*simNode)) {
	if n.gone {
		return
	}
	if !n.up {
		if s.rng.IntN(20) == 0 {
			restart(n)
		}
		return
	}
	if n.r.role == Leader && s.rng.IntN(3) == 0 {
		s.propose(n)
	}
	if s.cfg.membership && n.r.role == Leader && s.rng.IntN(40) == 0 {
		s.changeMembership(n)
	}
	if s.rng.IntN(3) == 0 {
		s.sync(n)
	}
	if s.cfg.retention && s.rng.IntN(40) == 0 {
		keep := uint64(s.rng.IntN(4))
		if c := min(n.r.commit, n.log.synced); c > keep+1 {
			n.log.deletePrefix(c - keep)
		}
	}
	if s.rng.Float64() < s.cfg.crash {
		s.crash(n)
	}
}

// heal ends the faults and runs until the group is live again: one
// writable leader, a fresh proposal committed, every node holding the
// leader's committed log.
func (s *sim) heal() {
	clear(s.cut)
	s.logf("healing")
	for _, n := range s.nodes {
		if !n.up && !n.gone {
			s.start(n, s.ids())
		}
	}
	saved := s.cfg
	s.cfg.drop, s.cfg.dup, s.cfg.crash, s.cfg.partition = 0, 0, 0, 0
	defer func() { s.cfg = saved }()
	var target, targetTerm uint64
	for deadline := s.now + 400; s.now < deadline; {
		s.now++
		for _, n := range s.nodes {
			if n.gone {
				continue
			}
			n.r.Tick()
			s.after(n)
			s.sync(n)
		}
		s.deliver()
		l := s.leader()
		if l == nil || !l.r.Writable() {
			continue
		}
		if targetTerm != l.r.term {
			s.propose(l)
			target, targetTerm = l.log.LastIndex(), l.r.term
		}
		if s.converged(l, target) {
			return
		}
	}
	s.fatalf("no progress within 400 ticks after healing: %s", s.describe())
}

// member reports whether n is a member of leader l's configuration (every
// node is, without membership changes).
func (s *sim) member(l *simNode, n *simNode) bool {
	if !s.cfg.membership || l == nil {
		return true
	}
	_, ok := l.r.conf.Get(n.id)
	return ok
}

func (s *sim) leader() *simNode {
	var l *simNode
	for _, n := range s.nodes {
		if n.r.role == Leader && (l == nil || n.r.term > l.r.term) {
			l = n
		}
	}
	return l
}

func (s *sim) converged(l *simNode, target uint64) bool {
	for _, n := range s.nodes {
		if !s.member(l, n) {
			continue
		}
		if n.r.commit < target || n.log.LastIndex() != l.log.LastIndex() {
			return false
		}
	}
	return true
}

func (s *sim) describe() string {
	var b strings.Builder
	for _, n := range s.nodes {
		if s.cfg.membership {
			fmt.Fprintf(&b, "\n%s conf %d (%s) gone=%v lingering=%v", n.id, n.r.confIndex, n.r.conf.String(), n.gone, n.lingering)
		}
		fmt.Fprintf(&b, "\n%s up=%v role=%v term=%d vote=%q lead=%q commit=%d log=[%d,%d] synced=%d durable=%d matched=%d sentDurable=%d repairTo=%d termLost=%v waiting=%v",
			n.id, n.up, n.r.role, n.r.term, n.r.vote, n.r.lead, n.r.commit, n.log.FirstIndex(), n.log.LastIndex(), n.log.synced,
			n.r.durable, n.r.matched, n.r.sentDurable, n.r.repairTo, n.r.termLost, n.r.Waiting())
		for _, p := range n.r.peers {
			if pr := n.r.prs[p]; pr != nil {
				fmt.Fprintf(&b, "\n   %s: %s match=%d durable=%d next=%d probeSent=%v inflight=%d idle=%d",
					p, pr.state, pr.match, pr.durable, pr.next, pr.probeSent, pr.inflight.count, pr.idle)
			}
		}
	}
	return b.String()
}

// finalCheck: every acknowledged entry is in every node's log, and the
// logs are identical where their terms agree (log matching).
func (s *sim) finalCheck() {
	l := s.leader()
	for i, c := range s.acked {
		for _, n := range s.nodes {
			if i < n.log.FirstIndex() || !s.member(l, n) {
				continue
			}
			if got, ok := n.log.crcAt(i); !ok || got != c {
				s.fatalf("acknowledged entry %d (crc %08x) lost on %s (has %08x, present %v)%s", i, c, n.id, got, ok, s.describe())
			}
		}
	}
	for _, a := range s.nodes {
		for _, b := range s.nodes {
			s.checkMatching(a, b)
		}
	}
}

func (s *sim) checkMatching(a, b *simNode) {
	lo := max(a.log.FirstIndex(), b.log.FirstIndex())
	hi := min(a.log.LastIndex(), b.log.LastIndex())
	for i := hi; i >= lo && i > 0; i-- {
		ta, _ := a.log.Term(i)
		tb, _ := b.log.Term(i)
		if ta != tb {
			continue
		}
		ca, _ := a.log.crcAt(i)
		cb, _ := b.log.crcAt(i)
		if ca != cb {
			s.fatalf("log matching: %s and %s agree on term %d at %d but differ (%08x, %08x)", a.id, b.id, ta, i, ca, cb)
		}
		return // equal CRCs chain the whole prefix
	}
}

func (s *sim) run(steps int) {
	for range steps {
		s.step()
	}
	s.heal()
	s.finalCheck()
}

var simConfigs = []simConfig{
	{name: "sync-lossy-net", nodes: 3, syncQuorum: true, drop: 0.05, dup: 0.05, maxDelay: 3, crash: 0.004, powerLoss: true, partition: 0.02, unreachable: true},
	{name: "async-kill", nodes: 3, drop: 0.05, dup: 0.05, maxDelay: 3, crash: 0.004, partition: 0.02, unreachable: true},
	{name: "sync-5-nodes-retention", nodes: 5, syncQuorum: true, drop: 0.1, dup: 0.02, maxDelay: 5, crash: 0.003, powerLoss: true, partition: 0.03, retention: true},
	{name: "async-partitions", nodes: 5, drop: 0.02, maxDelay: 2, partition: 0.05, retention: true, unreachable: true},
	{name: "async-power-loss", nodes: 3, drop: 0.05, dup: 0.05, maxDelay: 3, crash: 0.004, powerLoss: true, partition: 0.02, unreachable: true},
	{name: "async-power-loss-5-retention", nodes: 5, drop: 0.05, dup: 0.02, maxDelay: 4, crash: 0.004, powerLoss: true, partition: 0.03, retention: true},
	{name: "sync-fresh-census", nodes: 3, syncQuorum: true, drop: 0.05, dup: 0.05, maxDelay: 3, crash: 0.004, powerLoss: true, partition: 0.02, unreachable: true, fresh: true},
}

// eachSeed runs cfg's seeded schedules (-sim.seeds of them, a tenth under
// -short or -race, or only -sim.seed) and hands each finished one to done;
// it returns how many ran.
func eachSeed(t *testing.T, cfg simConfig, done func(s *sim)) uint64 {
	seeds := uint64(*simSeeds)
	if testing.Short() || raceEnabled {
		seeds = max(1, seeds/10)
	}
	first := uint64(1)
	if *simSeed != 0 {
		first, seeds = *simSeed, 1
	}
	for seed := first; seed < first+seeds; seed++ {
		s := newSim(t, cfg, seed)
		s.verbose = *simSeed != 0 && testing.Verbose()
		s.run(*simSteps)
		done(s)
	}
	return seeds
}

func TestSimRandom(t *testing.T) {
	for _, cfg := range simConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			var acked, terms, resets, lost int
			seeds := eachSeed(t, cfg, func(s *sim) {
				acked += len(s.acked)
				terms += len(s.leaders)
				resets += s.resets
				lost += s.lostAcks
			})
			t.Logf("%d schedules: %d entries acknowledged, %d leaders elected, %d log resets, %d acknowledged entries lost to power cuts of every member holding them",
				seeds, acked, terms, resets, lost)
		})
	}
}
