package engine

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/replication/wire"
	"github.com/rmqlog/rmqlog/segment"
)

// TestLostStateKeepsAck (the durability review's TestAdvCorruptStateAdvice
// LosesAck): entry 2 is committed by n0 and n1 (n2 cut off). n1's raft-state
// file is damaged. The old advice was to remove n1's data directory, after
// which n1 voted at once and elected n2, which lacks entry 2. Now n1 starts
// from lostState with its log: repairing, its vote counting only in a full
// house, so n2 is not elected while n0 is down.
func TestLostStateKeepsAck(t *testing.T) {
	s := newManual(t, 3, true)
	s.ackWithoutN2(t, true)
	n0, n1 := s.node("n0"), s.node("n1")
	n1.up, n0.up = false, false
	n1.hs = lostState(n1.log.lastTerm())
	clear(s.cut)
	s.net = nil
	s.start(n1, s.ids())
	if l := s.electAmong(10); l != nil {
		t.Fatalf("%s elected while n0, the only other holder of entry 2, is down: %s", l.id, s.describe())
	}
	if n1.r.census == nil {
		t.Fatal("n1 ended its census without hearing n0")
	}
	s.start(n0, s.ids())
	l := s.electAmong(10)
	if l == nil {
		t.Fatalf("no leader once n0 is back: %s", s.describe())
	}
	s.commitFresh(l)
	if n1.r.repairing() || n1.r.termLost {
		t.Fatalf("n1 still repairing (termLost %v): %s", n1.r.termLost, s.describe())
	}
	s.finalCheck()
}

// TestCensusFence: a node that lost its hard state after voting for n2 in
// term 7 (n2 won, then was cut off from n0) must not vote for n0 in term 7.
// The census hears n2's term 7 and closes it.
func TestCensusFence(t *testing.T) {
	s := newManual(t, 3, true)
	n1 := s.node("n1")
	n1.hs = lostState(0)
	s.start(n1, s.ids())
	// n2 is at term 7 (it was elected with n1's lost vote); n0 at term 6.
	s.node("n2").hs = HardState{Term: 7, Vote: "n2"}
	s.start(s.node("n2"), s.ids())
	s.node("n0").hs = HardState{Term: 6}
	s.start(s.node("n0"), s.ids())
	s.tickN("n1", 1) // queries
	s.settle(true, nil)
	if n1.r.termLost || n1.r.term != 7 || n1.r.vote != "n1" {
		t.Fatalf("after the census: termLost %v term %d vote %q", n1.r.termLost, n1.r.term, n1.r.vote)
	}
	n1.r.step(&wire.Msg{Type: wire.TypeVote, From: "n0", To: "n1", Term: 7, Index: 100, LogTerm: 7})
	for _, m := range n1.r.takeMsgs() {
		if m.Type == wire.TypeVoteResp && !m.Reject() {
			t.Fatalf("granted a vote in term 7, in which it may have voted before: %+v", m)
		}
	}
	if !n1.r.repairing() {
		t.Fatal("the log repair ended with the census")
	}
}

