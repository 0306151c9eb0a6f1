package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/pki"
)

// Defaults of Config fields left zero.
const (
	DefaultMaxConnections = 1024
	DefaultMaxInflight    = 1024
	DefaultRetentionCheck = time.Minute
	// MaxBatch bounds the payloads of one append request.
	MaxBatch = 65536
	// frameSlack is what a request frame may carry beyond one maximal
	// payload: headers and the lengths of a batch.
	frameSlack = 1 << 20
)

// Config configures a Server.
type Config struct {
	// Engine configures the node. Engine.ClientAddr defaults to the client
	// listener's address; Engine.MaxEntrySize is maxMessageSize.
	Engine engine.Config
	// ClientAddr is where the client port listens ("host:port",
	// rmqlogClientPort), unless ClientListener is set.
	ClientAddr     string
	ClientListener net.Listener // tests; the server closes it
	// Broker, if set, runs a RocketMQ broker on the node (package broker):
	// created before the node opens, its hooks (Stamp, OnRoleChange)
	// installed in Engine, attached once the node is open, and closed
	// before it. Its Engine field is ignored; Logger defaults to Logger.
	Broker *broker.Config
	// RemotingAddr is where the broker serves RocketMQ's remoting protocol
	// ("host:port", listenPort), unless RemotingListener is set. Only with
	// Broker.
	RemotingAddr     string
	RemotingListener net.Listener // tests; the broker closes it
	// MetricsAddr serves Prometheus metrics at /metrics; "" disables it.
	MetricsAddr string
	// Pprof also serves Go's profiler (net/http/pprof) at /debug/pprof/ on
	// the metrics endpoint (metricsPprof). Off by default: profiles show the
	// process's internals and cost CPU while they run.
	Pprof          bool
	MaxConnections int // client connections; default 1024
	MaxInflight    int // requests read but not yet answered, per connection; default 1024
	// FileReserved is fileReservedTime: log files older than this are
	// deleted (all but the newest). 0 keeps everything.
	FileReserved   time.Duration
	RetentionCheck time.Duration // how often retention runs; default 1 minute
	Logger         *slog.Logger  // default slog.Default()
	// PeerTLS, if set, secures the peer links with mutual TLS
	// (tlsPeerEnable): its certificate must be Engine.ID's node
	// certificate, and peers' certificates must chain to its Roots.
	PeerTLS *pki.Creds
	// ClientTLS, if set, serves the client port over TLS 1.3 only
	// (tlsClientEnable): with its certificate, to clients that present a
	// certificate chaining to its Roots (tlsClientCaFile).
	ClientTLS *pki.Creds
}

// Server is a running node with its client port.
type Server struct {
	cfg        Config
	node       *engine.Node
	ln         net.Listener
	tls        *tls.Config // the client port's, nil without ClientTLS
	log        *slog.Logger
	maxFrame   int // client frame limit: maxEntry + frameSlack
	maxEntry   int // maxMessageSize
	maxPending int // the engine's MaxPendingBytes
	metrics    *metrics
	httpSrv    *http.Server
	broker     *broker.Broker // nil without Config.Broker
	brokerLn   net.Listener   // the remoting listener, handed to broker.Start
	// metricsLn is the metrics endpoint's listener (nil when off), bound
	// in Start before the node opens, served once it is open.
	metricsLn net.Listener
	// ready is set once node is open (node is written before it): until
	// then requests are answered as "starting" (see Start).
	ready atomic.Bool
	began time.Time // when Start began

	// hardCtx ends when the server must stop waiting for commits (Close,
	// or Shutdown's deadline).
	hardCtx    context.Context
	hardCancel context.CancelFunc

	framesRead atomic.Uint64 // requests read and taken into their connection's budget (tests)

	wg      sync.WaitGroup // accept loop, retention loop, metrics server
	connsWG sync.WaitGroup // every connection's goroutines

	mu          sync.Mutex
	closing     bool                  // guarded by mu: no new connections
	conns       map[*conn]struct{}    // guarded by mu
	handshaking map[net.Conn]struct{} // guarded by mu: client connections in their TLS handshake
	stop        chan struct{}         // closed when closing starts
	closed      bool                  // guarded by mu: the node was closed
}

