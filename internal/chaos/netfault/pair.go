package netfault

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/rmqlog/rmqlog/replication/wire"
)

// pair is one proxied connection of a link: down is the connection the
// dialing node (link.From) opened to the link's listener, up the proxy's
// connection to the listening node's (link.To) real peer address.
type pair struct {
	n    *Net
	link Link   // From dialed, To listens
	seq  uint64 // the connection's number on its link, from 1
	down net.Conn

	ctx    context.Context // cancelled by abort: stops the dial of up
	cancel context.CancelFunc
	done   chan struct{} // closed by abort

	mu      sync.Mutex
	up      net.Conn // guarded by mu: nil until dialed
	aborted bool     // guarded by mu
}

func newPair(n *Net, l Link, down net.Conn, seq uint64) *pair {
	ctx, cancel := context.WithCancel(context.Background())
	return &pair{n: n, link: l, seq: seq, down: down, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// run dials the listening node and proxies both directions until both
// streams end or the pair is aborted; it always leaves both connections
// closed.
func (p *pair) run() {
	defer p.abort()
	up, ok := p.dial()
	if !ok {
		return
	}
	p.n.log.Debug("netfault: connection", "link", p.link.String(), "conn", p.seq)
	back := Link{p.link.To, p.link.From}
	dirs := [2]*direction{
		p.direction(p.link, p.down, up, p.readHello),
		p.direction(back, up, p.down, p.readAnswer),
	}
	var wg sync.WaitGroup
	for _, d := range dirs {
		wg.Add(2)
		go func() { defer wg.Done(); d.read() }()
		go func() { defer wg.Done(); d.write() }()
	}
	wg.Wait()
	p.n.log.Debug("netfault: connection ended", "link", p.link.String(), "conn", p.seq)
}

// dial connects to the listening node's real address. A node that is
// down makes the proxy close the dialer's connection, which the dialer
// sees as a failed handshake.
func (p *pair) dial() (net.Conn, bool) {
	ctx, cancel := context.WithTimeout(p.ctx, p.n.opts.DialTimeout)
	defer cancel()
	var d net.Dialer
	up, err := d.DialContext(ctx, "tcp", p.n.peers[p.link.To])
	if err != nil {
		if p.ctx.Err() == nil {
			p.n.log.Info("netfault: node unreachable; closing the dialer's connection",
				"link", p.link.String(), "addr", p.n.peers[p.link.To], "err", err)
		}
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.aborted {
		up.Close()
		return nil, false
	}
	p.up = up
	return up, true
}

// abort closes both connections at once, ending every goroutine of the
// pair. Idempotent.
func (p *pair) abort() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.aborted {
		return
	}
	p.aborted = true
	p.cancel()
	close(p.done)
	p.down.Close()
	if p.up != nil {
		p.up.Close()
	}
}

func (p *pair) isAborted() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// fail ends the pair after an error of direction dir: a malformed frame is
// logged at Warn and counted, anything else (a reset, a frame cut short by
// a closing node) at Info.
func (p *pair) fail(dir Link, err error) {
	if p.isAborted() {
		return // Close, or the other direction failed first
	}
	if malformed(err) {
		p.n.counters[p.link].malformed.Add(1)
		p.n.log.Warn("netfault: malformed frame, closing the connection", "link", p.link.String(),
			"conn", p.seq, "direction", dir.String(), "reason", err)
	} else {
		p.n.log.Info("netfault: connection failed", "link", p.link.String(), "conn", p.seq,
			"direction", dir.String(), "err", err)
	}
	p.abort()
}

// malformed reports whether err is about the bytes read rather than the
// connection (replication's own rule).
func malformed(err error) bool {
	return (errors.Is(err, wire.ErrFrame) || errors.Is(err, wire.ErrTooLarge)) &&
		!errors.Is(err, io.ErrUnexpectedEOF)
}

// readHello reads the dialer's hello; a hello naming another pair of nodes
// than the link is forwarded all the same, with a warning (a peer list
// that does not match the Net).
func (p *pair) readHello(r io.Reader) error {
	h, err := wire.ReadHello(r)
	if err == nil && (h.From != p.link.From || h.To != p.link.To) {
		p.n.log.Warn("netfault: hello names other nodes than its link; check the peer lists",
			"link", p.link.String(), "hello_from", h.From, "hello_to", h.To)
	}
	return err
}

// readAnswer reads the listening node's answer to the hello.
func (p *pair) readAnswer(r io.Reader) error {
	st, reason, err := wire.ReadAnswer(r)
	if err == nil && st != wire.StatusOK {
		p.n.log.Info("netfault: node refused a connection", "link", p.link.String(),
			"status", st.String(), "reason", reason)
	}
	return err
}