// TestNodeDamagedStateSetAside: real files. A flipped bit in raft-state: the
// node starts (it used to refuse, telling the operator to remove its data
// directory), sets the file aside, logs why, repairs, and after the census
// and the repair it takes part normally with the log it had.
func TestNodeDamagedStateSetAside(t *testing.T) {
	c := newTestCluster(t, 3, flush.SyncFlush)
	c.startAll()
	f, acked := c.stopConvergedFollower(t, 200, 4)
	path := filepath.Join(c.dirs[f], stateFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[7] ^= 0x10 // one bit of the term
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	c.tweak = func(cfg *Config) {
		if cfg.ID == f {
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		}
	}
	n := c.start(f)
	if _, err := os.Stat(path + ".damaged"); err != nil {
		t.Fatalf("damaged file not set aside: %v", err)
	}
	if out := logs.String(); !strings.Contains(out, "damaged raft-state file set aside") || strings.Contains(out, "remove") {
		t.Fatalf("log:\n%s", out)
	}
	c.waitFor(10*time.Second, "the census and the repair", func() bool { return n.Status().RepairTo == 0 && !n.isTermLost() })
	more := load(t, c, 100, 4, "after")
	for i, p := range more {
		acked[i] = p
	}
	c.settled(c.leader().log.LastIndex(), acked)
	if _, err := c.leader().Append(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
}

func (n *Node) isTermLost() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.core.termLost
}

// TestNodeLogWithoutState: a data directory with a log but no raft-state
// file starts from lostState.
func TestNodeLogWithoutState(t *testing.T) {
	fs := segment.NewMemFS()
	n := openSolo(t, fs, nil, nil)
	waitWritable(t, n)
	if _, err := n.Append(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	n.Close()
	if err := fs.Remove("/d/" + stateFile); err != nil {
		t.Fatal(err)
	}
	n = openSolo(t, fs, nil, nil)
	waitWritable(t, n) // a one-member group: the census is empty, the full house is itself
	hs, err := loadState(fs, "/d")
	if err != nil || hs.TermLost || hs.RepairTo != 0 || hs.Term < 2 {
		t.Fatalf("after the restart: %+v, %v", hs, err)
	}
}

// TestNodeUnrecoverableLogRefetched: real files. A follower's commit log
// checkpoint file is gone: the node moves its log files aside (nothing is
// deleted), starts with an empty log, repairing, and gets every entry back
// from the leader.
func TestNodeUnrecoverableLogRefetched(t *testing.T) {
	c := newTestCluster(t, 3, flush.SyncFlush)
	c.startAll()
	f, acked := c.stopConvergedFollower(t, 300, 4)
	logDir := filepath.Join(c.dirs[f], "commitlog")
	if err := os.Remove(filepath.Join(logDir, "checkpoint")); err != nil {
		t.Fatal(err)
	}
	n := c.start(f)
	if st := n.Status(); st.RepairTo == 0 && st.Last < c.leader().log.LastIndex() {
		t.Fatalf("restarted without repairing: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(logDir, "damaged-1", "00000000000000000000.log")); err != nil {
		t.Fatalf("log not moved aside: %v", err)
	}
	c.settled(c.leader().log.LastIndex(), acked)
	c.waitFor(10*time.Second, "the end of the repair", func() bool { return n.Status().RepairTo == 0 })
}

// TestOpenTwiceRefused (issue 13): a second Open of a data directory in use
// fails at once, naming it; it used to succeed, and the second node elected
// itself and wrote its term into the first one's hard state.
func TestOpenTwiceRefused(t *testing.T) {
	dir := t.TempDir()
	open := func(logDir string) (*Node, error) {
		ln := listenLocal(t)
		return Open(Config{Group: "g", ID: "n0", Peers: map[string]string{"n0": ln.Addr().String()}, Listener: ln,
			Dir: dir, LogDir: logDir, SegmentSize: 64 << 10, IndexEntries: 4096, MaxEntrySize: 4 << 10, Logger: quietLogger()})
	}
	n, err := open("")
	if err != nil {
		t.Fatal(err)
	}
	for _, logDir := range []string{"", filepath.Join(t.TempDir(), "other")} {
		if _, err := open(logDir); !errors.Is(err, segment.ErrLocked) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("second open (log dir %q): %v", logDir, err)
		}
	}
	n.Close()
	n, err = open("")
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	n.Close()
}

// TestWipedNodeKeepsAck (issue 13; the second half of the durability
// review's TestAdvCorruptStateAdviceLosesAck): entry 2 is committed by n0
// and n1 (n2 cut off); n1's data directory is wiped and it restarts empty
// (a new node, as far as it can tell) while n0 is down. It voted at once
// before and elected n2, which lacks entry 2. Now it starts from lostState:
// it hears n2's term 1, so the group is not new, and its vote counts only
// in a full house until it holds the leader's log.
func TestWipedNodeKeepsAck(t *testing.T) {
	s := newManual(t, 3, true)
	s.ackWithoutN2(t, true)
	n0, n1 := s.node("n0"), s.node("n1")
	n1.up, n0.up = false, false
	n1.log, n1.hs = newMemLog(), lostState(0) // Node.noState of an empty directory
	clear(s.cut)
	s.net = nil
	s.start(n1, s.ids())
	if l := s.electAmong(10); l != nil {
		t.Fatalf("%s elected while n0, the only holder of entry 2, is down: %s", l.id, s.describe())
	}
	s.start(n0, s.ids())
	if l := s.electAmong(10); l == nil || l.id == "n2" {
		t.Fatalf("after n0's return: %s", s.describe())
	}
	l := s.leader()
	s.commitFresh(l)
	if n1.r.repairing() {
		t.Fatalf("n1 still repairing: %s", s.describe())
	}
	s.finalCheck()
}

// TestNewGroupWaitsForEveryMember: three new nodes with empty directories
// elect their first leader only once every member has answered (each node
// could be a wiped member of a group with history); with all three, they
// do, and none stays repairing.
func TestNewGroupWaitsForEveryMember(t *testing.T) {
	s := newManual(t, 3, true)
	for _, n := range s.nodes {
		n.up = false
		n.hs = lostState(0)
	}
	s.start(s.node("n0"), s.ids())
	s.start(s.node("n1"), s.ids())
	if l := s.electAmong(10); l != nil {
		t.Fatalf("%s elected before n2 ever answered: %s", l.id, s.describe())
	}
	if w := s.node("n0").r.waiting(); len(w) != 1 || w[0] != "n2" {
		t.Fatalf("n0 waits for %v", w)
	}
	s.start(s.node("n2"), s.ids())
	l := s.electAmong(10)
	if l == nil {
		t.Fatalf("no leader with every member up: %s", s.describe())
	}
	s.commitFresh(l)
	s.mustNotRepair(t)
}