// Start opens the node and starts serving. On error nothing keeps running.
//
// It binds every port first (peer, client, remoting, metrics), so that a
// port in use fails at once and before any file is allocated, then serves
// the client port while the node opens its log (which can take seconds: a
// 1 GiB segment is zero-filled on first start): status requests are
// answered with role "starting", everything else as "not the leader, none
// known yet", so clients retry. The remoting port is served once the node
// is open (connections wait in the listen backlog until then).
func Start(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, conns: make(map[*conn]struct{}), stop: make(chan struct{}),
		handshaking: make(map[net.Conn]struct{}), began: time.Now()}
	s.hardCtx, s.hardCancel = context.WithCancel(context.Background())
	ecfg := cfg.Engine
	peerLn, err := listenPeers(cfg)
	if err != nil {
		return nil, err
	}
	ecfg.Listener = peerLn
	if err := s.listenAll(); err != nil {
		closeListener(peerLn)
		return nil, err
	}
	if cfg.ClientTLS != nil {
		s.tls = pki.ServerConfig(*cfg.ClientTLS)
	}
	s.prepareEngine(&ecfg)
	s.wg.Add(1)
	go s.acceptLoop() // answers "starting" until the node is open
	s.log.Info("client port listening; opening the node", "addr", s.ln.Addr().String(), "max_frame", s.maxFrame,
		"tls", cfg.ClientTLS != nil, "peer_tls", cfg.PeerTLS != nil)
	if err := s.newBroker(&ecfg); err != nil {
		s.abortStart()
		closeListener(peerLn)
		return nil, err
	}
	node, err := engine.Open(ecfg)
	if err != nil {
		s.abortStart()
		closeListener(peerLn)
		return nil, err
	}
	s.node = node
	if err := s.startBroker(); err != nil {
		node.Close()
		s.abortStart()
		return nil, err
	}
	s.ready.Store(true)
	s.serveMetrics()
	s.wg.Add(1)
	go s.retentionLoop()
	s.log.Info("node open", "took", time.Since(s.began).Round(time.Millisecond).String())
	return s, nil
}

// listenAll binds the client, remoting and metrics ports; on error none
// stays bound.
func (s *Server) listenAll() error {
	ln, err := s.listen()
	if err != nil {
		return err
	}
	s.ln = ln
	if s.brokerLn, err = s.listenRemoting(); err != nil {
		ln.Close()
		return err
	}
	if s.metricsLn, err = s.listenMetrics(); err != nil {
		ln.Close()
		closeListener(s.brokerLn)
		return err
	}
	return nil
}

// prepareEngine fills the engine config's defaults and hooks of the
// server's own, and the server's frame limits.
func (s *Server) prepareEngine(ecfg *engine.Config) {
	if ecfg.ClientAddr == "" {
		ecfg.ClientAddr = s.ln.Addr().String()
	}
	if ecfg.MaxEntrySize == 0 {
		ecfg.MaxEntrySize = 4 << 20
	}
	if ecfg.MaxPendingBytes == 0 {
		ecfg.MaxPendingBytes = 64 << 20 // the engine's default, set here so that both know it
	}
	s.maxEntry, s.maxPending = ecfg.MaxEntrySize, ecfg.MaxPendingBytes
	s.maxFrame = ecfg.MaxEntrySize + frameSlack
	s.metrics = newMetrics(s)
	ecfg.OnSync = s.metrics.observeSync
	ecfg.Logger = s.cfg.Logger
}

// abortStart stops what Start started before the node failed to open.
func (s *Server) abortStart() {
	s.beginClose()
	s.hardCancel()
	s.closeConns()
	s.connsWG.Wait()
	closeListener(s.metricsLn)
	closeListener(s.brokerLn)
	if s.broker != nil {
		s.broker.Close()
	}
	s.wg.Wait()
}

func (c Config) withDefaults() Config {
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.RetentionCheck == 0 {
		c.RetentionCheck = DefaultRetentionCheck
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (s *Server) listen() (net.Listener, error) {
	if s.cfg.ClientListener != nil {
		return s.cfg.ClientListener, nil
	}
	ln, err := net.Listen("tcp", s.cfg.ClientAddr)
	if err != nil {
		return nil, fmt.Errorf("server: client port (rmqlogClientPort) %s: %w", s.cfg.ClientAddr, err)
	}
	return ln, nil
}

// Node is the server's engine node.
func (s *Server) Node() *engine.Node { return s.node }

// Addr is the client port's address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// MetricsAddr is the metrics endpoint's address, or nil when it is off.
func (s *Server) MetricsAddr() net.Addr {
	if s.metrics.ln == nil {
		return nil
	}
	return s.metrics.ln.Addr()
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.isClosing() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("client port: accept failed", "err", err)
			select {
			case <-time.After(50 * time.Millisecond):
			case <-s.stop:
				return
			}
			continue
		}
		if s.tls != nil {
			s.startHandshake(nc)
			continue
		}
		s.admit(nc)
	}
}

