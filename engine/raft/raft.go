package raft

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"

	"github.com/rmqlog/rmqlog/record"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// Log is what the Raft core needs of the local log. The engine gives it
// the segment log through its log owner (engine/store.go), so truncation
// goes through the flusher and never runs while a dispatcher is sending
// mapped bytes; the simulator gives it an in-memory log.
type Log interface {
	FirstIndex() uint64
	LastIndex() uint64
	// Term returns the term of entry i, for FirstIndex()-1 <= i <= LastIndex().
	Term(i uint64) (uint64, error)
	Append(term uint64, typ record.Type, payload []byte) (uint64, error)
	// AppendBatch appends es in order and returns the last index; on an
	// error the entries before the failing one may stay appended.
	AppendBatch(es []record.Entry) (uint64, error)
	// AppendFramed stores entries in the log's framing as they are.
	AppendFramed(b []byte) (uint64, error)
	// TruncateSuffix removes entries i and after.
	TruncateSuffix(i uint64) error
	// Span returns the last index and the framed size of the batch that
	// starts at from, bounded by maxBytes (at least one entry) and maxCount.
	Span(from uint64, maxBytes, maxCount int) (last uint64, n int, err error)
	Base() (record.Position, uint64, uint32)
	Reset(base record.Position, prevTerm uint64, prevCRC uint32) error
	// SaveMembership hands over the list of configuration entries
	// (EncodeConfs), complete through the log's last index: the core calls
	// it before it appends a configuration entry and after a truncation or
	// reset removed one. The driver makes it durable as it sees fit, but
	// the Config.Confs it starts a core with must hold every configuration
	// entry of the log (the engine reads back the log beyond the index its
	// saved list is complete through).
	SaveMembership(b []byte) error
	// Err returns the log's sticky failure (fail-stop: every later write
	// fails too), nil while it takes writes. A write error while Err is nil
	// (a full disk) is transient.
	Err() error
}

// Role is a node's Raft role.
type Role uint8

// The roles. RocketMQ calls the leader the master and followers slaves.
const (
	Follower Role = iota
	PreCandidate
	Candidate
	Leader
)

func (r Role) String() string {
	return [...]string{"follower", "pre-candidate", "candidate", "leader"}[r]
}

// HardState is what a node persists before it answers: its term and vote,
// whether it is repairing a log that may lack entries it acknowledged, and
// whether it runs under ASYNC_FLUSH.
type HardState struct {
	Term uint64
	Vote string
	// RepairTo is set while the node repairs its log (see repairing): the
	// highest index the log is known to have held, or RepairUnknown when
	// the node cannot know it (it stopped uncleanly under ASYNC_FLUSH).
	// RepairTerm is the node's term when the repair began.
	RepairTo, RepairTerm uint64
	// AsyncOpen is set, durably, while the node runs under ASYNC_FLUSH and
	// cleared once a clean stop has synced everything. Found set at start,
	// it means the last run ended without that final sync: entries the node
	// acknowledged may have been in its page cache only, and are lost if the
	// machine lost power. The node then repairs (see startState).
	AsyncOpen bool
	// TermLost is set when the node's hard state was lost: it does not know
	// in which terms it voted, and runs a census before it votes (census.go).
	TermLost bool
}

// RepairUnknown is HardState.RepairTo for a node that may have
// acknowledged entries it no longer holds without knowing which: its
// repair ends only when its log holds a leader's whole log or a newer
// term's entry commits in it.
const RepairUnknown = ^uint64(0)

// StartState is the hard state a node starts from, given the state it
// found on disk and whether it now runs under ASYNC_FLUSH. A node that
// found AsyncOpen set stopped without its final sync: under ASYNC_FLUSH an
// entry counts on a node once it is in its page cache, so after a power cut
// it may have counted entries it no longer holds. It repairs (votes only in
// a full house, see tally) until its log holds a leader's whole log. A kill
// -9 leaves the page cache, so such a node usually holds everything; it
// cannot tell, and the repair then ends at the first heartbeat it answers.
func StartState(hs HardState, async bool) HardState {
	if hs.AsyncOpen {
		hs.RepairTo, hs.RepairTerm = RepairUnknown, max(hs.RepairTerm, hs.Term)
	}
	hs.AsyncOpen = async
	return hs
}

