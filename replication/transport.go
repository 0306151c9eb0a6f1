package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqlog/rmqlog/replication/wire"
)

// Errors. Send's errors wrap one of the first three, with the peer and its
// address; New's wrap ErrConfig and name the bad field.
var (
	// ErrUnreachable: a dial, the handshake's I/O or a write failed, or
	// Send is inside the RedialBackoff after a failed dial. The message
	// was not (entirely) sent; the next Send after the backoff redials.
	ErrUnreachable = errors.New("replication: peer unreachable")
	// ErrClosed: the Peer or its Transport was closed.
	ErrClosed = errors.New("replication: closed")
	// ErrRefused: the peer answered the handshake with a refusal (wrong
	// group, unknown node, wrong node, unsupported version, malformed): a
	// configuration mismatch that redialing will not fix by itself.
	ErrRefused = errors.New("replication: handshake refused")
	// ErrConfig: New was given an invalid Config.
	ErrConfig = errors.New("replication: bad config")
)

// Defaults of the Config fields left zero.
const (
	DefaultDialTimeout   = time.Second
	DefaultWriteTimeout  = 2 * time.Second
	DefaultRedialBackoff = 50 * time.Millisecond
	DefaultLiveWindow    = time.Second
)

// Config of a node's peer transport. New copies it; later changes to the
// caller's value (or its Peers map) have no effect.
type Config struct {
	Group string            // dLegerGroup; both ends must agree (1..255 bytes)
	Self  string            // this node's id, e.g. "n0" (1..255 bytes)
	Peers map[string]string // every member, Self included: id -> "host:port"
	// Listener is optional: accept on it instead of listening on
	// Peers[Self] (tests use 127.0.0.1:0). New takes ownership of it on
	// success: Close closes it. A *TLSListener secures the links both
	// ways: the Transport then also dials its peers over mutual TLS.
	Listener      net.Listener
	MaxFrame      int           // bound on an inbound frame; default wire.DefaultMaxFrame
	DialTimeout   time.Duration // default 1s (dial + handshake, both directions)
	WriteTimeout  time.Duration // deadline of one Send; default 2s
	RedialBackoff time.Duration // after a failed dial, Send fails fast for this long; default 50ms
	// LiveWindow: an inbound link that delivered a frame within it is live;
	// a second dialer claiming the same node id meanwhile is refused as a
	// duplicate (StatusDuplicate) instead of replacing it. Default 1s.
	LiveWindow time.Duration
	Logger     *slog.Logger // default slog.Default()
	// Advert is this node's client address ("host:port"), sent in every
	// hello so that peers can redirect clients here. Optional.
	Advert string
	// OnPeer, if set, is called with a peer's id and advertised client
	// address each time an inbound connection from it is accepted, on that
	// connection's goroutine, before its first message reaches the Handler.
	OnPeer func(id, advert string)
}

// Handler receives every inbound message on that connection's reader
// goroutine, in order per connection. m.From is the peer id from the
// handshake, m.To is Self. m and m.Entries are valid only until Handler
// returns: copy what must outlive the call. Different connections call it
// concurrently (one per peer, two while a peer reconnects), so it must be
// safe for concurrent use; it must return for Close to return.
type Handler func(m *wire.Msg)

// Transport is a node's end of the peer protocol: the listener for inbound
// connections and one outbound Peer per other member. Create it with New,
// stop it with Close.
type Transport struct {
	cfg     Config // defaults filled; read-only after New
	handler Handler
	ln      net.Listener
	log     *slog.Logger
	done    chan struct{} // closed by Close: ends the accept loop's retry wait

	// dial and now are net.Dialer and time.Now, replaced only by tests
	// before the first Send.
	dial func(ctx context.Context, addr string) (net.Conn, error)
	now  func() time.Time

	wg sync.WaitGroup // the accept loop and every connection reader

	mu      sync.Mutex
	closed  bool                  // guarded by mu: Close was called
	members map[string]string     // guarded by mu: id -> peer address, Self included (AddPeer, RemovePeer)
	peers   map[string]*Peer      // guarded by mu: every member but Self
	inbound map[net.Conn]struct{} // guarded by mu: accepted connections still open
	byPeer  map[string]*link      // guarded by mu: each peer's current inbound connection
}

// link is a peer's accepted inbound connection and when it last delivered
// a frame (unix nanoseconds; written by its reader, read by accept).
type link struct {
	c    net.Conn
	last atomic.Int64
}

// New validates cfg (an error wraps ErrConfig and names the bad field),
// listens (on cfg.Listener, or on Peers[Self]) and starts accepting. On
// error nothing is started and cfg.Listener is left open for the caller.
func New(cfg Config, h Handler) (*Transport, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: nil Handler", ErrConfig)
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Peers[cfg.Self]); err != nil {
			return nil, fmt.Errorf("replication: listen on Peers[%q] = %q: %w", cfg.Self, cfg.Peers[cfg.Self], err)
		}
	}
	t := &Transport{
		cfg: cfg, handler: h, ln: ln, done: make(chan struct{}),
		log:     cfg.Logger.With("self", cfg.Self),
		peers:   make(map[string]*Peer, len(cfg.Peers)-1),
		inbound: make(map[net.Conn]struct{}),
		byPeer:  make(map[string]*link),
		dial:    dialTCP,
		now:     time.Now,
	}
	t.members = make(map[string]string, len(cfg.Peers))
	for id, addr := range cfg.Peers {
		t.members[id] = addr
		if id != cfg.Self {
			t.peers[id] = newPeer(t, id, addr)
		}
	}
	if sl, ok := ln.(*TLSListener); ok {
		t.dial = sl.dialer(t.log, t.idOf)
	}
	t.wg.Add(1)
	go t.acceptLoop()
	return t, nil
}

func dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// check validates c, naming the first bad field.
func (c *Config) check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
	}
	if err := checkName("Group", c.Group); err != nil {
		return err
	}
	if err := checkName("Self", c.Self); err != nil {
		return err
	}
	if _, ok := c.Peers[c.Self]; !ok {
		return bad("Peers has no entry for Self %q", c.Self)
	}
	for id, addr := range c.Peers {
		if err := c.checkPeer(id, addr); err != nil {
			return err
		}
	}
	if sl, ok := c.Listener.(*TLSListener); ok {
		if err := sl.check(c); err != nil {
			return err
		}
	}
	switch {
	case c.MaxFrame < 0 || (c.MaxFrame > 0 && c.MaxFrame < wire.HeaderSize):
		return bad("MaxFrame %d is under a frame header (%d bytes); 0 means %d", c.MaxFrame, wire.HeaderSize, wire.DefaultMaxFrame)
	case c.DialTimeout < 0:
		return bad("DialTimeout %v is negative", c.DialTimeout)
	case c.WriteTimeout < 0:
		return bad("WriteTimeout %v is negative", c.WriteTimeout)
	case c.RedialBackoff < 0:
		return bad("RedialBackoff %v is negative", c.RedialBackoff)
	case len(c.Advert) > wire.MaxName:
		return bad("Advert is %d bytes, want at most %d", len(c.Advert), wire.MaxName)
	}
	return nil
}

func (c *Config) checkPeer(id, addr string) error {
	if err := checkName(fmt.Sprintf("Peers key %q", id), id); err != nil {
		return err
	}
	if id == c.Self && c.Listener != nil {
		return nil // never dialed, never listened on
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%w: Peers[%q] = %q: %w", ErrConfig, id, addr, err)
	}
	return nil
}

// checkName checks a string that travels in the handshake.
func checkName(field, s string) error {
	if len(s) < 1 || len(s) > wire.MaxName {
		return fmt.Errorf("%w: %s is %d bytes, want 1 to %d", ErrConfig, field, len(s), wire.MaxName)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxFrame == 0 {
		c.MaxFrame = wire.DefaultMaxFrame
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.RedialBackoff == 0 {
		c.RedialBackoff = DefaultRedialBackoff
	}
	if c.LiveWindow == 0 {
		c.LiveWindow = DefaultLiveWindow
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	peers := make(map[string]string, len(c.Peers))
	for id, addr := range c.Peers {
		peers[id] = addr
	}
	c.Peers = peers
	return c
}

// Addr is the address the transport accepts on.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

// Peer returns the outbound link to member id, or nil if id is Self or not
// a member. The Peer is owned by the Transport: Close (or RemovePeer)
// closes it.
func (t *Transport) Peer(id string) *Peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.peers[id]
}

// AddPeer makes id a member at addr (a membership change) and returns its
// outbound link: hellos from id are accepted from now on. A member already
// known at addr keeps its link; one known at another address gets a new
// link (the old one is closed).
func (t *Transport) AddPeer(id, addr string) (*Peer, error) {
	if err := t.cfg.checkPeer(id, addr); err != nil {
		return nil, err
	}
	if id == t.cfg.Self {
		return nil, fmt.Errorf("%w: AddPeer of Self %q", ErrConfig, id)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("%w: transport of %s", ErrClosed, t.cfg.Self)
	}
	if p := t.peers[id]; p != nil {
		if p.addr == addr {
			return p, nil
		}
		p.Close()
	}
	if _, tls := t.ln.(*TLSListener); tls {
		for other, a := range t.members {
			if a == addr && other != id && other != t.cfg.Self {
				return nil, fmt.Errorf("%w: %q and %q share the address %q: with TLS each member needs its own", ErrConfig, other, id, addr)
			}
		}
	}
	p := newPeer(t, id, addr)
	t.members[id], t.peers[id] = addr, p
	t.log.Info("replication: member added", "peer", id, "addr", addr)
	return p, nil
}

// RemovePeer forgets member id (a membership change): its outbound link and
// its inbound connection are closed, and its hellos are refused.
func (t *Transport) RemovePeer(id string) {
	t.mu.Lock()
	p, l := t.peers[id], t.byPeer[id]
	delete(t.peers, id)
	if id != t.cfg.Self {
		delete(t.members, id)
	}
	t.mu.Unlock()
	if p != nil {
		p.Close()
		t.log.Info("replication: member removed", "peer", id)
	}
	if l != nil {
		l.c.Close()
	}
}

// idOf returns the member whose peer address is addr ("" if none).
func (t *Transport) idOf(addr string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, a := range t.members {
		if a == addr && id != t.cfg.Self {
			return id
		}
	}
	return ""
}

// Close stops accepting, closes every inbound and outbound connection (a
// Send in progress returns ErrClosed) and waits for every goroutine the
// Transport started, so it returns only after the Handler's last call has
// returned. Later calls return nil.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		t.wg.Wait()
		return nil
	}
	t.closed = true
	conns := make([]net.Conn, 0, len(t.inbound))
	for c := range t.inbound {
		conns = append(conns, c)
	}

	peers := make([]*Peer, 0, len(t.peers))
	for _, p := range t.peers {
		peers = append(peers, p)
	}
	t.mu.Unlock()

	close(t.done)
	err := t.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	for _, p := range peers {
		p.Close()
	}
	t.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
