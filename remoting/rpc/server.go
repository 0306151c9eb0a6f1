package rpc

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/remoting"
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("rpc: server closed")

// DefaultMaxInFlight is the number of requests of one connection that run
// at once when ServerOptions.MaxInFlight is 0.
const DefaultMaxInFlight = 64

// Defaults of the other bounds (ServerOptions).
const (
	// DefaultMaxConnections is rmqlog's client port's default
	// (clientMaxConnections): one fd table serves every port of a node.
	DefaultMaxConnections = 1024
	// DefaultMaxHeldBytes bounds the request bytes one connection's
	// running handlers hold (the client port's 8 MiB): a long-polling pull
	// is held for up to its suspend timeout.
	DefaultMaxHeldBytes = 8 << 20
	// DefaultIdleTimeout is RocketMQ's serverChannelMaxIdleTimeSeconds:
	// a connection that sends no whole frame for this long is closed.
	DefaultIdleTimeout = 120 * time.Second
)

// ServerOptions tune a Server; the zero value is usable.
type ServerOptions struct {
	// MaxInFlight bounds the requests of one connection between being read
	// and having their answer written (DefaultMaxInFlight when 0); the
	// connection is not read while it is reached.
	MaxInFlight int
	// MaxFrameSize is the largest frame read (remoting.DefaultMaxFrameSize
	// when 0).
	MaxFrameSize int
	// WriteTimeout bounds the writing of one answer (10 s when 0); a peer
	// that does not read loses its connection.
	WriteTimeout time.Duration
	// Logger receives one line per connection closed for a bad frame or a
	// failed write (slog.Default() when nil).
	Logger *slog.Logger
	// MaxConnections bounds the open connections (DefaultMaxConnections
	// when 0); one beyond it is closed at once, logged once per burst.
	MaxConnections int
	// MaxHeldBytes bounds the bytes of one connection's requests between
	// being read and having their answer written (DefaultMaxHeldBytes when
	// 0); one request over it runs alone. The connection is not read while
	// the bound is reached.
	MaxHeldBytes int
	// IdleTimeout closes a connection that sends no whole frame for this
	// long (DefaultIdleTimeout when 0; a slowly trickled frame included).
	IdleTimeout time.Duration
	// OnClose, if set, is called with the peer's address once a connection
	// has ended and its handlers have returned (RocketMQ's
	// ChannelEventListener.onChannelClose: a broker forgets the clients
	// that spoke on it). It runs on the connection's goroutine.
	OnClose func(peer net.Addr)
	// Bodyless, if set, names the request codes whose handlers never read
	// a body (a broker's PULL_MESSAGE): their body is dropped as soon as
	// the request is decoded, so a long-polling request holds only its
	// header, not whatever body a peer attached.
	Bodyless func(code int32) bool
}

// workerIdle is how long an idle handler goroutine waits for the next
// request before it ends.
const workerIdle = 5 * time.Second

type peerKey struct{}

// Peer returns the remote address of the connection a handler's request
// came on (nil outside a handler of a Server).
func Peer(ctx context.Context) net.Addr {
	a, _ := ctx.Value(peerKey{}).(net.Addr)
	return a
}

// Server answers remoting requests on the connections of its listeners.
type Server struct {
	handler Handler
	opts    ServerOptions
	ctx     context.Context // handlers' context, cancelled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // every goroutine the server started
	// work hands a request to an idle handler goroutine (unbuffered: a
	// send succeeds only when one waits). Handler goroutines live on for
	// workerIdle after their request, so the next request runs on a stack
	// already grown to what handlers need, instead of a new goroutine
	// growing its stack again (runtime.morestack was 7% of a loaded
	// broker's CPU).
	work chan func()

	mu        sync.Mutex // guards the fields below
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	refusing  bool // connections are being refused for MaxConnections (logged once per burst)
}

// NewServer returns a server that answers requests with h.
func NewServer(h Handler, opts ServerOptions) *Server {
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.MaxHeldBytes <= 0 {
		opts.MaxHeldBytes = DefaultMaxHeldBytes
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{handler: h, opts: opts, ctx: ctx, cancel: cancel, work: make(chan func()),
		listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}}
}

// run runs f on an idle handler goroutine, or on a new one.
func (s *Server) run(f func()) {
	select {
	case s.work <- f:
	default:
		s.wg.Add(1)
		go s.worker(f)
	}
}