// Config configures the Raft core. Times are in ticks.
type Config struct {
	ID    string
	Peers []string // the bootstrap members, ID included, when Members is empty
	// Members is the bootstrap configuration (with addresses), used until
	// the log holds a configuration entry. Empty with empty Peers: a node
	// joining an existing group, which is no member until the leader's log
	// says it is.
	Members []Member
	// Confs is the saved list of configuration entries (DecodeConfs of what
	// Log.SaveMembership last saved); New keeps those the log still holds.
	Confs []ConfEntry

	ElectionTicks   int // a follower campaigns after [ElectionTicks, 2*ElectionTicks) without a leader
	HeartbeatTicks  int
	RetransmitTicks int // resend the unacknowledged range after this long without an ack
	// SyncQuorum: an entry counts on a member only once it is fsynced there
	// (SYNC_FLUSH); otherwise once it is in its log (ASYNC_FLUSH).
	SyncQuorum bool

	MaxBatchBytes          int
	MaxBatchCount          int
	WindowBatches          int
	WindowBytes            int
	Preferred              string // preferred leader, "" for none
	PreferredCooldownTicks int

	Rand   *rand.Rand
	Logger *slog.Logger
}

// Errors the core reports to callers of propose and transfer.
var (
	ErrNotLeader    = errors.New("engine: not the leader")
	ErrTransferring = errors.New("engine: leadership transfer in progress")
	ErrStopped      = errors.New("engine: node stopped after a storage failure")
)

// Raft is the consensus core: pure decisions, no goroutines, sockets or
// clocks. Inputs are step (a message), tick, propose, durableTo and
// unreachable; outputs are the messages in msgs, the hard state (persisted
// by the driver before those messages leave) and the log it mutates. The
// driver (engine.Node) or the simulator (sim_test.go) calls it under one lock.
type Raft struct {
	cfg   Config
	log   Log
	peers []string // members other than cfg.ID (and, on a leader, retiring ones); see setConf

	// Membership (change.go): boot is the bootstrap configuration; confs
	// the configuration entries in the log (and the one in force below its
	// first index); conf the configuration in force, at confIndex; voters
	// its voting members; retiring the members a leader still replicates
	// to until the configuration that removed them commits.
	boot          Membership
	confs         []ConfEntry
	conf          Membership
	confIndex     uint64
	voters        []string
	retiring      []string
	confChanged   bool // Ready.ConfChanged
	removedLogged bool
	leaving       bool // a leader that removed itself, handing off (handOff)

	term   uint64
	vote   string
	role   Role
	lead   string
	commit uint64
	// durable is the local log's fsynced index, as the flusher reports it.
	durable uint64
	// matched (follower): the last index known to match the current leader's log.
	matched     uint64
	sentDurable uint64 // follower: last durable index reported to the leader
	hsDirty     bool
	rewritten   bool // a truncation or reset replaced entries (Ready.Rewritten)
	stopped     error
	elections   uint64 // elections started as a candidate (Status)
	// repairTo, repairTerm: see HardState and repairing.
	repairTo, repairTerm uint64
	asyncOpen            bool // see HardState; the core carries it unchanged
	// termLost and census: see census.go. census holds the highest term
	// heard from each member while termLost.
	termLost  bool
	census    map[string]uint64
	queryTick int // ticks until the next census query
	// contradiction (follower): the last leader request to overwrite a
	// committed entry, refused (refuseOverwrite); contradictions counts them.
	contradiction     error
	contradictionTerm uint64
	contradictions    uint64
	electionTick      int
	heartTick         int
	timeout           int // randomized election timeout
	votes             map[string]ballot

	// leader state
	prs           map[string]*progress
	noop          uint64 // index of this term's no-op
	transferee    string
	transferTick  int
	preferredWait int
	scratch       []uint64
	counted       []uint64
	// Read confirmation (ReadIndex): readSeq numbers the rounds asked for,
	// readDone is the highest one a majority answered in this term.
	readSeq, readDone uint64

	msgs []wire.Msg
}

