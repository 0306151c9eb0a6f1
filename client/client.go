package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
)

// Client talks to the members of one rmqlog group through their client
// ports: appends and transfers go to the leader, reads to the node it is
// connected to (the leader unless WithPinned). All its methods are safe
// for concurrent use; every goroutine shares one connection, on which
// requests are pipelined.
type Client struct {
	opts options
	life context.Context    // canceled by Close: ends searches and backoffs
	kill context.CancelFunc // cancels life
	ids  atomic.Uint64      // the last request id used (ids start at 1; 0 is the node's)
	wg   sync.WaitGroup     // every connection's reader and writer

	mu      sync.Mutex         // guards the fields below
	addrs   []string           // known client addresses: Dial's, then learned ones
	cur     *conn              // the connection requests go to; nil if none
	conns   map[*conn]struct{} // every live connection (cur, retiring, probing)
	finding *search            // the search for a node in progress, if any
	closed  bool
}

// Option configures a Client.
type Option func(*options)

type options struct {
	tls          *tls.Config // nil: plain TCP
	pinned       bool
	maxFrame     int
	dialTimeout  time.Duration
	retryTimeout time.Duration
	failFast     bool
	log          *slog.Logger
}

// WithFailFast makes Dial return at once, with ErrRefused, when nothing
// listens at any of the addresses (every connection refused), instead of
// retrying until its context ends as it does during a failover. For admin
// tools, where a refused connection is a wrong address or a stopped node.
func WithFailFast() Option { return func(o *options) { o.failFast = true } }

// WithPinned makes the client talk only to addrs[0], whatever its role:
// no redirect, no automatic retry (a lost connection is redialed by the
// next call). For admin tools and per-node reads; Append on a follower
// returns a *NotLeaderError.
func WithPinned() Option { return func(o *options) { o.pinned = true } }

// WithMaxFrame sets the largest response frame accepted, header included
// (default 64 MiB + 1 MiB). A larger response is a protocol error that
// closes its connection; size it to the largest Get or Range expected.
func WithMaxFrame(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxFrame = max(n, proto.HeaderSize)
		}
	}
}

// WithDialTimeout bounds each dial and its first Meta request (default 2s).
func WithDialTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.dialTimeout = d
		}
	}
}

// WithRetryTimeout bounds Dial, and the retries of a call, when their
// context has no deadline (default 30s). The retries of a call start at
// its first failure.
func WithRetryTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.retryTimeout = d
		}
	}
}

// WithLogger logs connections, redirects and retries (at Info and Debug);
// by default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// Dial returns a Client of the group whose members' client addresses
// ("host:port") include addrs. It asks the reachable ones for their Meta
// and follows their leader addresses to the leader; it connects to a
// follower if no node leads (an election: the first append finds the
// leader). It fails when ctx ends (or WithRetryTimeout passes, if ctx has
// no deadline) with no node reachable, and at once when every node refused
// this client's setup (a TLS handshake failed on a certificate, or a node
// requires TLS this client does not use); the error names every address
// tried and why it failed. Options attached to ctx by ContextWithOptions
// apply before opts.
func Dial(ctx context.Context, addrs []string, opts ...Option) (*Client, error) {
	if len(addrs) == 0 {
		return nil, errors.New("client: Dial needs at least one address")
	}
	c := &Client{conns: map[*conn]struct{}{}, addrs: append([]string(nil), addrs...),
		opts: options{maxFrame: 64<<20 + 1<<20, dialTimeout: 2 * time.Second, retryTimeout: 30 * time.Second,
			log: slog.New(slog.DiscardHandler)}}
	for _, o := range append(contextOptions(ctx), opts...) {
		o(&c.opts)
	}
	c.life, c.kill = context.WithCancel(context.Background())
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.retryTimeout)
		defer cancel()
	}
	var bo backoff
	var last error // the last search that asked a node: its reasons are the ones to report
	for {
		_, err := c.search(ctx, nil, "")
		if err == nil {
			return c, nil
		}
		se, ok := err.(*searchError)
		if last == nil || !ok || se.tried {
			last = err
		}
		switch {
		case ok && se.setup:
			c.Close()
			return nil, err // it names every address and why it refused
		case ok && se.refused && c.opts.failFast:
			c.Close()
			return nil, fmt.Errorf("%w by %s: nothing listens there; is the node running, and is this its client port (rmqlogClientPort, by default listenPort+2)?",
				ErrRefused, strings.Join(addrs, ", "))
		}
		werr := bo.wait(ctx, c.life)
		if werr == nil {
			werr = ctx.Err() // the wait ended with the deadline: do not start a search that cannot ask anyone
		}
		if werr != nil {
			c.Close()
			// The cause first: "context deadline exceeded" says only when.
			return nil, fmt.Errorf("client: dial %s: %w (gave up: %w)", strings.Join(addrs, ","), last, werr)
		}
	}
}