// admit starts serving nc, or refuses it when the server is at
// MaxConnections or closing.
func (s *Server) admit(nc net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		refuse(nc, proto.CodeClosing, "the node is shutting down")
		return
	case len(s.conns) >= s.cfg.MaxConnections:
		s.log.Warn("client port: refusing a connection: too many connections (clientMaxConnections)",
			"addr", nc.RemoteAddr().String(), "limit", s.cfg.MaxConnections)
		refuse(nc, proto.CodeOverload, fmt.Sprintf("too many connections: the limit (clientMaxConnections) is %d", s.cfg.MaxConnections))
		return
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.metrics.conns.Inc()
	s.connsWG.Add(2)
	go c.readLoop()
	go c.writeLoop()
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.metrics.conns.Dec()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) retentionLoop() {
	defer s.wg.Done()
	if s.cfg.FileReserved <= 0 {
		return
	}
	t := time.NewTicker(s.cfg.RetentionCheck)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			before := s.node.Status().First
			first, err := s.node.Retain(now, s.cfg.FileReserved, 0)
			switch {
			case err != nil && !errors.Is(err, engine.ErrClosed):
				s.log.Warn("retention failed", "err", err)
			case err == nil && first > before:
				s.log.Info("retention deleted old log files", "first_index", first, "was", before,
					"fileReservedTime", s.cfg.FileReserved.String())
			}
		}
	}
}

// Shutdown stops the server gracefully: no new connections or requests,
// every request already read is answered (appends once committed), then
// leadership moves to another member if this node leads, and the node
// closes. When ctx ends first, the rest happens at once as in Close.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.beginClose() {
		return nil
	}
	stop := context.AfterFunc(ctx, func() {
		s.hardCancel()
		s.closeConns() // a client that does not read must not hold the shutdown
	})
	defer stop()
	s.mu.Lock()
	for c := range s.conns {
		c.stopReading()
	}
	s.mu.Unlock()
	s.connsWG.Wait()
	s.handOff(ctx)
	return s.finish()
}

// Close stops at once: connections are closed, appends waiting for their
// commit are answered with CodeUnknown (the client retries), the node closes.
func (s *Server) Close() error {
	if !s.beginClose() {
		return nil
	}
	s.hardCancel()
	s.closeConns()
	s.connsWG.Wait()
	return s.finish()
}

func (s *Server) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.nc.Close()
	}
}

// beginClose marks the server closing; false if it already was.
func (s *Server) beginClose() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.closing = true
	close(s.stop)
	s.ln.Close()
	for c := range s.handshaking {
		c.Close()
	}
	return true
}

// handOff transfers leadership to the most up-to-date follower, so that the
// group elects no one and clients are redirected at once.
func (s *Server) handOff(ctx context.Context) {
	st := s.node.Status()
	if st.Role != engine.Leader {
		return
	}
	var best *engine.FollowerStatus
	for i, f := range st.Followers {
		if f.Learner || f.Retiring {
			continue // only a voter can lead
		}
		if best == nil || f.Match > best.Match {
			best = &st.Followers[i]
		}
	}
	if best == nil {
		return
	}
	tctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := s.node.TransferLeadership(tctx, best.ID); err != nil {
		s.log.Info("shutdown: leadership hand-off failed; the group will elect a leader", "to", best.ID, "err", err)
		return
	}
	s.log.Info("shutdown: handed leadership off", "to", best.ID)
}

// finish closes the broker (its remoting connections, applier and
// registration; what it applied made durable), then the node, metrics and
// the server's loops.
func (s *Server) finish() error {
	var berr error
	if s.broker != nil {
		berr = s.broker.Close()
	}
	err := errors.Join(s.node.Close(), berr)
	closeListener(s.metricsLn)
	s.hardCancel()
	if s.httpSrv != nil {
		s.httpSrv.Close()
	}
	s.wg.Wait()
	return err
}
