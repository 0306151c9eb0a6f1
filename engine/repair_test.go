package engine

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/replication/wire"
	"github.com/rmqlog/rmqlog/segment"
)

// TestDamagedMinorityKeepsCommitted is the bit-flip-on-a-minority loss:
// entry 2 is committed by n0 and n1 only (n2 was cut off); n1's copy is
// damaged and cut; n0 dies. If n1 voted, n2 (which never had entry 2)
// would be elected with n1's vote and entry 2 would be lost. A repairing
// n1 votes for nobody, so n2 cannot win; when n0 returns it wins, repairs
// n1, and n1 votes again.
func TestDamagedMinorityKeepsCommitted(t *testing.T) {
	s := newManual(t, 3, true)
	s.campaign("n0")
	s.settle(true, nil)
	l := s.mustLead("n0")
	s.isolate("n2")
	s.propose(s.node("n0"))
	s.settle(true, nil)
	if l.commit != 2 {
		t.Fatalf("entry 2 not committed by n0 and n1: %s", s.describe())
	}

	// n1 stops; its log is damaged at entry 2 and cut; it restarts in repair.
	n1 := s.node("n1")
	n1.up = false
	if err := n1.log.TruncateSuffix(2); err != nil {
		t.Fatal(err)
	}
	n1.log.sync()
	n1.hs.RepairTo, n1.hs.RepairTerm = 2, n1.hs.Term
	s.node("n0").up = false
	clear(s.cut)
	s.isolate("n0")
	s.net = nil
	s.start(n1, s.ids())
	if !n1.r.repairing() {
		t.Fatal("n1 restarted without its repair state")
	}

	// Both campaign again and again: n1's grants count only in a full
	// house, which n0's absence rules out, so neither is elected.
	for range 5 {
		s.tickN("n2", 2*s.node("n2").r.cfg.ElectionTicks)
		s.tickN("n1", 2*n1.r.cfg.ElectionTicks)
		s.settle(true, nil)
		for _, id := range []string{"n1", "n2"} {
			if r := s.node(id).r; r.role == Leader {
				t.Fatalf("%s elected although n0, holding committed entry 2, is down: %s", id, s.describe())
			}
		}
	}

	// n0 returns: it is elected (n2 votes for it), repairs n1.
	n0 := s.node("n0")
	clear(s.cut)
	s.start(n0, s.ids())
	for range 10 {
		if n0.r.role == Leader && n0.r.writable() {
			break
		}
		s.tickN("n0", 2*n0.r.cfg.ElectionTicks)
		s.settle(true, nil)
	}
	if n0.r.role != Leader || !n0.r.writable() {
		t.Fatalf("n0 not leader after its return: %s", s.describe())
	}
	s.settle(true, nil)
	s.tickN("n0", n0.r.cfg.HeartbeatTicks)
	s.settle(true, nil)
	if n1.r.repairing() || n1.hs.RepairTo != 0 {
		t.Fatalf("n1 still repairing (commit %d, repairTo %d): %s", n1.r.commit, n1.r.repairTo, s.describe())
	}
	if n1.log.LastIndex() < 2 || n1.r.termAt(2) != n0.r.termAt(2) {
		t.Fatalf("n1 lacks entry 2 after the repair: %s", s.describe())
	}
}

// TestRepairingVotesCountOnlyInFullHouse: a repairing node grants votes and
// pre-votes to up-to-date candidates marked FlagRepairing, and a candidate
// counts such a grant only when every member granted; the repair ends when
// a newer term's entry commits even if the log never reaches the index it
// held (that tail was never committed).
func TestRepairingVotesCountOnlyInFullHouse(t *testing.T) {
	s := newManual(t, 3, false)
	n := s.node("n1")
	n.hs = HardState{Term: 5, RepairTo: 50, RepairTerm: 5}
	s.start(n, s.ids())
	for _, typ := range []wire.Type{wire.TypePreVote, wire.TypeVote} {
		n.r.step(&wire.Msg{Type: typ, From: "n0", To: "n1", Term: 6, Index: 100, LogTerm: 5})
		msgs := n.r.takeMsgs()
		if len(msgs) != 1 || msgs[0].Reject() || msgs[0].Flags&wire.FlagRepairing == 0 {
			t.Fatalf("%v: answered %+v, want a grant marked repairing", typ, msgs)
		}
	}
	s.after(n)

	// A candidate's tally: {sure self, repairing n1} is no majority of
	// sure votes; with n2's sure vote it is a full house.
	c := s.node("n0").r
	c.becomeCandidate()
	c.handleVoteResp(&wire.Msg{Type: wire.TypeVoteResp, From: "n1", Term: c.term, Flags: wire.FlagRepairing})
	if c.role == Leader {
		t.Fatal("elected with one sure and one repairing vote of three")
	}
	c.handleVoteResp(&wire.Msg{Type: wire.TypeVoteResp, From: "n2", Term: c.term, Flags: wire.FlagRepairing})
	if c.role != Leader {
		t.Fatalf("not elected with every member's vote: %v", c.role)
	}
	c.becomeFollower(c.term, "")
	c.becomeCandidate()
	c.handleVoteResp(&wire.Msg{Type: wire.TypeVoteResp, From: "n1", Term: c.term, Flags: wire.FlagRepairing})
	c.handleVoteResp(&wire.Msg{Type: wire.TypeVoteResp, From: "n2", Term: c.term, Flags: wire.FlagReject})
	if c.role != Follower {
		t.Fatalf("a candidate that can get neither a sure majority nor a full house is %v", c.role)
	}
	c.takeMsgs()

	// A leader of term 7 appends its no-op (index 1) and commits it.
	n.r.step(&wire.Msg{Type: wire.TypeHeartbeat, From: "n0", To: "n1", Term: 7})
	s.after(n)
	n.log.Append(7, 2, nil)
	n.r.matched = 1
	n.r.advanceCommit(1)
	if n.r.repairing() {
		t.Fatal("still repairing after a term-7 entry committed")
	}
	if !n.r.hsDirty {
		t.Fatal("the end of the repair is not persisted")
	}
}

