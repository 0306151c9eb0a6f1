package netfault_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/chaos/netfault"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// TestGarbageClosesTheConnection: a frame that breaks the protocol's
// checklist closes that proxied connection on both sides without reaching
// the node; the Net keeps serving new connections.
func TestGarbageClosesTheConnection(t *testing.T) {
	header := func(m wire.Msg, elen int) []byte { return wire.AppendHeader(nil, &m, elen) }
	tests := []struct {
		name    string
		opts    netfault.Options
		garbage []byte
	}{
		{"length over the limit", netfault.Options{}, binary.LittleEndian.AppendUint32(nil, 1<<30)},
		{"length under a header", netfault.Options{}, append(binary.LittleEndian.AppendUint32(nil, 10), make([]byte, 10)...)},
		{"bad header crc", netfault.Options{}, func() []byte { b := frame(5); b[20] ^= 1; return b }()},
		{"unknown type", netfault.Options{}, header(wire.Msg{Type: 99, Term: 1}, 0)},
		{"entries on a heartbeat", netfault.Options{}, append(header(wire.Msg{Type: wire.TypeHeartbeat}, 32), make([]byte, 32)...)},
		{"frame over Options.MaxFrame", netfault.Options{MaxFrame: 1000},
			append(header(wire.Msg{Type: wire.TypeAppend, Count: 100}, 3200), make([]byte, 3200)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, nodes := testNet(t, tt.opts, "a", "b")
			s := dial(t, n, "a", "b")
			s.send(1)
			poll.Eventually(t, 10*time.Second, "frame 1 at b", func() bool { return len(nodes["b"].arrivals("a")) == 1 })
			s.c.Write(tt.garbage)
			poll.Eventually(t, 10*time.Second, "the dialer's connection closed", s.closed)
			poll.Eventually(t, 10*time.Second, "the node's connection ended", func() bool {
				_, ended, _ := nodes["b"].state()
				return ended == 1
			})
			if _, _, bad := nodes["b"].state(); len(bad) != 0 {
				t.Fatalf("the node received the garbage: %v", bad)
			}
			if st := n.Stats().Links[netfault.Link{From: "a", To: "b"}]; st.Malformed != 1 || st.Forwarded != 1 {
				t.Fatalf("stats %+v; want 1 malformed, 1 forwarded", st)
			}
			again := dial(t, n, "a", "b")
			again.send(2)
			poll.Eventually(t, 10*time.Second, "frame 2 at b on a new connection", func() bool {
				return slices.Equal(indexes(nodes["b"].arrivals("a")), []uint64{1, 2})
			})
		})
	}
}

// TestHandshakeForwarded: hellos and answers cross the proxy byte for
// byte, including ones the node refuses.
func TestHandshakeForwarded(t *testing.T) {
	hello := func(h wire.Hello) []byte {
		var b bytes.Buffer
		if err := wire.WriteHello(&b, h); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	good := wire.Hello{Group: group, From: "a", To: "b", Advert: "127.0.0.1:9876"}
	tests := []struct {
		name  string
		hello []byte
		want  wire.Status
	}{
		{"accepted", hello(good), wire.StatusOK},
		{"another version", func() []byte { b := hello(good); b[4] = wire.Version + 1; return b }(), wire.StatusVersion},
		{"wrong target", hello(wire.Hello{Group: group, From: "a", To: "zz"}), wire.StatusWrongNode},
		{"bad crc", func() []byte { b := hello(good); b[len(b)-1] ^= 1; return b }(), wire.StatusMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, nodes := testNet(t, netfault.Options{}, "a", "b")
			c := connect(t, n, "a", "b")
			c.Write(tt.hello)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			st, reason, err := wire.ReadAnswer(c)
			if err != nil || st != tt.want {
				t.Fatalf("answer %v %q, err %v; want %v", st, reason, err, tt.want)
			}
			nodes["b"].mu.Lock()
			hellos := slices.Clone(nodes["b"].hellos)
			nodes["b"].mu.Unlock()
			if tt.want == wire.StatusOK && !slices.Equal(hellos, []wire.Hello{good}) {
				t.Fatalf("the node got hellos %+v, want %+v", hellos, good)
			}
		})
	}
}

// TestNodeDown: a connection to a node that does not listen is closed
// after it is accepted, as a failed handshake.
func TestNodeDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	b := newFakeNode(t, "b")
	n, err := netfault.New(map[string]string{"a": down, "b": b.ln.Addr().String()}, netfault.Options{Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := connect(t, n, "b", "a")
	wire.WriteHello(c, wire.Hello{Group: group, From: "b", To: "a"})
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var ne net.Error
	if _, _, err := wire.ReadAnswer(c); err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("answer from a node that is down: err %v; want the connection closed", err)
	}
	if st := n.Stats().Links[netfault.Link{From: "b", To: "a"}]; st.Connections != 1 {
		t.Fatalf("stats %+v, want 1 connection", st)
	}
}

// TestClose closes the Net under a live connection: the dialer sees it
// closed, the listeners stop, and Close is idempotent.
func TestClose(t *testing.T) {
	n, _ := testNet(t, netfault.Options{}, "a", "b")
	s := dial(t, n, "a", "b")
	addr := n.Addr("a", "b")
	done := make(chan error)
	go func() { done <- n.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	poll.Eventually(t, 10*time.Second, "the dialer's connection closed", s.closed)
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("the link still accepts after Close")
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name  string
		peers map[string]string
	}{
		{"no node", nil},
		{"one node", map[string]string{"a": "127.0.0.1:1"}},
		{"bad address", map[string]string{"a": "127.0.0.1:1", "b": "nowhere"}},
		{"empty id", map[string]string{"a": "127.0.0.1:1", "": "127.0.0.1:2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := netfault.New(tt.peers, netfault.Options{Logger: testLogger()})
			if !errors.Is(err, netfault.ErrConfig) {
				if n != nil {
					n.Close()
				}
				t.Fatalf("err %v, want ErrConfig", err)
			}
		})
	}
}

// TestMisusePanics: the campaign's own mistakes are bugs, reported at once.
func TestMisusePanics(t *testing.T) {
	n, _ := testNet(t, netfault.Options{}, "a", "b", "c")
	tests := []struct {
		name string
		call func()
	}{
		{"partition unknown node", func() { n.Partition([]string{"a", "x"}) }},
		{"node in two groups", func() { n.Partition([]string{"a"}, []string{"a", "b"}) }},
		{"isolate unknown node", func() { n.Isolate("x") }},
		{"block unknown node", func() { n.Block("a", "x") }},
		{"probability over 1", func() { n.SetFaults(netfault.Faults{Drop: 1.5}) }},
		{"negative probability", func() { n.SetLinkFaults("a", "b", netfault.Faults{Reorder: -0.1}) }},
		{"negative delay", func() { n.SetFaults(netfault.Faults{Delay: -time.Second}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tt.call()
		})
	}
}
