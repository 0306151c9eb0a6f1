package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/replication/wire"
)

// Peer is the outbound link to one member: a TCP connection that Send dials
// on demand and keeps until a write fails. One goroutine at a time calls
// Send (the engine's dispatcher for that member); Close may be called from
// any goroutine. The Transport owns the Peer.
type Peer struct {
	t    *Transport
	id   string
	addr string

	ctx    context.Context // cancelled by Close: aborts a dial in progress
	cancel context.CancelFunc

	mu     sync.Mutex
	conn   net.Conn // guarded by mu: the connection (in its handshake or ready), nil when down
	closed bool     // guarded by mu: Close was called

	// Owned by the goroutine calling Send.
	hdr     []byte      // the frame header, reused
	vec     net.Buffers // header + entries, reused
	out     net.Buffers // the vector being written; WriteTo consumes it
	retryAt time.Time   // no dial before this, after a failed one
	lastErr error       // the failure that set retryAt
	down    bool        // the last dial failed and was logged
	refusal string      // the last refusal logged, to log each distinct one once in a row
}

func newPeer(t *Transport, id, addr string) *Peer {
	ctx, cancel := context.WithCancel(context.Background())
	return &Peer{t: t, id: id, addr: addr, ctx: ctx, cancel: cancel, hdr: make([]byte, 0, wire.HeaderSize)}
}

// ID is the member id this Peer sends to.
func (p *Peer) ID() string { return p.id }

// Addr is the peer address this Peer dials.
func (p *Peer) Addr() string { return p.addr }

// Send writes one frame to the peer: the header of m (wire.AppendHeader)
// and then its entries. If entries is not nil it holds the entry bytes,
// written without copying in one writev with the header (the frame's entry
// length is the sum of their lengths); otherwise m.Entries is sent. m.From,
// m.To and, when entries is not nil, m.Entries are ignored. Send does not
// retain m or the entries after it returns. The caller must make the frame
// valid (only Append, and Reset with at most one, carry entries; Count entries of at least 32 bytes
// each), or the receiver closes the connection.
//
// If not connected, Send dials and runs the handshake first, within
// Config.DialTimeout. A failed dial wraps ErrUnreachable, and for
// Config.RedialBackoff afterwards Send returns the same error at once
// without dialing; a refusal wraps ErrRefused (with the peer's status and
// reason) and backs off the same way. The write has a deadline of
// Config.WriteTimeout; a failed write closes the connection and wraps
// ErrUnreachable, and the next Send redials. After Close, ErrClosed.
func (p *Peer) Send(m *wire.Msg, entries [][]byte) error {
	c, err := p.connection()
	if err != nil {
		return err
	}
	p.out = p.vector(m, entries)
	err = c.SetWriteDeadline(time.Now().Add(p.t.cfg.WriteTimeout))
	if err == nil {
		_, err = p.out.WriteTo(c)
	}
	clear(p.vec) // keep no reference to the caller's buffers
	p.out = nil
	if err != nil {
		return p.fail(c, err)
	}
	return nil
}

// vector builds the write vector: the header, then the entry buffers.
// Connect makes sure the link is up, dialing and handshaking if it is not
// (with Send's backoff), without sending anything: a caller that holds a
// lock while it sends can dial before taking it.
func (p *Peer) Connect() error {
	_, err := p.connection()
	return err
}

// Interrupt makes a Send in progress on this link fail at once (its
// connection is then closed, and the next Send redials). Safe to call from
// any goroutine; without a Send in progress it has no effect.
func (p *Peer) Interrupt() {
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	if c != nil {
		c.SetWriteDeadline(time.Unix(1, 0))
	}
}

func (p *Peer) vector(m *wire.Msg, entries [][]byte) net.Buffers {
	p.vec = append(p.vec[:0], nil)
	elen := 0
	if entries == nil && len(m.Entries) > 0 {
		p.vec, elen = append(p.vec, m.Entries), len(m.Entries)
	}
	for _, e := range entries {
		p.vec, elen = append(p.vec, e), elen+len(e)
	}
	p.hdr = wire.AppendHeader(p.hdr[:0], m, elen)
	p.vec[0] = p.hdr
	return p.vec
}

// connection returns the ready connection, dialing if there is none and
// the backoff allows.
func (p *Peer) connection() (net.Conn, error) {
	p.mu.Lock()
	c, closed := p.conn, p.closed
	p.mu.Unlock()
	switch {
	case closed:
		return nil, p.closedErr()
	case c != nil:
		return c, nil
	}
	if now := p.t.now(); now.Before(p.retryAt) {
		return nil, fmt.Errorf("replication: not redialing %s for another %v after: %w",
			p.id, p.retryAt.Sub(now).Round(time.Millisecond), p.lastErr)
	}
	c, err := p.connect()
	if err != nil && !errors.Is(err, ErrClosed) {
		p.retryAt, p.lastErr = p.t.now().Add(p.t.cfg.RedialBackoff), err
	}
	return c, err
}

