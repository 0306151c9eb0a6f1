package client

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/rmqlog/rmqlog/replication/wire"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/rmqlog/rmqlog/client/proto"
)

// errRetired is the death of a connection the client stopped using (it
// found another node) once its last pending call was answered.
var errRetired = errors.New("client: connection retired")

// conn is one connection to a node. Any goroutine may send on it; one
// writer goroutine writes the queued frames, as many as are queued in one
// writev, and one reader goroutine hands each response to the oldest
// pending call (the node answers in order; the id must match). The client
// owns both goroutines: they end when the connection dies (fail), which
// Client.Close causes for every connection.
type conn struct {
	addr     string
	nc       net.Conn
	maxFrame int
	onDead   func(*conn)   // called once, after the pending calls failed
	wake     chan struct{} // capacity 1: the queue has frames
	dead     chan struct{} // closed by fail
	gone     atomic.Bool   // failed or retired: takes no new calls
	maxMsg   atomic.Uint32 // the node's maxMessageSize from its last Meta (0: unknown)
	writable atomic.Bool   // the node led at its last Meta
	writes   atomic.Uint64 // writev calls, each of all the frames queued (benchmarks report frames per write)

	mu      sync.Mutex // guards the fields below
	queue   []*[]byte  // encoded frames not yet taken by the writer, in send order
	pending fifo       // calls sent or queued and not answered, in send order
	retired bool       // fail once pending is empty
	err     error      // why the connection died; sticky
}