// Addr returns the address of the node the client is connected to now,
// "" if none.
func (c *Client) Addr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || c.cur.gone.Load() {
		return ""
	}
	return c.cur.addr
}

// Close closes every connection, fails every pending call with ErrClosed
// and waits for the client's goroutines. Calls after Close return
// ErrClosed. Close is idempotent and always returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conns := make([]*conn, 0, len(c.conns))
	for cn := range c.conns {
		conns = append(conns, cn)
	}
	c.mu.Unlock()
	c.kill()
	for _, cn := range conns {
		cn.fail(ErrClosed, 0)
	}
	c.wg.Wait()
	return nil
}

// Append appends payload as one entry and returns its index once the
// entry is committed. It retries (see the package doc) until ctx ends;
// ctx's error, wrapped with what was pending, says the outcome is
// unknown. payload is only read, and not kept after Append returns.
func (c *Client) Append(ctx context.Context, payload []byte) (uint64, error) {
	o := opPool.Get().(*op)
	o.typ, o.one[0] = proto.TypeAppend, payload
	o.payloads = o.one[:]
	index, err := c.append(ctx, o)
	*o = op{}
	opPool.Put(o)
	return index, err
}

// opPool holds the ops of single appends: an op on the stack would escape
// (its fields reach errors and logs), one per Append.
var opPool = sync.Pool{New: func() any { return new(op) }}

// AppendBatch appends payloads as consecutive entries in one request and
// returns the index of the first once all are committed (they commit
// together). At most 65536 payloads, and the frame must fit the node's
// limit (maxMessageSize + 1 MiB); an empty batch is ErrBadRequest.
func (c *Client) AppendBatch(ctx context.Context, payloads [][]byte) (uint64, error) {
	return c.append(ctx, &op{typ: proto.TypeAppend, payloads: payloads})
}

func (c *Client) append(ctx context.Context, o *op) (uint64, error) {
	cl, err := c.run(ctx, o)
	if err != nil {
		return 0, err
	}
	first := cl.first
	cl.free()
	return first, nil
}

// Get returns the payload of the committed message at index, a copy the
// caller owns. An entry that is not a message (a leader's no-op, or a
// reserved type) is ErrNoop: skip it. An index not committed on this
// node, or deleted by retention, is ErrNotFound with the node's message.
func (c *Client) Get(ctx context.Context, index uint64) ([]byte, error) {
	o := op{typ: proto.TypeGet, index: index}
	cl, err := c.run(ctx, &o)
	if err != nil {
		return nil, err
	}
	e := cl.entry
	cl.free()
	switch e.Type {
	case proto.EntryMessage:
		return e.Payload, nil
	case proto.EntryNoop:
		return nil, fmt.Errorf("%w: entry %d is a leader's no-op (term %d)", ErrNoop, index, e.Term)
	}
	return nil, fmt.Errorf("%w: entry %d is of type %d (reserved: membership)", ErrNoop, index, e.Type)
}

// Range returns committed entries from index from, no-ops included, at
// most maxCount of them (0: the node's default, 1024; at most 65536) and about 1 MiB of
// payload (at least one entry if from is committed). It returns no entries
// if from is beyond the commit index, and ErrNotFound if retention deleted
// from (the message names the first index). The payloads belong to the
// caller.
//
// Every entry Range returns is committed and final, but where the answer
// ends is the answering node's commit index, which on a follower or on a
// leader that was just deposed may lag the group's: Range is not a
// linearizable read of the log's end (a consumer's pull, not a fence). To
// know whether an index is committed now, use Get: it answers "not
// committed" only after confirming its leadership (docs/durability.md).
func (c *Client) Range(ctx context.Context, from uint64, maxCount int) ([]proto.Entry, error) {
	o := op{typ: proto.TypeRange, index: from, maxCount: uint32(min(max(maxCount, 0), maxRange))}
	cl, err := c.run(ctx, &o)
	if err != nil {
		return nil, err
	}
	es := cl.entries
	cl.free()
	return es, nil
}