// worker runs f, then the requests handed to it until it has been idle
// for workerIdle or the server closes.
func (s *Server) worker(f func()) {
	defer s.wg.Done()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(workerIdle)
		select {
		case f = <-s.work:
		case <-idle.C:
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// Serve accepts connections on l until Close, then returns
// ErrServerClosed; it returns an accept error other than a closed
// listener at once. Serve closes l.
func (s *Server) Serve(l net.Listener) error {
	if !s.track(l) {
		l.Close()
		return ErrServerClosed
	}
	defer s.untrack(l)
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.start(nc)
	}
}

func (s *Server) track(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) untrack(l net.Listener) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	l.Close()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// start registers nc and starts its reader, unless the server is closed.
func (s *Server) start(nc net.Conn) {
	c := &conn{srv: s, nc: nc, slots: make(chan struct{}, s.opts.MaxInFlight),
		ctx:  context.WithValue(s.ctx, peerKey{}, nc.RemoteAddr()),
		wsig: make(chan struct{}, 1), wstop: make(chan struct{}), wdone: make(chan struct{})}
	c.heldCond = sync.NewCond(&c.heldMu)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if len(s.conns) >= s.opts.MaxConnections {
		first := !s.refusing
		s.refusing = true
		s.mu.Unlock()
		nc.Close()
		if first {
			s.opts.Logger.Warn("remoting: refusing connections: the limit of open connections is reached",
				"limit", s.opts.MaxConnections, "peer", nc.RemoteAddr().String())
		}
		return
	}
	s.refusing = false
	s.conns[c] = struct{}{}
	s.wg.Add(2)
	s.mu.Unlock()
	go c.serve()
	go c.writeLoop()
}

// Close stops accepting and reading, cancels the handlers' context, waits
// for the running handlers and writes their answers, closes every
// connection, and returns once every goroutine of the server has ended.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.stopReading()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// conn is one accepted connection: its reader goroutine and the handlers
// it started.
type conn struct {
	srv   *Server
	nc    net.Conn
	ctx   context.Context // the server's, with the peer's address (Peer)
	slots chan struct{}   // one token per request until its answer is written: the in-flight bound

	// Answers: handlers queue them, writeLoop writes what is queued in
	// one writev and then releases their requests.
	wmu   sync.Mutex    // guards wq and werr
	wq    []answer      // queued, not yet written
	werr  error         // the first write error: nothing more is written
	wsig  chan struct{} // (1) an answer was queued
	wstop chan struct{} // closed by serve once every request has its answer queued
	wdone chan struct{} // closed when writeLoop ends

	heldMu   sync.Mutex // guards held
	heldCond *sync.Cond // signalled when held drops
	held     int        // bytes of the requests whose handlers run (MaxHeldBytes)
}

// requestSize is what a request holds in memory while its handler runs.
func requestSize(req *remoting.Command) int {
	n := len(req.Body) + len(req.Remark) + 64
	for k, v := range req.ExtFields {
		n += len(k) + len(v) + 16
	}
	return n
}

// hold waits until n more bytes fit under MaxHeldBytes (or nothing is
// held: one request over the bound runs alone), then counts them.
func (c *conn) hold(n int) {
	c.heldMu.Lock()
	for c.held > 0 && c.held+n > c.srv.opts.MaxHeldBytes && c.srv.ctx.Err() == nil {
		c.heldCond.Wait()
	}
	c.held += n
	c.heldMu.Unlock()
}

func (c *conn) release(n int) {
	c.heldMu.Lock()
	c.held -= n
	c.heldMu.Unlock()
	c.heldCond.Broadcast()
}

// serve reads requests until the stream ends or fails, then waits for the
// handlers it started and closes the connection.
func (c *conn) serve() {
	defer c.srv.wg.Done()
	var handlers sync.WaitGroup
	defer func() {
		handlers.Wait() // every answer written (or dropped after a write error)
		close(c.wstop)
		<-c.wdone
		c.nc.Close()
		c.srv.mu.Lock()
		delete(c.srv.conns, c)
		c.srv.mu.Unlock()
		if c.srv.opts.OnClose != nil {
			c.srv.opts.OnClose(c.nc.RemoteAddr())
		}
	}()
	rd := remoting.NewReader(bufio.NewReader(c.nc), c.srv.opts.MaxFrameSize)
	for {
		// The idle bound: a whole frame within IdleTimeout. Set before the
		// closed check, so Close's stopReading (after it sets closed) wins.
		c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.IdleTimeout))
		if c.srv.isClosed() {
			return
		}
		req, err := rd.ReadCommand()
		if err != nil {
			c.readFailed(err)
			return
		}
		if req.IsResponse() {
			continue // nothing of ours asked: a server sends no requests
		}
		select {
		case c.slots <- struct{}{}:
		case <-c.srv.ctx.Done():
			return
		}
		if c.srv.opts.Bodyless != nil && c.srv.opts.Bodyless(req.Code) {
			req.Body = nil
		}
		size := requestSize(req)
		c.hold(size)
		handlers.Add(1)
		release := func() { // once the answer is written: the request's bounds
			c.release(size)
			<-c.slots
			handlers.Done()
		}
		c.srv.run(func() { c.handle(req, release) })
	}
}

