package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/engine"
)

// conn is one client connection: a reader goroutine that decodes requests
// and starts them, and a writer goroutine that answers them in order.
type conn struct {
	s   *Server
	nc  net.Conn
	log *slog.Logger
	// out carries the started requests from the reader to the writer; its
	// capacity (MaxInflight) is the back-pressure. The reader closes it.
	out chan *pending
	// held bounds the requests read and not yet answered (MaxInflight; a
	// run of appends is one pending but many requests) and their bytes:
	// the back-pressure, with out's capacity.
	held budget
	// refusals counts the requests refused for their content (bad
	// request, too large); only the first is logged at Warn. Writer only.
	refusals int
	// bw buffers the answers of a burst of requests; nil between bursts.
	// Writer only. It writes through dw.
	bw *bufio.Writer
	dw deadlineWriter
}

// heldLimit bounds the request bytes one connection holds between its
// reader and its writer (a frame is taken whole even over it when nothing
// is held). A client that pipelines large requests and reads no answers
// makes its reader wait, not the node's memory grow: before the bound,
// MaxInflight frames of the frame limit each (5 GiB by default) could pile
// up behind one answer the client did not read.
const heldLimit = 8 << 20

// budget counts the requests and bytes taken by a reader and given back by
// a writer; take waits while either would go over its limit (heldLimit,
// MaxInflight), unless none is held.
type budget struct {
	mu      sync.Mutex
	cond    sync.Cond // L is &mu; signaled when requests are given back
	held    int       // guarded by mu: bytes
	reqs    int       // guarded by mu: requests
	maxReqs int       // MaxInflight
}

func (b *budget) take(n, reqs int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.held > 0 && b.held+n > heldLimit || b.reqs > 0 && b.reqs+reqs > b.maxReqs {
		b.cond.Wait()
	}
	b.held += n
	b.reqs += reqs
}

func (b *budget) give(n, reqs int) {
	b.mu.Lock()
	b.held -= n
	b.reqs -= reqs
	b.mu.Unlock()
	b.cond.Broadcast()
}

// pending is a request started by the reader, answered by the writer: with
// the ready frame (an error found by the reader), by waiting for prop
// (appends) or done (transfers, membership changes), or by reading the log
// (get, range, meta, status, member list: body is the request's).
type pending struct {
	h     proto.Header
	start time.Time
	held  int // the bytes taken from the connection's budget: the body, or a run's buffer
	body  []byte
	prop  *engine.Proposal
	count int
	done  chan []byte
	frame []byte
	run   appendRun // the append path's requests (appends.go), if any
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, log: s.log.With("client", nc.RemoteAddr().String()),
		out: make(chan *pending, s.cfg.MaxInflight), dw: deadlineWriter{nc}}
	c.held.cond.L, c.held.maxReqs = &c.held.mu, s.cfg.MaxInflight
	return c
}

// stopReading makes the reader stop at the next frame boundary or at once
// if it is waiting for one (Shutdown): what was read is still answered.
func (c *conn) stopReading() { c.nc.SetReadDeadline(time.Now()) }

func (c *conn) readLoop() {
	defer c.s.connsWG.Done()
	defer close(c.out)
	in := newInput(c.nc)
	defer in.release()
	hdr := make([]byte, proto.HeaderSize)
	for {
		err := in.next()
		if err == nil {
			if p := c.readRun(in); p != nil {
				c.held.take(p.held, len(p.run.reqs))
				c.s.framesRead.Add(uint64(len(p.run.reqs)))
				c.s.proposeRun(&p.run)
				c.out <- p
				continue
			}
			err = c.readOne(in, hdr)
		}
		if err != nil {
			c.readFailed(err)
			return
		}
	}
}

// readOne reads one request of any kind and starts it: the general path.
func (c *conn) readOne(in *input, hdr []byte) error {
	h, body, err := proto.ReadFrame(in, hdr, c.s.maxFrame)
	if errors.Is(err, proto.ErrTooLarge) {
		return c.skip(in, h) // skipped and answered
	}
	if err == nil {
		err = checkRequest(h)
	}
	if err != nil {
		return err
	}
	c.held.take(len(body), 1)
	c.s.framesRead.Add(1)
	p := c.s.start(h, body)
	p.held = len(body)
	c.out <- p
	return nil
}

// ioBufSize is the size of a connection's read and write buffers. Both
// come from pools and are held only while bytes flow: an idle connection
// holds neither (1,024 idle connections would otherwise pin 128 MiB).
const ioBufSize = 64 << 10

var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, ioBufSize) }}

// skip answers a frame over the limit with CodeTooLarge at once, then
// discards its body as it arrives (never buffering it): the stream stays
// in sync, so the connection survives. A stream that ends inside the body
// is a truncated frame.
func (c *conn) skip(in *input, h proto.Header) error {
	c.out <- &pending{h: h, start: time.Now(), frame: tooLargeFrame(h, c.s.maxFrame, c.s.maxEntry)}
	want := int64(h.Len) - proto.HeaderSize
	n, err := io.CopyN(io.Discard, in, want)
	if err == io.EOF {
		return fmt.Errorf("%w: a %v request of %d bytes over the frame limit, cut short after %d body bytes: %w",
			proto.ErrFrame, h.Type, h.Len, n, io.ErrUnexpectedEOF)
	}
	return err
}

