package netfault

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqlog/rmqlog/replication/wire"
)

// Defaults of the Options left zero.
const (
	DefaultReorderWindow = 10 * time.Millisecond
	DefaultDialTimeout   = time.Second
)

// Options configure a Net; every field is optional.
type Options struct {
	// Seed seeds every fault decision; 0 picks a random seed, which
	// Net.Seed reports (log it to replay a campaign).
	Seed uint64
	// Logger receives connection events and fault changes; default
	// slog.Default().
	Logger *slog.Logger
	// MaxFrame bounds a frame, length prefix included; a longer one closes
	// its connection. Default wire.DefaultMaxFrame, the nodes' own default.
	MaxFrame int
	// ReorderWindow is how long a frame held for reordering waits for the
	// next frame of its direction before it is written alone. Default
	// DefaultReorderWindow.
	ReorderWindow time.Duration
	// DialTimeout bounds the dial of a node's real address for each
	// accepted connection; default DefaultDialTimeout.
	DialTimeout time.Duration
}

// ErrConfig wraps New's errors about its arguments.
var ErrConfig = errors.New("netfault: bad config")

// Net is a set of proxy links between the peer ports of a group's nodes:
// one listener on 127.0.0.1 per ordered pair of nodes. Its methods are safe
// for concurrent use. Create it with New, stop it with Close.
type Net struct {
	peers    map[string]string // node id -> real peer address; read-only after New
	ids      []string          // sorted node ids; read-only after New
	opts     Options           // defaults filled; read-only after New
	log      *slog.Logger
	links    map[Link]net.Listener // read-only after New
	counters map[Link]*counters    // every ordered pair; read-only after New

	policy   atomic.Pointer[policy] // the cuts and faults in force
	policyMu sync.Mutex             // serializes policy updates

	wg   sync.WaitGroup // accept loops and proxied connections
	done chan struct{}  // closed by Close: ends the accept loops' retry waits

	mu     sync.Mutex
	closed bool            // guarded by mu
	conns  map[*pair]bool  // guarded by mu: proxied connections still open
	seq    map[Link]uint64 // guarded by mu: connections accepted per link, to seed each
}

// New starts a listener on 127.0.0.1 for every ordered pair of distinct
// nodes in peers (node id -> the node's real peer listen address) and
// returns the Net forwarding them. On error nothing is left open.
func New(peers map[string]string, opts Options) (*Net, error) {
	if len(peers) < 2 {
		return nil, fmt.Errorf("%w: %d nodes, a link needs two", ErrConfig, len(peers))
	}
	n := &Net{
		peers: map[string]string{}, opts: opts.withDefaults(),
		links: map[Link]net.Listener{}, counters: map[Link]*counters{},
		conns: map[*pair]bool{}, seq: map[Link]uint64{}, done: make(chan struct{}),
	}
	for id, addr := range peers {
		if _, _, err := net.SplitHostPort(addr); err != nil || id == "" {
			return nil, fmt.Errorf("%w: node %q at %q: want a non-empty id and host:port", ErrConfig, id, addr)
		}
		n.peers[id] = addr
		n.ids = append(n.ids, id)
	}
	slices.Sort(n.ids)
	n.log = n.opts.Logger
	n.policy.Store(&policy{})
	if err := n.listen(); err != nil {
		return nil, err
	}
	n.log.Info("netfault: started", "nodes", n.ids, "seed", n.opts.Seed)
	for l, ln := range n.links {
		n.wg.Add(1)
		go n.acceptLoop(l, ln)
	}
	return n, nil
}

func (o Options) withDefaults() Options {
	if o.Seed == 0 {
		o.Seed = rand.Uint64() | 1
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = wire.DefaultMaxFrame
	}
	if o.ReorderWindow <= 0 {
		o.ReorderWindow = DefaultReorderWindow
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	return o
}

// listen opens every link's listener, closing them all on failure.
func (n *Net) listen() error {
	for _, from := range n.ids {
		for _, to := range n.ids {
			if from == to {
				continue
			}
			l := Link{from, to}
			n.counters[l] = &counters{}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				n.closeListeners()
				return fmt.Errorf("netfault: listen for link %v: %w", l, err)
			}
			n.links[l] = ln
		}
	}
	return nil
}

func (n *Net) closeListeners() {
	for _, ln := range n.links {
		ln.Close()
	}
}

// Seed is the seed of the Net's fault decisions (Options.Seed, or the one
// picked for it).
func (n *Net) Seed() uint64 { return n.opts.Seed }

// Addr is the address node from must dial to reach node to (its peer list
// entry for to), or "" if from == to or either is not a node of the Net.
func (n *Net) Addr(from, to string) string {
	if ln := n.links[Link{from, to}]; ln != nil {
		return ln.Addr().String()
	}
	return ""
}

// Peers returns node from's peer list through the Net: Addr(from, id) for
// every other node, and from's own real address.
func (n *Net) Peers(from string) map[string]string {
	n.mustKnow(from)
	m := make(map[string]string, len(n.ids))
	for _, id := range n.ids {
		m[id] = n.Addr(from, id)
	}
	m[from] = n.peers[from]
	return m
}

// acceptLoop accepts the connections of link l until Close.
func (n *Net) acceptLoop(l Link, ln net.Listener) {
	defer n.wg.Done()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err == nil {
			delay = 0
			n.counters[l].connections.Add(1)
			n.start(l, c)
			continue
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
		delay = min(max(2*delay, acceptRetryMin), acceptRetryMax)
		n.log.Warn("netfault: accept failed", "link", l.String(), "err", err, "retry_in", delay)
		select {
		case <-n.done:
			return
		case <-time.After(delay):
		}
	}
}

// Accept retry delays after an error other than the listener's closing
// (e.g. out of file descriptors).
const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = time.Second
)

// start registers the proxied connection of c and runs it, unless Close
// has begun.
func (n *Net) start(l Link, c net.Conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		c.Close()
		return
	}
	n.seq[l]++
	p := newPair(n, l, c, n.seq[l])
	n.conns[p] = true
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		p.run()
		n.mu.Lock()
		delete(n.conns, p)
		n.mu.Unlock()
	}()
}

// rng returns the random source of one direction of one connection: a
// function of the seed, the direction and the connection's number only.
func (n *Net) rng(dir Link, conn uint64) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%d", dir.From, dir.To, conn)
	return rand.New(rand.NewPCG(n.opts.Seed, h.Sum64()))
}

// Close closes every listener and every proxied connection, and waits for
// the Net's goroutines. Later calls return nil.
func (n *Net) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		n.wg.Wait()
		return nil
	}
	n.closed = true
	ps := make([]*pair, 0, len(n.conns))
	for p := range n.conns {
		ps = append(ps, p)
	}
	n.mu.Unlock()
	close(n.done)
	n.closeListeners()
	for _, p := range ps {
		p.abort()
	}
	n.wg.Wait()
	return nil
}