// stopReading unblocks the reader; answers can still be written.
func (c *conn) stopReading() { c.nc.SetReadDeadline(time.Unix(1, 0)) }

// readFailed logs why reading ended, unless it ended as streams end.
func (c *conn) readFailed(err error) {
	if err == io.EOF || c.srv.isClosed() || errors.Is(err, net.ErrClosed) {
		return
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.srv.opts.Logger.Debug("remoting: closing an idle connection", "peer", c.nc.RemoteAddr().String(),
			"idle", c.srv.opts.IdleTimeout.String())
		return
	}
	if !isRemotingError(err) && errors.Is(err, io.ErrUnexpectedEOF) {
		return
	}
	c.srv.opts.Logger.Warn("remoting: closing connection", "peer", c.nc.RemoteAddr().String(), "err", err)
}

// isRemotingError reports whether err is the peer's fault: a frame or
// header the codec refused.
func isRemotingError(err error) bool {
	for _, e := range []error{remoting.ErrFrameLength, remoting.ErrFrameTooLarge, remoting.ErrHeaderLength,
		remoting.ErrSerializeType, remoting.ErrBadJSON, remoting.ErrTruncated, remoting.ErrBadHeader,
		remoting.ErrHeaderTooLarge, remoting.ErrTooManyExtFields} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// handle runs the handler and queues its answer, unless the request is
// oneway or the handler has none; release runs once the answer is
// written (or at once without one).
func (c *conn) handle(req *remoting.Command, release func()) {
	resp := c.srv.handler(c.ctx, req)
	if resp == nil || req.IsOneway() {
		release()
		return
	}
	resp.Opaque = req.Opaque
	resp.Flag |= remoting.FlagResponse
	resp.Serialize = req.Serialize
	frame, err := resp.AppendFrame(nil)
	if err != nil {
		frame, _ = remoting.NewResponse(req, remoting.SystemError, "rpc: answer not encodable: "+err.Error()).AppendFrame(nil)
	}
	c.write(frame, release)
}

// answer is a frame waiting for writeLoop, and what to do once written.
type answer struct {
	frame   []byte
	release func()
}

// write queues one whole frame for writeLoop; after a write error nothing
// more is written (release runs at once).
func (c *conn) write(frame []byte, release func()) {
	c.wmu.Lock()
	if c.werr != nil {
		c.wmu.Unlock()
		release()
		return
	}
	c.wq = append(c.wq, answer{frame, release})
	c.wmu.Unlock()
	select {
	case c.wsig <- struct{}{}:
	default:
	}
}

// writeLoop writes the queued answers, all that are queued in one writev
// (under load the answers of one group commit leave in one system call,
// not one each), each within WriteTimeout of the write's start; a peer
// that does not read loses its connection. It ends once serve says every
// answer is queued and they are written.
func (c *conn) writeLoop() {
	defer c.srv.wg.Done()
	defer close(c.wdone)
	var q []answer
	var bufs net.Buffers
	for {
		stop := false
		select {
		case <-c.wsig:
		case <-c.wstop:
			stop = true
		}
		c.wmu.Lock()
		q, c.wq = c.wq, q[:0]
		werr := c.werr
		c.wmu.Unlock()
		if len(q) > 0 && werr == nil {
			bufs = bufs[:0]
			for _, a := range q {
				bufs = append(bufs, a.frame)
			}
			c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
			w := bufs // WriteTo consumes its receiver
			if _, err := w.WriteTo(c.nc); err != nil {
				c.wmu.Lock()
				c.werr = err
				c.wmu.Unlock()
				c.srv.opts.Logger.Warn("remoting: closing connection: writing an answer", "peer", c.nc.RemoteAddr().String(), "err", err)
				c.nc.Close()
			}
		}
		for i, a := range q {
			a.release()
			q[i] = answer{} // the frame is garbage now
		}
		if stop {
			return
		}
	}
}
