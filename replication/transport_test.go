package replication_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/replication"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// framedEntries returns count fake framed entries (32-byte header plus a
// payload whose size varies), one buffer each, as the engine would pass
// slices of its segment files.
func framedEntries(seed, count int) [][]byte {
	out := make([][]byte, count)
	for i := range out {
		e := make([]byte, 32+(seed*7+i*13)%200)
		for j := range e {
			e[j] = byte(seed + i + j)
		}
		out[i] = e
	}
	return out
}

func TestExchangeInOrder(t *testing.T) {
	nodes := startNodes(t, []string{"n0", "n1"}, nil, nil)
	n0, n1 := nodes["n0"], nodes["n1"]
	const frames = 300
	go func() { // n0 -> n1: Appends through the entries [][]byte path
		for i := range frames {
			ents := framedEntries(i, i%5)
			m := wire.Msg{Type: wire.TypeAppend, Term: 3, Index: uint64(i), Count: uint32(len(ents))}
			if err := n0.tr.Peer("n1").Send(&m, ents); err != nil {
				t.Errorf("Send %d: %v", i, err)
				return
			}
		}
	}()
	for i := range frames {
		m := n1.recv(t)
		ents := framedEntries(i, i%5)
		if m.Type != wire.TypeAppend || m.Index != uint64(i) || m.From != "n0" || m.To != "n1" || m.Count != uint32(len(ents)) {
			t.Fatalf("frame %d: got %+v", i, m)
		}
		if want := bytes.Join(ents, nil); !bytes.Equal(m.Entries, want) {
			t.Fatalf("frame %d: entries differ", i)
		}
		// n1 answers on its own link; m.Entries path, no entries.
		resp := wire.Msg{Type: wire.TypeAppendResp, Term: 3, Index: m.Index + uint64(m.Count)}
		if err := n1.tr.Peer("n0").Send(&resp, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range frames {
		if m := n0.recv(t); m.Type != wire.TypeAppendResp || m.Index != uint64(i+i%5) || m.From != "n1" || m.To != "n0" {
			t.Fatalf("response %d: got %+v", i, m)
		}
	}
}

func TestSendMsgEntries(t *testing.T) {
	nodes := startNodes(t, []string{"n0", "n1"}, nil, nil)
	ents := bytes.Join(framedEntries(1, 3), nil)
	m := wire.Msg{Type: wire.TypeAppend, Term: 1, Index: 9, LogTerm: 1, Commit: 8, Count: 3, Entries: ents}
	if err := nodes["n0"].tr.Peer("n1").Send(&m, nil); err != nil {
		t.Fatal(err)
	}
	got := nodes["n1"].recv(t)
	m.From, m.To = "n0", "n1"
	if fmt.Sprint(got) != fmt.Sprint(m) {
		t.Fatalf("got %+v, want %+v", got, m)
	}
}

func TestPeerLookup(t *testing.T) {
	nodes := startNodes(t, []string{"n0", "n1", "n2"}, nil, nil)
	tr := nodes["n0"].tr
	for id, want := range map[string]bool{"n1": true, "n2": true, "n0": false, "n9": false, "": false} {
		p := tr.Peer(id)
		if (p != nil) != want {
			t.Errorf("Peer(%q) = %v, want non-nil %v", id, p, want)
		}
		if p != nil && p.ID() != id {
			t.Errorf("Peer(%q).ID() = %q", id, p.ID())
		}
	}
	if tr.Addr().String() != tr.Addr().(*net.TCPAddr).AddrPort().String() || !strings.HasPrefix(tr.Addr().String(), "127.0.0.1:") {
		t.Errorf("Addr() = %v", tr.Addr())
	}
}

func TestConfigErrors(t *testing.T) {
	good := func() replication.Config {
		return replication.Config{Group: "g", Self: "n0", Peers: map[string]string{"n0": "127.0.0.1:0", "n1": "127.0.0.1:1"}}
	}
	long := strings.Repeat("x", 256)
	tests := []struct {
		name string
		edit func(c *replication.Config)
		want string
	}{
		{"no group", func(c *replication.Config) { c.Group = "" }, "Group is 0 bytes"},
		{"long group", func(c *replication.Config) { c.Group = long }, "Group is 256 bytes"},
		{"no self", func(c *replication.Config) { c.Self = "" }, "Self is 0 bytes"},
		{"self not a peer", func(c *replication.Config) { c.Self = "n5" }, `Peers has no entry for Self "n5"`},
		{"long peer id", func(c *replication.Config) { c.Peers[long] = "127.0.0.1:2" }, "Peers key"},
		{"bad address", func(c *replication.Config) { c.Peers["n1"] = "localhost" }, `Peers["n1"] = "localhost"`},
		{"small MaxFrame", func(c *replication.Config) { c.MaxFrame = 79 }, "MaxFrame 79"},
		{"negative MaxFrame", func(c *replication.Config) { c.MaxFrame = -1 }, "MaxFrame -1"},
		{"negative DialTimeout", func(c *replication.Config) { c.DialTimeout = -1 }, "DialTimeout"},
		{"negative WriteTimeout", func(c *replication.Config) { c.WriteTimeout = -1 }, "WriteTimeout"},
		{"negative RedialBackoff", func(c *replication.Config) { c.RedialBackoff = -1 }, "RedialBackoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.edit(&c)
			tr, err := replication.New(c, func(*wire.Msg) {})
			if !errors.Is(err, replication.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				if tr != nil {
					tr.Close()
				}
				t.Fatalf("New = %v, want ErrConfig naming %q", err, tt.want)
			}
		})
	}
	if _, err := replication.New(good(), nil); !errors.Is(err, replication.ErrConfig) {
		t.Fatalf("nil Handler: %v", err)
	}
}

func TestListensOnPeersSelf(t *testing.T) {
	addr := deadAddr(t)
	cfg := replication.Config{Group: "g", Self: "n0", Peers: map[string]string{"n0": addr, "n1": deadAddr(t)},
		Logger: slog.New(slog.DiscardHandler)}
	tr, err := replication.New(cfg, func(*wire.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if tr.Addr().String() != addr {
		t.Fatalf("Addr() = %v, want %s", tr.Addr(), addr)
	}
	cfg.Peers = map[string]string{"n0": addr, "n1": deadAddr(t)} // addr is taken now
	if tr2, err := replication.New(cfg, func(*wire.Msg) {}); err == nil || !strings.Contains(err.Error(), `listen on Peers["n0"]`) {
		if tr2 != nil {
			tr2.Close()
		}
		t.Fatalf("second New on the same address: %v", err)
	}
}

func TestCloseLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	start := time.Now()
	nodes := startNodes(t, []string{"n0", "n1", "n2"}, nil, func(_ string, c *replication.Config) {
		c.DialTimeout = time.Minute // Close must not wait for a stalled handshake
	})
	for from, n := range nodes {
		for to, m := range nodes {
			if from != to {
				sendUntilReceived(t, n.tr.Peer(to), m, 1)
			}
		}
	}
	stalled := rawDial(t, nodes["n0"].tr) // connected, never says hello
	if _, err := stalled.Write([]byte("RM")); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if err := n.tr.Close(); err != nil {
			t.Fatal(err)
		}
		if err := n.tr.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	if d := time.Since(start); d > waitFor {
		t.Fatalf("took %v", d)
	}
	waitClosed(t, stalled)
	waitGoroutines(t, before)
	err := nodes["n0"].tr.Peer("n1").Send(&wire.Msg{Type: wire.TypeHeartbeat}, nil)
	if !errors.Is(err, replication.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

func TestPeerClose(t *testing.T) {
	nodes := startNodes(t, []string{"n0", "n1"}, nil, nil)
	p := nodes["n0"].tr.Peer("n1")
	sendUntilReceived(t, p, nodes["n1"], 1)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Send(&wire.Msg{Type: wire.TypeHeartbeat}, nil); !errors.Is(err, replication.ErrClosed) {
		t.Fatalf("Send after Peer.Close: %v", err)
	}
	nodes["n1"].logs.waitLog(t, slog.LevelInfo, "inbound peer disconnected")
}

func TestCloseDuringHandshakeIsQuiet(t *testing.T) {
	n0 := startNodes(t, []string{"n0"}, nil, nil)["n0"]
	stalled := rawDial(t, n0.tr)
	if _, err := stalled.Write([]byte("RMQL")); err != nil {
		t.Fatal(err)
	}
	// Wait until the reader goroutine exists (it is blocked in the hello),
	// by completing a second handshake after it on the same listener.
	if st, _ := rawHandshake(t, rawDial(t, n0.tr), wire.Hello{Group: group, From: "n9", To: "n0"}); st != wire.StatusUnknownNode {
		t.Fatalf("status %v", st)
	}
	n0.tr.Close()
	waitClosed(t, stalled)
	if warns := n0.logs.find(slog.LevelWarn, ""); len(warns) != 1 {
		t.Fatalf("%d Warn lines, want only the unknown node's: %v", len(warns), warns)
	}
}