func New(cfg Config, log Log, hs HardState) *Raft {
	r := &Raft{cfg: cfg, log: log, term: hs.Term, vote: hs.Vote, repairTo: hs.RepairTo, repairTerm: hs.RepairTerm,
		asyncOpen: hs.AsyncOpen, termLost: hs.TermLost}
	if r.termLost {
		r.census = make(map[string]uint64)
	}
	r.boot = Membership{Members: slices.Clone(cfg.Members)}
	if len(cfg.Members) == 0 {
		for _, p := range cfg.Peers {
			r.boot.Members = append(r.boot.Members, Member{ID: p})
		}
	}
	r.boot.sort()
	r.loadConfs(cfg.Confs)
	r.setConf()
	r.becomeFollower(r.term, "")
	return r
}

// Ready is what the core produced since the last call to Ready: the data
// the driver carries out, in this order (persist-before-send):
//  1. if SaveState, make HardState durable; only then
//  2. send Msgs (each to its To); if the save failed, send none of them
//     and Halt the core, since they may depend on the unsaved term or vote;
//  3. sync the log up to its last index (SYNC_FLUSH), also when Rewritten
//     says a truncation or reset replaced entries without moving it;
//  4. publish Commit and the role (Role, Term, Lead, Writable).
type Ready struct {
	HardState HardState
	SaveState bool
	Msgs      []wire.Msg
	Rewritten bool
	// ConfChanged: the configuration in force changed (Membership): the
	// driver connects to the members it adds, before sending Msgs.
	ConfChanged bool

	Role         Role
	Term         uint64
	Lead         string
	Commit       uint64
	Writable     bool  // the leader's no-op is committed (see Writable)
	Transferring bool  // a leadership transfer is under way: proposals are refused
	Stopped      error // see Halt; nil while the node takes part
	ReadDone     uint64
}

// Ready returns what the core produced since the last call and clears it
// (the messages, the hard state's change mark and Rewritten).
func (r *Raft) Ready() Ready {
	rd := Ready{HardState: r.HardState(), SaveState: r.hsDirty, Msgs: r.msgs, Rewritten: r.rewritten, ConfChanged: r.confChanged,
		Role: r.role, Term: r.term, Lead: r.lead, Commit: r.commit, Writable: r.Writable(),
		Transferring: r.transferee != "", Stopped: r.stopped, ReadDone: r.readDone}
	r.msgs, r.hsDirty, r.rewritten, r.confChanged = nil, false, false, false
	return rd
}

// Term returns the current term.
func (r *Raft) Term() uint64 { return r.term }

// Lead returns the current term's leader, "" if none is known.
func (r *Raft) Lead() string { return r.lead }

// Commit returns the commit index.
func (r *Raft) Commit() uint64 { return r.commit }

// Durable returns the local fsynced index last given to DurableTo.
func (r *Raft) Durable() uint64 { return r.durable }

// Stopped returns why the core was halted, nil while it takes part.
func (r *Raft) Stopped() error { return r.stopped }

// Peers returns the members this node exchanges messages with, sorted.
func (r *Raft) Peers() []string { return slices.Clone(r.peers) }

// Transferee returns the member leadership is being transferred to, "" if none.
func (r *Raft) Transferee() string { return r.transferee }