// checkRequest refuses what only a response may carry: a code, or id 0
// (which a node uses for the frame it sends before closing a connection).
func checkRequest(h proto.Header) error {
	switch {
	case h.Code != proto.CodeOK:
		return fmt.Errorf("%w: a request with code %d (requests carry 0)", proto.ErrFrame, h.Code)
	case h.ID == 0:
		return fmt.Errorf("%w: a request with id 0 (ids start at 1; 0 is the node's)", proto.ErrFrame)
	}
	return nil
}

func (c *conn) readFailed(err error) {
	switch {
	case err == io.EOF, errors.Is(err, net.ErrClosed):
	case errors.Is(err, os.ErrDeadlineExceeded) && c.s.isClosing():
	default:
		c.log.Warn("client port: closing the connection", "reason", err.Error())
	}
}

// writeLoop answers the requests in order. After a write error it keeps
// draining (so the reader never blocks) without writing.
func (c *conn) writeLoop() {
	defer c.s.connsWG.Done()
	defer c.s.forget(c)
	defer c.nc.Close()
	defer c.releaseWriter()
	var werr error
	for p := range c.out {
		if werr == nil { // else nobody will read the answer: do not make it
			if werr = c.write(p); werr != nil {
				c.writeFailed(werr) // the reader stops too
			}
		}
		c.held.give(p.held, max(len(p.run.reqs), 1))
		recycle(p)
	}
	if werr == nil && c.bw != nil {
		c.bw.Flush()
	}
}

// write answers p. The answers of a burst of requests share one pooled
// buffer, flushed (and given back) when no request is left to answer.
func (c *conn) write(p *pending) error {
	if c.bw != nil && c.bw.Buffered() > 0 && p.blocks() {
		if err := c.bw.Flush(); err != nil { // answers already made go out before waiting for this one
			return err
		}
	}
	run := len(p.run.reqs) > 0
	if run {
		p.run.wait(c.s.hardCtx)
	} else {
		c.s.answer(p)
		c.noteRefusal(p.h, p.frame)
	}
	if c.bw == nil {
		c.bw = writers.Get().(*bufio.Writer)
		c.bw.Reset(&c.dw)
	}
	var err error
	if run {
		err = c.writeRun(p)
	} else {
		_, err = c.bw.Write(p.frame)
	}
	if err != nil || len(c.out) > 0 {
		return err
	}
	if err := c.bw.Flush(); err != nil {
		return err
	}
	c.releaseWriter()
	return nil
}

func (c *conn) releaseWriter() {
	if c.bw != nil {
		c.bw.Reset(nil)
		writers.Put(c.bw)
		c.bw = nil
	}
}

// noteRefusal logs the first request of the connection refused for its
// content (bad request, too large) at Warn with its reason; later ones at
// Debug, so that a client repeating a bad request cannot flood the log.
func (c *conn) noteRefusal(h proto.Header, frame []byte) {
	code := proto.Code(frame[10])
	if code != proto.CodeBadRequest && code != proto.CodeTooLarge {
		return
	}
	c.refusals++
	level := slog.LevelWarn
	if c.refusals > 1 {
		level = slog.LevelDebug
	}
	eb, _ := proto.ParseError(frame[proto.HeaderSize:])
	c.log.Log(context.Background(), level, "client port: refused a request", "type", h.Type.String(), "id", h.ID,
		"code", code.String(), "reason", eb.Message, "refused_so_far", c.refusals)
}

// writeFailed closes the connection after a failed write, saying why once.
// A client that did not read its answers within writeTimeout is reset: a
// plain close would queue its FIN behind the unsent answers, and the
// kernel would hold them (up to its send buffer) while the client never
// learns it was dropped.
func (c *conn) writeFailed(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.log.Warn("client port: disconnecting a client that did not read its answers", "for", writeTimeout.String())
		if tc, ok := c.nc.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	} else if !errors.Is(err, net.ErrClosed) {
		c.log.Info("client port: writing answers failed, closing the connection", "err", err.Error())
	}
	c.nc.Close()
}

// deadlineWriter writes to a client connection with a deadline of
// writeTimeout from each write: the answers' buffer writes through it, so
// the deadline is set once per write to the socket, not once per answer.
type deadlineWriter struct{ nc net.Conn }

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return w.nc.Write(p)
}

// writeTimeout bounds one write of answers: a client that stops reading
// for this long is disconnected (its reader stops, its appends still
// commit).
var writeTimeout = 10 * time.Second // a variable for tests

// blocks reports whether answering p would wait (for a commit or a
// transfer).
func (p *pending) blocks() bool {
	switch {
	case len(p.run.reqs) > 0:
		return !p.run.resolved()
	case p.frame != nil:
		return false
	case p.prop != nil:
		return !p.prop.Ready()
	case p.done != nil:
		return len(p.done) == 0
	}
	return false
}

// refuse answers a connection the server will not serve with one frame
// (id 0) saying why, then closes it.
func refuse(nc net.Conn, code proto.Code, why string) {
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	nc.Write(proto.Frame(nil, proto.TypeMeta, code, 0, proto.AppendError(nil, proto.ErrorBody{Message: why})))
	nc.Close()
}
