package netfault_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/chaos/netfault"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// Fake nodes speaking the peer protocol with package wire: each listens
// like a node (hello, answer, frames) and records what arrives; a sender
// dials through the Net like a node's Peer.

const group = "g"

// marker is the index of the frame a test sends last, once the faults are
// healed: when it arrives, every frame sent before it on its connection
// has arrived or is lost.
const marker = 1 << 40

// arrival is one frame received by a fake node (or read back by a sender).
type arrival struct {
	from  string // the hello's From (for a sender: the node it dialed)
	conn  int    // the receiving node's connection number, from 1
	index uint64 // the frame's Index: the sender's sequence number
	at    time.Time
}

type fakeNode struct {
	id   string
	ln   net.Listener
	echo bool // write every frame received back on its connection

	wg sync.WaitGroup

	mu     sync.Mutex
	got    []arrival    // guarded by mu
	hellos []wire.Hello // guarded by mu
	conns  []net.Conn   // guarded by mu
	ended  int          // guarded by mu: connections whose reading ended
	bad    []error      // guarded by mu: frames the node found malformed
}

func newFakeNode(t *testing.T, id string) *fakeNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNode{id: id, ln: ln}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *fakeNode) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		k := len(f.conns)
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(c, k)
	}
}

// serve answers the hello as a node would (only the version and the
// target are checked) and records the frames that follow.
func (f *fakeNode) serve(c net.Conn, k int) {
	defer f.wg.Done()
	defer c.Close()
	h, err := wire.ReadHello(c)
	switch {
	case errors.Is(err, wire.ErrVersion):
		wire.WriteAnswer(c, wire.StatusVersion, err.Error())
		return
	case err != nil:
		wire.WriteAnswer(c, wire.StatusMalformed, err.Error())
		return
	case h.To != f.id:
		wire.WriteAnswer(c, wire.StatusWrongNode, "this is "+f.id)
		return
	}
	f.mu.Lock()
	f.hellos = append(f.hellos, h)
	f.mu.Unlock()
	if wire.WriteAnswer(c, wire.StatusOK, "") != nil {
		return
	}
	err = readFrames(c, func(m wire.Msg) error {
		f.record(arrival{from: h.From, conn: k, index: m.Index, at: time.Now()})
		if f.echo {
			_, err := c.Write(frame(m.Index))
			return err
		}
		return nil
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended++
	if errors.Is(err, wire.ErrFrame) || errors.Is(err, wire.ErrTooLarge) {
		f.bad = append(f.bad, err)
	}
}

func (f *fakeNode) record(a arrival) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, a)
}

// arrivals returns the frames received from node from, in order.
func (f *fakeNode) arrivals(from string) []arrival {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []arrival
	for _, a := range f.got {
		if a.from == from {
			out = append(out, a)
		}
	}
	return out
}

func (f *fakeNode) state() (conns, ended int, bad []error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns), f.ended, slices.Clone(f.bad)
}