// Status is a snapshot of the core's state, for the node's Status.
type Status struct {
	Role           Role
	Term           uint64
	Lead           string
	Commit         uint64
	Writable       bool
	Stopped        error
	Elections      uint64 // elections started as a candidate
	RepairTo       uint64 // see HardState
	TermLost       bool
	Waiting        []string // members a census has not heard yet
	Contradiction  error    // the last refused overwrite of a committed entry (ErrContradiction)
	Contradictions uint64
	Followers      []Progress // the leader's view of each follower, sorted by id
	Membership     Membership // the configuration in force
	ConfIndex      uint64     // its entry's index, 0 for the bootstrap configuration
	ConfCommitted  bool
}

// Progress is the leader's view of one follower.
type Progress struct {
	ID                   string
	Match, Durable, Next uint64
	State                string // "probe" or "replicate"
	Learner              bool   // receives the log, does not vote
	Retiring             bool   // removed by the uncommitted configuration
}

// Status returns a snapshot of the core's state.
func (r *Raft) Status() Status {
	s := Status{Role: r.role, Term: r.term, Lead: r.lead, Commit: r.commit, Writable: r.Writable(),
		Stopped: r.stopped, Elections: r.elections, RepairTo: r.repairTo, TermLost: r.termLost,
		Waiting: r.Waiting(), Contradiction: r.contradiction, Contradictions: r.contradictions,
		Membership: r.conf.clone(), ConfIndex: r.confIndex, ConfCommitted: r.commit >= r.confIndex}
	if r.role == Leader {
		for _, id := range r.peers {
			pr := r.prs[id]
			m, member := r.conf.Get(id)
			s.Followers = append(s.Followers, Progress{ID: id, Match: pr.match, Durable: pr.durable,
				Next: pr.next, State: pr.state.String(), Learner: m.Learner, Retiring: !member})
		}
	}
	return s
}

func (r *Raft) HardState() HardState {
	return HardState{Term: r.term, Vote: r.vote, RepairTo: r.repairTo, RepairTerm: r.repairTerm, AsyncOpen: r.asyncOpen,
		TermLost: r.termLost}
}

// repairing reports whether this node's log may lack entries it
// acknowledged: damage cut it (segment recovery), or it stopped uncleanly
// under ASYNC_FLUSH (startState). Such a node's acknowledgements may have
// helped commit entries it no longer holds; if its vote counted like any
// other, a candidate missing those entries could win with it. So its vote
// counts only in a full house (tally), and it repairs until its log holds
// every entry that may have been committed with its help:
//   - its log holds the current leader's whole log (a heartbeat carries the
//     leader's last index), which holds every committed entry, or
//   - its commit index (learned from a leader, within what its log matches
//     with that leader's) reaches the highest index it held, or
//   - it holds a committed entry of a term above the one it had when the
//     repair began: that term's leader held every entry committed before it
//     (Leader Completeness), and they precede it in this log, or
//   - it is elected leader: its log is then the group's.
func (r *Raft) repairing() bool { return r.repairTo != 0 || r.termLost }

// checkRepaired ends the repair once the commit index shows the log whole
// again; see repairing.
func (r *Raft) checkRepaired() {
	if r.repairTo == 0 || r.commit == 0 {
		return
	}
	if r.commit >= r.repairTo || r.termAt(r.commit) > r.repairTerm {
		r.endRepair("its commit index covers what it held")
	}
}

// endRepair: the log is whole again; the node votes and campaigns again.
func (r *Raft) endRepair(why string) {
	held := any(r.repairTo)
	if r.repairTo == RepairUnknown {
		held = "unknown (unclean stop)"
	}
	r.cfg.Logger.Info("raft: log repaired; voting again", "why", why,
		"commit", r.commit, "matched", r.matched, "held", held, "leader", r.lead)
	r.repairTo, r.repairTerm, r.hsDirty = 0, 0, true
	if r.termLost {
		r.cfg.Logger.Info("raft: still waiting to hear every member's term before voting normally (census)")
	}
}

func (r *Raft) send(m wire.Msg) {
	m.From = r.cfg.ID
	if m.Term == 0 {
		m.Term = r.term
	}
	r.msgs = append(r.msgs, m)
}

