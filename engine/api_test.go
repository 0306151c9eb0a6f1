package engine_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/internal/testgroup"
	"github.com/rmqlog/rmqlog/segment"
)

// One node through the public API: what Open refuses, what a closed node
// answers, what it reports.

// TestOpenTwiceRefused (issue 13): a second Open of a data directory in use
// fails at once, naming it; it used to succeed, and the second node elected
// itself and wrote its term into the first one's hard state.
func TestOpenTwiceRefused(t *testing.T) {
	dir := t.TempDir()
	open := func(logDir string) (*engine.Node, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := testgroup.Defaults()
		cfg.ID, cfg.Peers, cfg.Listener = "n0", map[string]string{"n0": ln.Addr().String()}, ln
		cfg.Dir, cfg.LogDir = dir, logDir
		return engine.Open(cfg)
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

// TestReadAfterClose: reads and waits after Close fail cleanly (the log
// is unmapped by then).
func TestReadAfterClose(t *testing.T) {
	g := testgroup.Start(t, testgroup.Options{Nodes: 1})
	n := g.Node("n0")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g.Eventually(5*time.Second, "leadership", func() bool { return n.Status().Writable })
	i, err := n.Append(ctx, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Read(i); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Read after Close: %v, want ErrClosed", err)
	}
	if err := n.WaitCommit(ctx, i+1); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("WaitCommit after Close: %v, want ErrClosed", err)
	}
	if err := n.TransferLeadership(ctx, "n0"); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("TransferLeadership after Close: %v, want ErrClosed", err)
	}
	if _, err := n.Propose([]byte("x")); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Propose after Close: %v, want ErrClosed", err)
	}
}

// TestNotLeaderErrorWithoutAddress (issue 13): a NotLeaderError whose leader's address is
// unknown says so instead of printing an empty address.
func TestNotLeaderErrorWithoutAddress(t *testing.T) {
	for _, tc := range []struct {
		e    engine.NotLeaderError
		want string
	}{
		{engine.NotLeaderError{}, "no leader is known yet"},
		{engine.NotLeaderError{Leader: "n1"}, "the leader is n1 (its client address is not known here yet)"},
		{engine.NotLeaderError{Leader: "n1", LeaderAddr: "10.0.0.1:30911"}, "the leader is n1 at 10.0.0.1:30911"},
	} {
		if got := tc.e.Error(); !strings.Contains(got, tc.want) {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
}

// TestPreVoteReportedAsPreCandidate (issue 13): a pre-vote was reported as
// "candidate, term 0" to the embedder but as "pre-candidate" by Status.
func TestPreVoteReportedAsPreCandidate(t *testing.T) {
	roles := make(chan engine.RoleChange, 16)
	g := testgroup.Start(t, testgroup.Options{
		Nodes: 1,
		// n0's peers n1 and n2 never run: its pre-votes go unanswered.
		Network: func(addrs map[string]string) func(string) map[string]string {
			return func(string) map[string]string {
				return map[string]string{"n0": addrs["n0"], "n1": "127.0.0.1:1", "n2": "127.0.0.1:2"}
			}
		},
		Config: func(c *engine.Config) {
			c.OnRoleChange = func(rc engine.RoleChange) { roles <- rc }
			c.ElectionTimeout, c.HeartbeatInterval, c.TickInterval = 50*time.Millisecond, 10*time.Millisecond, 5*time.Millisecond
		},
	})
	n := g.Node("n0")
	select {
	case rc := <-roles:
		if rc.Role != engine.PreCandidate || rc.Term != 0 || n.Status().Role != engine.PreCandidate {
			t.Fatalf("first role change %+v, status %v", rc, n.Status().Role)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no role change")
	}
}