// TestClusterRepairsDamagedFollower: real files. A stopped follower's log
// gets a flipped bit in an entry it had fsynced; at start it finds the
// damage, cuts its log there, refuses to vote until the leader has sent
// the entries back, and ends with a log identical to the others.
func TestClusterRepairsDamagedFollower(t *testing.T) {
	for _, mode := range []flush.Mode{flush.SyncFlush, flush.AsyncFlush} {
		t.Run(mode.String(), func(t *testing.T) {
			c := newTestCluster(t, 3, mode)
			var logs syncBuffer
			c.startAll()
			f, acked := c.stopConvergedFollower(t, 2000, 8)
			path := filepath.Join(c.dirs[f], "commitlog", "00000000000000000000.log")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			at := int64(len(data) / 8) // well inside the written entries (256 KiB files, ~2000 x ~110 B)
			fh, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fh.WriteAt([]byte{data[at] ^ 0x40}, at); err != nil {
				t.Fatal(err)
			}
			fh.Close()
			c.tweak = func(cfg *Config) {
				if cfg.ID == f {
					cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				}
			}
			c.start(f)
			if !strings.Contains(logs.String(), "damaged log") {
				t.Fatalf("%s did not report the damage:\n%s", f, logs.String())
			}
			more := load(t, c, 200, 4, "after")
			for i, p := range more {
				acked[i] = p
			}
			c.settled(c.leader().log.LastIndex(), acked)
			c.waitFor(10*time.Second, "the end of the repair", func() bool { return c.nodes[f].Status().RepairTo == 0 })
			if !strings.Contains(logs.String(), "repaired") {
				t.Fatalf("%s did not log the end of the repair:\n%s", f, logs.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRepairEndsWhenHoldingLeaderLog: a repairing node whose RepairTo lies
// beyond the leader's log (an old uncommitted tail), in the leader's own
// term, in an idle group: it ends the repair once it holds the leader's
// whole log, which a heartbeat's index tells it.
func TestRepairEndsWhenHoldingLeaderLog(t *testing.T) {
	s := newManual(t, 3, false)
	s.campaign("n0")
	s.settle(true, nil)
	l := s.mustLead("n0")
	s.propose(s.node("n0"))
	s.settle(true, nil)
	n1 := s.node("n1")
	n1.up = false
	n1.hs.RepairTo, n1.hs.RepairTerm = 50, l.term // held 50 once; the leader has 2
	s.net = nil
	s.start(n1, s.ids())
	if !n1.r.repairing() {
		t.Fatal("not repairing")
	}
	l.unreachable("n1") // its connection broke with the restart: the leader probes it again
	for range 3 {
		s.tickN("n0", l.cfg.HeartbeatTicks)
		s.settle(true, nil)
	}
	if n1.r.repairing() {
		t.Fatalf("still repairing with the leader's whole log (matched %d, leader last %d): %s",
			n1.r.matched, l.log.LastIndex(), s.describe())
	}
}

// TestClearRepair: the operator's override ends a repair on disk and keeps
// term and vote.
func TestClearRepair(t *testing.T) {
	dir := t.TempDir()
	if err := saveState(segment.OSFS{}, dir, HardState{Term: 7, Vote: "n2", RepairTo: 90, RepairTerm: 6}); err != nil {
		t.Fatal(err)
	}
	before, err := ClearRepair(dir)
	if err != nil || before.RepairTo != 90 {
		t.Fatalf("ClearRepair = %+v, %v", before, err)
	}
	after, err := ReadHardState(dir)
	if err != nil || after != (HardState{Term: 7, Vote: "n2"}) {
		t.Fatalf("after: %+v, %v", after, err)
	}
}

// fullStateFS fails the creation of the hard state's temporary file with
// ENOSPC while full is set, as a full disk does.
type fullStateFS struct {
	segment.FS
	full atomic.Bool
}

func (f *fullStateFS) Create(name string) (segment.File, error) {
	if f.full.Load() && strings.HasSuffix(name, stateTmp) {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.ENOSPC}
	}
	return f.FS.Create(name)
}

// TestStateDiskFullResumes: a node that cannot save its term or vote for
// lack of space stops taking part, and takes part again once the disk has
// room (found by the fault campaign: it used to stop for good, and with two
// nodes of three so stopped the group never elected a leader again).
func TestStateDiskFullResumes(t *testing.T) {
	c := newTestCluster(t, 3, flush.SyncFlush)
	fss := map[string]*fullStateFS{}
	c.tweak = func(cfg *Config) {
		fs := &fullStateFS{FS: segment.OSFS{}}
		fss[cfg.ID] = fs
		cfg.FS = fs
	}
	c.startAll()
	l := c.leader()
	for id, fs := range fss {
		if id != l.ID() {
			fs.full.Store(true)
		}
	}
	old := l.ID()
	c.stop(old) // the others must change term to elect: neither can save it
	c.waitFor(10*time.Second, "a follower halted on the full disk", func() bool {
		for id, n := range c.nodes {
			if id != old && n.Status().Err != nil {
				return true
			}
		}
		return false
	})

	for _, fs := range fss {
		fs.full.Store(false)
	}
	nl := c.leader()
	if nl.ID() == old {
		t.Fatalf("%s leads again although it was stopped", old)
	}
	if _, err := nl.Append(context.Background(), []byte("after the disk has room")); err != nil {
		t.Fatal(err)
	}
}
