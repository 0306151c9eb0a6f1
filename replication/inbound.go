package replication

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/replication/wire"
)

// readBufSize is the read buffer of an inbound connection: small frames
// (votes, heartbeats, responses) arrive several per read system call; a
// larger frame is read straight into the frame buffer.
const readBufSize = 64 << 10

// Accept retry delays after an error that is not the listener's closing
// (e.g. out of file descriptors).
const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = time.Second
)

// acceptLoop runs on its own goroutine until the listener is closed,
// starting one reader goroutine per accepted connection.
func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	var delay time.Duration
	for {
		c, err := t.ln.Accept()
		if err == nil {
			delay = 0
			t.start(c)
			continue
		}
		if errors.Is(err, net.ErrClosed) || t.isClosed() {
			return
		}
		delay = min(max(2*delay, acceptRetryMin), acceptRetryMax)
		t.log.Warn("replication: accept failed", "addr", t.ln.Addr(), "err", err, "retry_in", delay)
		if !t.wait(delay) {
			return
		}
	}
}

// wait waits d, or until Close; it reports whether the transport is open.
func (t *Transport) wait(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.done:
		return false
	case <-timer.C:
		return true
	}
}

func (t *Transport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// start registers c and starts its reader, or closes c if Close has begun.
// The Add happens under mu, before Close can collect the connections, and
// while the accept loop's own count keeps the WaitGroup above zero.
func (t *Transport) start(c net.Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		c.Close()
		return
	}
	t.inbound[c] = struct{}{}
	t.wg.Add(1)
	go t.serve(c)
}

// serve runs on the connection's reader goroutine: handshake, then frames
// until an error; then it closes c.
func (t *Transport) serve(c net.Conn) {
	defer t.wg.Done()
	defer t.forget(c)
	from, l, ok := t.accept(c)
	if !ok {
		return
	}
	defer t.release(from, l)
	t.log.Info("replication: inbound peer connected", "peer", from, "addr", c.RemoteAddr())
	t.logEnd(c, from, t.readLoop(l, from))
}

// claim makes c the one inbound connection of peer from, closing the one
// it replaces (a peer that redialed after its old connection went quiet),
// and returns it; a peer id holds at most one connection and one read
// buffer. If the current connection is live (a frame within LiveWindow), c
// is not taken: another process claims the same id (see duplicate), and
// claim returns nil and the live connection's remote address.
func (t *Transport) claim(from string, c net.Conn) (*link, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.byPeer[from]
	if old != nil && t.now().Sub(time.Unix(0, old.last.Load())) < t.cfg.LiveWindow {
		return nil, old.c.RemoteAddr().String()
	}
	if old != nil {
		old.c.Close()
	}
	l := &link{c: c}
	l.last.Store(t.now().UnixNano())
	t.byPeer[from] = l
	return l, ""
}

func (t *Transport) release(from string, l *link) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byPeer[from] == l {
		delete(t.byPeer, from)
	}
}

func (t *Transport) forget(c net.Conn) {
	c.Close()
	t.mu.Lock()
	delete(t.inbound, c)
	t.mu.Unlock()
}

// accept runs the listener's side of the handshake on c, within
// DialTimeout, and returns the dialer's id and its claimed link if it was
// accepted.
func (t *Transport) accept(c net.Conn) (string, *link, bool) {
	c.SetDeadline(time.Now().Add(t.cfg.DialTimeout))
	h, err := wire.ReadHello(c)
	if errors.Is(err, net.ErrClosed) && t.isClosed() {
		return "", nil, false // Close interrupted the handshake: nothing to report
	}
	st, reason := t.judge(h, err)
	var l *link
	if st == wire.StatusOK {
		var live string
		if l, live = t.claim(h.From, c); l == nil {
			st, reason = wire.StatusDuplicate, clip(t.duplicate(h.From, live, c))
		}
	}
	// The answer gets its own time: a dialer that sent nothing until the
	// deadline (an idle connection) is still told why it is refused.
	c.SetWriteDeadline(time.Now().Add(t.cfg.DialTimeout))
	if err := wire.WriteAnswer(c, st, reason); err != nil && st == wire.StatusOK {
		t.log.Info("replication: inbound peer left during the handshake", "peer", h.From, "addr", c.RemoteAddr(), "err", err)
		t.release(h.From, l)
		return "", nil, false
	}
	switch st {
	case wire.StatusOK:
	case wire.StatusDuplicate: // logged by duplicate
		return "", nil, false
	default:
		t.log.Warn("replication: refused inbound connection", "addr", c.RemoteAddr(),
			"peer", h.From, "status", st.String(), "reason", reason)
		return "", nil, false
	}
	c.SetDeadline(time.Time{})
	if t.cfg.OnPeer != nil {
		t.cfg.OnPeer(h.From, h.Advert)
	}
	return h.From, l, true
}