func (f *fakeNode) close() {
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// readFrames reads and decodes frames from r until an error, which it
// returns; a frame's entries must be the pattern of its index.
func readFrames(r io.Reader, fn func(m wire.Msg) error) error {
	var buf []byte
	for {
		var err error
		if buf, err = wire.ReadFrame(r, buf, 0); err != nil {
			return err
		}
		m, err := wire.Decode(buf)
		if err != nil {
			return err
		}
		if !bytes.Equal(m.Entries, entries(m.Index)) {
			return fmt.Errorf("%w: frame %d carries other entries than it was sent with", wire.ErrFrame, m.Index)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
}

// frame is the Append a sender sends as frame i: one fake entry whose bytes
// depend on i, so that the receiver checks the frame arrived byte for byte.
func frame(i uint64) []byte {
	e := entries(i)
	b := wire.AppendHeader(nil, &wire.Msg{Type: wire.TypeAppend, Term: 1, Index: i, Count: 1}, len(e))
	return append(b, e...)
}

func entries(i uint64) []byte {
	e := make([]byte, 32+i%50)
	for k := range e {
		e[k] = byte(i) + byte(k)
	}
	binary.LittleEndian.PutUint64(e, i)
	return e
}

// sender is a node's outbound connection through the Net.
type sender struct {
	t        *testing.T
	from, to string
	c        net.Conn
	done     chan struct{} // closed when reading from c ends

	mu   sync.Mutex
	sent map[uint64]time.Time // guarded by mu: when each frame was written
	back []arrival            // guarded by mu: frames read back on c
	err  error                // guarded by mu: why reading ended
}

// dial connects from to to through the Net and runs the handshake, which
// must be accepted.
func dial(t *testing.T, n *netfault.Net, from, to string) *sender {
	t.Helper()
	c := connect(t, n, from, to)
	if err := wire.WriteHello(c, wire.Hello{Group: group, From: from, To: to, Advert: "client-" + from}); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	st, reason, err := wire.ReadAnswer(c)
	if err != nil || st != wire.StatusOK {
		t.Fatalf("handshake %s->%s: %v %v %s", from, to, err, st, reason)
	}
	c.SetReadDeadline(time.Time{})
	s := &sender{t: t, from: from, to: to, c: c, done: make(chan struct{}), sent: map[uint64]time.Time{}}
	go s.readBack()
	return s
}

// connect dials Addr(from, to) and closes the connection when the test ends.
func connect(t *testing.T, n *netfault.Net, from, to string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", n.Addr(from, to))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (s *sender) readBack() {
	defer close(s.done)
	err := readFrames(s.c, func(m wire.Msg) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.back = append(s.back, arrival{from: s.to, index: m.Index, at: time.Now()})
		return nil
	})
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// send writes frames with the given indexes.
func (s *sender) send(indexes ...uint64) {
	s.t.Helper()
	for _, i := range indexes {
		s.mu.Lock()
		s.sent[i] = time.Now()
		s.mu.Unlock()
		if _, err := s.c.Write(frame(i)); err != nil {
			s.t.Fatalf("send %d %s->%s: %v", i, s.from, s.to, err)
		}
	}
}

func (s *sender) sentAt(i uint64) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[i]
}

func (s *sender) readBackFrames() []arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.back)
}

// closed reports whether the connection was closed under the sender.
func (s *sender) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// seq returns 0, 1, ..., n-1.
func seq(n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i)
	}
	return out
}

func indexes(as []arrival) []uint64 {
	out := make([]uint64, 0, len(as))
	for _, a := range as {
		out = append(out, a.index)
	}
	return out
}

// withoutMarker returns as up to its marker frame, which must be its last.
func withoutMarker(t *testing.T, as []arrival) []arrival {
	t.Helper()
	if len(as) == 0 || as[len(as)-1].index != marker {
		t.Fatalf("the marker is not the last frame: %v", indexes(as))
	}
	return as[:len(as)-1]
}

// hasMarker reports whether as holds the marker frame.
func hasMarker(as []arrival) bool {
	return slices.ContainsFunc(as, func(a arrival) bool { return a.index == marker })
}

// waitFrames waits until the Net has read at least k frames travelling
// along l, so a policy change after it cannot affect them.
func waitFrames(t *testing.T, n *netfault.Net, l netfault.Link, k uint64) {
	t.Helper()
	poll.Eventually(t, 10*time.Second, fmt.Sprintf("%d frames read on %v", k, l), func() bool {
		return n.Stats().Links[l].Frames >= k
	})
}

// testNet starts a Net in front of fake nodes with the given ids.
func testNet(t *testing.T, opts netfault.Options, ids ...string) (*netfault.Net, map[string]*fakeNode) {
	t.Helper()
	nodes := map[string]*fakeNode{}
	peers := map[string]string{}
	for _, id := range ids {
		nodes[id] = newFakeNode(t, id)
		peers[id] = nodes[id].ln.Addr().String()
	}
	if opts.Logger == nil {
		opts.Logger = testLogger()
	}
	n, err := netfault.New(peers, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, nodes
}

// testLogger discards, unless RMQLOG_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("RMQLOG_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