// quorum is the size of a majority of the voters in force; with no voter
// (a node that is no member) nothing can reach it.
func (r *Raft) quorum() int {
	if len(r.voters) == 0 {
		return 1 << 30
	}
	return majority(len(r.voters))
}

func (r *Raft) lastTerm() uint64 {
	t, err := r.log.Term(r.log.LastIndex())
	if err != nil {
		panic(fmt.Sprintf("engine: term of last index %d: %v", r.log.LastIndex(), err))
	}
	return t
}

// term of i, or 0 when i is outside [first-1, last].
func (r *Raft) termAt(i uint64) uint64 {
	t, err := r.log.Term(i)
	if err != nil {
		return 0
	}
	return t
}

func (r *Raft) resetTimers() {
	r.electionTick, r.heartTick = 0, 0
	r.timeout = r.cfg.ElectionTicks + r.cfg.Rand.IntN(r.cfg.ElectionTicks)
}

func (r *Raft) setTerm(term uint64) {
	if term != r.term {
		r.term, r.vote, r.hsDirty = term, "", true
	}
}

func (r *Raft) becomeFollower(term uint64, lead string) {
	r.setTerm(term)
	r.role, r.lead = Follower, lead
	r.prs, r.votes, r.transferee, r.leaving = nil, nil, "", false
	r.matched, r.sentDurable = 0, 0
	if len(r.retiring) > 0 {
		r.retiring = nil
		r.setPeers()
	}
	r.resetTimers()
}

// Halt stops the node for good after a storage failure: it neither votes
// nor campaigns nor leads, so it never acknowledges what may not be on disk.
func (r *Raft) Halt(err error) {
	if r.stopped == nil {
		r.stopped = fmt.Errorf("%w: %w", ErrStopped, err)
		r.cfg.Logger.Error("raft: storage failed; this node stops taking part", "err", err)
	}
	r.becomeFollower(r.term, "")
}

// Resume undoes a halt whose cause is gone (the hard state could not be
// saved for lack of space, and now is): the node rejoins as a follower.
func (r *Raft) Resume() {
	r.stopped = nil
	r.becomeFollower(r.term, "")
}

// storageErr handles a log error: fail-stop for a sticky failure, step
// down for anything else (a full disk), so nothing unwritten is promised.
func (r *Raft) storageErr(op string, err error) {
	if r.log.Err() != nil {
		r.Halt(fmt.Errorf("%s: %w", op, err))
		return
	}
	r.cfg.Logger.Warn("raft: log write failed", "op", op, "err", err, "role", r.role.String())
	if r.role == Leader {
		r.becomeFollower(r.term, "")
	}
}

// Tick advances the core's clock by one Tick.
func (r *Raft) Tick() {
	if r.stopped != nil {
		return
	}
	r.electionTick++
	if r.census != nil {
		r.queryTerms()
	}
	if r.role == Leader {
		r.tickLeader()
		return
	}
	if r.electionTick >= r.timeout {
		r.electionTick = 0
		if r.mayCampaign() {
			r.campaign(false)
		} else if r.role == Follower {
			// Learners and removed nodes never campaign; like a voter that
			// campaigns, one forgets a leader gone silent, so its lease no
			// longer refuses the candidates that may replace it (found by
			// the membership simulator: a learner holding the lease of a dead
			// leader kept a full-house election from ending).
			r.lead = ""
		}
	}
}

// Writable reports whether this node is the leader and its no-op is
// committed, so everything before it is committed too.
func (r *Raft) Writable() bool { return r.role == Leader && r.commit >= r.noop }

// LostState is the hard state of a node whose term and vote were lost: it
// runs a census before it votes (census.go) and repairs its log, which may
// lack entries it acknowledged, until it holds a leader's whole log.
func LostState(lastTerm uint64) HardState {
	return HardState{Term: lastTerm, TermLost: true, RepairTo: RepairUnknown, RepairTerm: RepairUnknown}
}