// bufPool holds frame buffers; the writer returns them once written.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func putBuf(b *[]byte) {
	if cap(*b) <= 1<<20 {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

// startConn wraps nc and starts its goroutines with start (which tracks
// them for Client.Close).
func startConn(addr string, nc net.Conn, maxFrame int, onDead func(*conn), start func(func())) *conn {
	cn := &conn{addr: addr, nc: nc, maxFrame: maxFrame, onDead: onDead,
		wake: make(chan struct{}, 1), dead: make(chan struct{})}
	start(cn.readLoop)
	start(cn.writeLoop)
	return cn
}

// send queues o as a call with id on the connection and returns the call;
// the caller waits for its token. The error wraps ErrTooLarge or
// ErrBadRequest if the request cannot be sent to this node, or is a
// *connError if the connection no longer takes calls.
func (cn *conn) send(o *op, id uint64) (*call, error) {
	if err := o.check(cn.maxMsg.Load()); err != nil {
		return nil, fmt.Errorf("%w (node %s)", err, cn.addr)
	}
	bp := bufPool.Get().(*[]byte)
	*bp = o.encode((*bp)[:0], id)
	cl := newCall(o, id)
	cn.mu.Lock()
	if cn.err != nil || cn.retired {
		err := cn.err
		cn.mu.Unlock()
		putBuf(bp)
		cl.free()
		if err == nil {
			err = errRetired
		}
		return nil, &connError{addr: cn.addr, err: err}
	}
	cn.pending.push(cl)
	cn.queue = append(cn.queue, bp)
	cn.mu.Unlock()
	select {
	case cn.wake <- struct{}{}:
	default:
	}
	return cl, nil
}

// writeLoop writes the queued frames until the connection dies.
func (cn *conn) writeLoop() {
	var q []*[]byte
	var bufs, w net.Buffers // w: what WriteTo has left of bufs (heap-allocated once)
	for {
		select {
		case <-cn.wake:
		case <-cn.dead:
			return
		}
		cn.mu.Lock()
		q, cn.queue = cn.queue, q[:0]
		cn.mu.Unlock()
		for _, b := range q {
			bufs = append(bufs, *b)
		}
		w = bufs
		_, err := w.WriteTo(cn.nc)
		cn.writes.Add(1)
		clear(bufs)
		bufs = bufs[:0]
		for i, b := range q {
			putBuf(b)
			q[i] = nil
		}
		if err != nil {
			cn.fail(err, 0)
			return
		}
	}
}

// readLoop hands each response to its call until the connection dies.
func (cn *conn) readLoop() {
	br := bufio.NewReaderSize(cn.nc, 64<<10)
	hdr := make([]byte, proto.HeaderSize)
	if err := peerPort(br, cn.addr); err != nil {
		cn.fail(err, 0)
		return
	}
	for {
		h, body, inPlace, err := readAnswer(br, hdr, cn.maxFrame)
		switch {
		case errors.Is(err, proto.ErrTooLarge):
			err = fmt.Errorf("%w: %s sent a %v response (id %d) of %d bytes, over this client's limit of %d (WithMaxFrame)",
				ErrProtocol, cn.addr, h.Type, h.ID, h.Len, cn.maxFrame)
			cn.fail(err, h.ID)
			return
		case err != nil:
			cn.fail(readError(err), 0)
			return
		}
		if err := cn.deliver(h, body); err != nil {
			cn.fail(err, 0)
			return
		}
		br.Discard(inPlace)
	}
}

// readAnswer reads the next answer from br. An answer whose body deliver
// only decodes into values (an append's, or any error), and that br holds
// whole once its first bytes arrived, is decoded in place, without a body
// of its own: its body aliases br's buffer until the caller discards
// inPlace bytes, after deliver. Any other answer is read by ReadFrame into
// a body that may be kept (get, range and status hand their bytes to the
// application), and so is one still arriving, which leaves the waiting and
// its errors to ReadFrame.
func readAnswer(br *bufio.Reader, hdr []byte, limit int) (h proto.Header, body []byte, inPlace int, err error) {
	if br.Buffered() == 0 {
		if _, err := br.Peek(1); err != nil { // nothing read: ReadFrame's error for that
			h, body, err := proto.ReadFrame(failedReader{err}, hdr, limit)
			return h, body, 0, err
		}
	}
	if br.Buffered() >= proto.HeaderSize {
		b, _ := br.Peek(br.Buffered())
		h, err := proto.ParseHeader(b, limit)
		if err == nil && (h.Type == proto.TypeAppend || h.Code != proto.CodeOK) && int(h.Len) <= len(b) {
			if h, body, err := proto.DecodeFrame(b[:h.Len], limit); err == nil {
				return h, body, int(h.Len), nil
			}
		}
	}
	h, body, err = proto.ReadFrame(br, hdr, limit)
	return h, body, 0, err
}

// failedReader is a stream whose next read failed with err.
type failedReader struct{ err error }

func (r failedReader) Read([]byte) (int, error) { return 0, r.err }

// peerPort recognises the answer of an rmqlog peer port (its handshake
// refusing the client's request as a malformed hello), so that a client
// pointed at a dLegerPeers address says so instead of reporting a
// malformed frame.
func peerPort(br *bufio.Reader, addr string) error {
	b, err := br.Peek(len(wire.Magic))
	if err != nil || string(b) != wire.Magic {
		return nil // ReadFrame reports what is wrong, if anything
	}
	_, reason, err := wire.ReadAnswer(br)
	if err != nil {
		reason = err.Error()
	}
	return fmt.Errorf("%w: %s is a peer port (dLegerPeers), not a client port (rmqlogClientPort): %s", ErrWrongPort, addr, reason)
}

// readError names a malformed stream a protocol error (not a stream cut
// by the network, which ReadFrame reports as ErrFrame too).
func readError(err error) error {
	if errors.Is(err, proto.ErrFrame) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, new(*net.OpError)) {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return err
}

// deliver hands the response (h, body) to the oldest pending call. An
// error closes the connection: an unsolicited frame (id 0: CodeOverload),
// an unexpected id or type, or a malformed body (the call gets that).
func (cn *conn) deliver(h proto.Header, body []byte) error {
	if h.ID == 0 {
		return cn.unsolicited(h, body)
	}
	cn.mu.Lock()
	cl := cn.pending.front()
	if cl == nil || cl.id != h.ID || cl.typ != h.Type {
		cn.mu.Unlock()
		return unexpected(cl, h)
	}
	cn.pending.pop()
	drained := cn.retired && cn.pending.len() == 0
	cn.mu.Unlock()
	perr := cl.parse(cn.addr, h, body)
	if cl.typ == proto.TypeMeta && cl.err == nil {
		cn.maxMsg.Store(cl.meta.MaxMessageSize)
		cn.writable.Store(cl.meta.Writable)
	}
	cl.resolve()
	if perr == nil && drained {
		perr = errRetired
	}
	return perr
}

func unexpected(cl *call, h proto.Header) error {
	if cl == nil {
		return fmt.Errorf("%w: a %v response (id %d) with no request pending", ErrProtocol, h.Type, h.ID)
	}
	return fmt.Errorf("%w: a %v response (id %d) where the %v response (id %d) was due", ErrProtocol, h.Type, h.ID, cl.typ, cl.id)
}

// unsolicited is the error for a frame with id 0: the node's refusal of
// the connection before closing it (CodeOverload: too many connections;
// CodeClosing: shutting down), or a protocol error.
func (cn *conn) unsolicited(h proto.Header, body []byte) error {
	eb, err := proto.ParseError(body)
	if h.Code == proto.CodeOK || err != nil {
		return fmt.Errorf("%w: an unsolicited %v frame (id 0, code %v)", ErrProtocol, h.Type, h.Code)
	}
	return codeError(cn.addr, "the connection", h.Code, eb)
}

// retire makes the connection take no new calls, and close once its
// pending calls are answered.
func (cn *conn) retire() {
	cn.gone.Store(true)
	cn.mu.Lock()
	cn.retired = true
	idle := cn.pending.len() == 0
	cn.mu.Unlock()
	if idle {
		cn.fail(errRetired, 0)
	}
}

// fail kills the connection with err (once): closes the socket, which
// ends both goroutines, and resolves every pending call: the call with id
// culprit (if any) gets err as its answer, the others a *connError
// wrapping err (or ErrClosed itself when the client closes).
func (cn *conn) fail(err error, culprit uint64) {
	cn.gone.Store(true)
	cn.mu.Lock()
	if cn.err != nil {
		cn.mu.Unlock()
		return
	}
	cn.err = err
	pending := cn.pending.take()
	queue := cn.queue
	cn.queue = nil
	cn.mu.Unlock()
	close(cn.dead)
	cn.nc.Close()
	for _, b := range queue {
		putBuf(b)
	}
	lost := err
	if err != ErrClosed {
		lost = &connError{addr: cn.addr, err: err}
	}
	for _, cl := range pending {
		if cl.id == culprit {
			cl.err = err
			cl.resolve()
		} else {
			cl.fail(lost)
		}
	}
	cn.onDead(cn)
}

// fifo is a queue of calls.
type fifo struct {
	s    []*call
	head int
}

func (f *fifo) push(cl *call) { f.s = append(f.s, cl) }
func (f *fifo) len() int      { return len(f.s) - f.head }

func (f *fifo) front() *call {
	if f.head < len(f.s) {
		return f.s[f.head]
	}
	return nil
}

func (f *fifo) pop() {
	f.s[f.head] = nil
	f.head++
	switch {
	case f.head == len(f.s):
		f.s, f.head = f.s[:0], 0
	case f.head >= 1024 && f.head*2 >= len(f.s):
		n := copy(f.s, f.s[f.head:])
		clear(f.s[n:])
		f.s, f.head = f.s[:n], 0
	}
}

// take empties the queue and returns its calls.
func (f *fifo) take() []*call {
	s := f.s[f.head:]
	*f = fifo{}
	return s
}