// duplicate logs, at Error, a second dialer claiming the id of a peer whose
// link is live, and returns the reason it is refused with. With TLS the
// certificate proves the id, so only a holder of the peer's key gets here.
func (t *Transport) duplicate(id, live string, c net.Conn) string {
	t.log.Error("replication: two processes claim one node id: keeping the live link, refusing the new one",
		"peer", id, "live", live, "refused", c.RemoteAddr().String())
	return fmt.Sprintf("node %q is already connected to %q from %s (a frame within the last %v): two processes "+
		"use the id %q; stop one, or give it its own dLegerSelfId and dLegerPeers entry", id, t.cfg.Self, live,
		t.cfg.LiveWindow, id)
}

// judge decides the answer to a hello that ReadHello returned with err.
func (t *Transport) judge(h wire.Hello, err error) (wire.Status, string) {
	switch {
	case errors.Is(err, wire.ErrVersion):
		return wire.StatusVersion, clip(err.Error())
	case err != nil:
		return wire.StatusMalformed, clip(fmt.Sprintf("this is the peer port of node %q (group %q)%s; what it received is not a peer hello (%v)",
			t.cfg.Self, t.cfg.Group, clientsUse(t.cfg.Advert), err))
	case h.Group != t.cfg.Group:
		return wire.StatusWrongGroup, clip(fmt.Sprintf("group %q, node %q serves group %q", h.Group, t.cfg.Self, t.cfg.Group))
	case h.To != t.cfg.Self:
		return wire.StatusWrongNode, clip(fmt.Sprintf("this is node %q, not %q", t.cfg.Self, h.To))
	case h.From == t.cfg.Self:
		return wire.StatusUnknownNode, clip(fmt.Sprintf("a peer cannot claim this node's own id %q", h.From))
	}
	t.mu.Lock()
	_, ok := t.members[h.From]
	t.mu.Unlock()
	if !ok {
		return wire.StatusUnknownNode, clip(fmt.Sprintf("%q is not a member of group %q; members: %s", h.From, t.cfg.Group, t.memberList()))
	}
	return wire.StatusOK, ""
}

// clientsUse names the client port in a refusal, for a client that dialed
// the peer port by mistake.
func clientsUse(advert string) string {
	if advert == "" {
		return ""
	}
	return ", whose client port (rmqlogClientPort) is " + advert
}

func (t *Transport) memberList() string {
	t.mu.Lock()
	ids := make([]string, 0, len(t.members))
	for id := range t.members {
		ids = append(ids, id)
	}
	t.mu.Unlock()
	slices.Sort(ids)
	return strings.Join(ids, ", ")
}

// clip bounds a reason to what an answer carries.
func clip(s string) string {
	if len(s) > wire.MaxReason {
		return s[:wire.MaxReason-3] + "..."
	}
	return s
}

// readLoop reads, decodes and hands frames to the Handler until the first
// error, which it returns. One frame buffer and one Msg serve the whole
// connection, which is why the Handler may not keep them.
func (t *Transport) readLoop(l *link, from string) error {
	r := bufio.NewReaderSize(l.c, readBufSize)
	var (
		buf []byte
		m   wire.Msg
		err error
	)
	for {
		if buf, err = wire.ReadFrame(r, buf, t.cfg.MaxFrame); err != nil {
			return err
		}
		if m, err = wire.Decode(buf); err != nil {
			return err
		}
		l.last.Store(t.now().UnixNano())
		m.From, m.To = from, t.cfg.Self
		t.handler(&m)
	}
}

// logEnd logs why an accepted connection ended: bad bytes at Warn (the
// connection is closed; the peer will redial), anything else at Info.
func (t *Transport) logEnd(c net.Conn, from string, err error) {
	switch {
	case malformed(err):
		t.log.Warn("replication: malformed frame, closing the connection", "peer", from, "addr", c.RemoteAddr(), "reason", err)
	case err == io.EOF:
		t.log.Info("replication: inbound peer disconnected", "peer", from, "addr", c.RemoteAddr())
	case errors.Is(err, net.ErrClosed) && t.isClosed():
		t.log.Info("replication: inbound connection closed by Close", "peer", from, "addr", c.RemoteAddr())
	default:
		t.log.Info("replication: inbound peer disconnected", "peer", from, "addr", c.RemoteAddr(), "err", err)
	}
}

// malformed reports whether err is about the bytes received (as opposed to
// the connection breaking, including in the middle of a frame).
func malformed(err error) bool {
	return (errors.Is(err, wire.ErrFrame) || errors.Is(err, wire.ErrTooLarge)) &&
		!errors.Is(err, io.ErrUnexpectedEOF)
}
