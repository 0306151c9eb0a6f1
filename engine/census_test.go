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
	"github.com/rmqlog/rmqlog/segment"
)

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
	c.settled(c.leader().st.Log.LastIndex(), acked)
	if _, err := c.leader().Append(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
}

func (n *Node) isTermLost() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.core.Status().TermLost
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
	if st := n.Status(); st.RepairTo == 0 && st.Last < c.leader().st.Log.LastIndex() {
		t.Fatalf("restarted without repairing: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(logDir, "damaged-1", "00000000000000000000.log")); err != nil {
		t.Fatalf("log not moved aside: %v", err)
	}
	c.settled(c.leader().st.Log.LastIndex(), acked)
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