func (p *Peer) closedErr() error {
	return fmt.Errorf("%w: link to %s at %s", ErrClosed, p.id, p.addr)
}

// connect dials and runs the handshake, within DialTimeout in all.
func (p *Peer) connect() (net.Conn, error) {
	deadline := time.Now().Add(p.t.cfg.DialTimeout)
	ctx, cancel := context.WithDeadline(p.ctx, deadline)
	c, err := p.t.dial(ctx, p.addr)
	cancel()
	if err != nil {
		if p.ctx.Err() != nil {
			return nil, p.closedErr()
		}
		return nil, p.unreachable(fmt.Errorf("%w: dial %s at %s: %w", ErrUnreachable, p.id, p.addr, err))
	}
	if !p.adopt(c) {
		return nil, p.closedErr()
	}
	if err := p.handshake(c, deadline); err != nil {
		p.drop(c)
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true) // Go's default; stated because latency depends on it
	}
	p.down, p.refusal = false, ""
	p.t.log.Info("replication: connected to peer", "peer", p.id, "addr", p.addr)
	return c, nil
}

// adopt makes c the Peer's connection, so that Close can interrupt its
// handshake, unless Close came first (then c is closed).
func (p *Peer) adopt(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conn = c
	return true
}

// drop closes c and forgets it if it is still the Peer's connection.
func (p *Peer) drop(c net.Conn) (closed bool) {
	c.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == c {
		p.conn = nil
	}
	return p.closed
}

// handshake sends the hello and reads the answer on c before deadline.
func (p *Peer) handshake(c net.Conn, deadline time.Time) error {
	c.SetDeadline(deadline)
	err := wire.WriteHello(c, wire.Hello{Group: p.t.cfg.Group, From: p.t.cfg.Self, To: p.id, Advert: p.t.cfg.Advert})
	var (
		st     wire.Status
		reason string
	)
	if err == nil {
		st, reason, err = wire.ReadAnswer(c)
	}
	switch {
	case err != nil && p.isClosed():
		return p.closedErr()
	case err != nil && brokenConn(err):
		return p.unreachable(fmt.Errorf("%w: handshake with %s at %s: %w", ErrUnreachable, p.id, p.addr, err))
	case err != nil:
		return p.refused(fmt.Sprintf("bad answer: %v", err))
	case st == wire.StatusDuplicate && p.refusal != fmt.Sprintf("%v: %s", st, reason):
		p.t.log.Error("replication: the peer is already connected to another process with this node's id", "peer", p.id,
			"addr", p.addr, "self", p.t.cfg.Self, "reason", reason)
		return p.refused(fmt.Sprintf("%v: %s", st, reason))
	case st != wire.StatusOK:
		return p.refused(fmt.Sprintf("%v: %s", st, reason))
	}
	return c.SetDeadline(time.Time{})
}

// brokenConn reports whether a handshake error is the connection failing
// rather than bytes that are not a valid answer.
func brokenConn(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}

// refused logs a refusal at Warn when it differs from the previous one
// (a dispatcher retrying every backoff would otherwise flood the log) and
// returns it as ErrRefused.
func (p *Peer) refused(why string) error {
	if why != p.refusal {
		p.t.log.Warn("replication: peer refused the connection", "peer", p.id, "addr", p.addr, "reason", why)
		p.refusal = why
	}
	return fmt.Errorf("%w by %s at %s: %s", ErrRefused, p.id, p.addr, why)
}

// unreachable logs the first failure after a success at Info and returns
// err.
func (p *Peer) unreachable(err error) error {
	if !p.down {
		p.t.log.Info("replication: peer unreachable", "peer", p.id, "addr", p.addr, "err", err,
			"redial_after", p.t.cfg.RedialBackoff)
		p.down = true
	}
	p.refusal = ""
	return err
}

// fail handles a failed write on c: closes it and returns the error.
func (p *Peer) fail(c net.Conn, err error) error {
	if p.drop(c) {
		return p.closedErr()
	}
	p.t.log.Info("replication: disconnected from peer", "peer", p.id, "addr", p.addr, "err", err)
	return fmt.Errorf("%w: send to %s at %s: %w", ErrUnreachable, p.id, p.addr, err)
}

func (p *Peer) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Close closes the link for good: the connection (interrupting a Send in
// progress, which returns ErrClosed) and every later Send (ErrClosed). It
// is idempotent and returns nil. Transport.Close calls it for every Peer.
func (p *Peer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.cancel()
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
	return nil
}