// Meta returns the Meta of the node the client is connected to now (after
// a reconnection: the node it found).
func (c *Client) Meta(ctx context.Context) (proto.Meta, error) {
	cl, err := c.run(ctx, &op{typ: proto.TypeMeta})
	if err != nil {
		return proto.Meta{}, err
	}
	m := cl.meta
	cl.free()
	return m, nil
}

// Status returns the full status of the node the client is connected to,
// the node's JSON document as is; the caller owns the bytes.
func (c *Client) Status(ctx context.Context) ([]byte, error) {
	cl, err := c.run(ctx, &op{typ: proto.TypeStatus})
	if err != nil {
		return nil, err
	}
	b := cl.body
	cl.free()
	return b, nil
}

// Transfer asks the leader to hand its leadership to the member with id
// to, and returns nil once to leads. A transfer that does not complete is
// ErrTransfer. Appends then find the new leader by redirect.
func (c *Client) Transfer(ctx context.Context, to string) error {
	cl, err := c.run(ctx, &op{typ: proto.TypeTransfer, target: to})
	if err != nil {
		return err
	}
	cl.free()
	return nil
}

// Future is an append in flight, from AppendAsync. Its methods are safe
// for concurrent use.
type Future struct {
	c *Client

	mu    sync.Mutex // serializes Wait; guards the fields below
	op    op
	done  bool // index and err are final
	index uint64
	err   error
}

// AppendAsync sends payload as one entry on the current connection (or,
// with none, leaves the sending to Wait) and returns at once. Appends sent
// by AppendAsync are pipelined: many may be in flight on the connection;
// the node appends them in the order sent. The payload must not change
// until Wait returns a final outcome. The client does not bound the
// appends in flight: bound them with the Futures not yet waited for.
func (c *Client) AppendAsync(payload []byte) *Future {
	f := &Future{c: c, op: op{typ: proto.TypeAppend}}
	f.op.one[0] = payload
	f.op.payloads = f.op.one[:]
	c.sendAsync(f)
	return f
}

// AppendBatchAsync is AppendBatch without the wait: it sends payloads as
// one request, pipelined as AppendAsync's are, and returns at once; Wait
// returns the index of the first entry once all are committed. A producer
// that pipelines pays per request (a frame, an answer, a call), so
// batches cost it, and the node, less per entry than single appends. The
// payloads must not change until Wait returns a final outcome.
func (c *Client) AppendBatchAsync(payloads [][]byte) *Future {
	f := &Future{c: c, op: op{typ: proto.TypeAppend, payloads: payloads}}
	c.sendAsync(f)
	return f
}

// sendAsync sends f's op on the current connection, or with none leaves
// the sending to Wait.
func (c *Client) sendAsync(f *Future) {
	c.mu.Lock()
	cn, closed := c.cur, c.closed
	c.mu.Unlock()
	switch {
	case closed:
		f.done, f.err = true, fmt.Errorf("%w: %s", ErrClosed, f.op.String())
	case cn != nil && !cn.gone.Load():
		cl, err := cn.send(&f.op, c.ids.Add(1))
		if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrBadRequest) {
			f.done, f.err = true, err
		}
		f.op.call, f.op.cn = cl, cn
	}
}

// Wait returns the index of the entry once it is committed, retrying
// within ctx as Append does. After ctx's error Wait may be called again:
// it keeps waiting for the same request. Any other outcome is final and
// returned by every later Wait.
func (f *Future) Wait(ctx context.Context) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return f.index, f.err
	}
	cl, err := f.c.run(ctx, &f.op)
	if err != nil {
		if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
			f.done, f.err = true, err
		}
		return 0, err
	}
	f.done, f.index = true, cl.first
	cl.free()
	return f.index, nil
}

// register tracks a new connection, or refuses it after Close.
func (c *Client) register(addr string, nc net.Conn) (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		nc.Close()
		return nil, ErrClosed
	}
	cn := startConn(addr, nc, c.opts.maxFrame, c.forget, func(f func()) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			f()
		}()
	})
	c.conns[cn] = struct{}{}
	return cn, nil
}

// forget drops a dead connection.
func (c *Client) forget(cn *conn) {
	c.mu.Lock()
	delete(c.conns, cn)
	if c.cur == cn {
		c.cur = nil
	}
	c.mu.Unlock()
	level := slog.LevelInfo
	if cn.err == errRetired || cn.err == ErrClosed {
		level = slog.LevelDebug
	}
	c.opts.log.Log(context.Background(), level, "client: connection closed", "addr", cn.addr, "err", cn.err)
}
