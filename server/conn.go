package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
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
}

// pending is a request started by the reader, answered by the writer: with
// the ready frame (an error found by the reader), by waiting for prop
// (appends) or done (transfers), or by reading the log (get, range, meta,
// status: body is the request's).
type pending struct {
	h     proto.Header
	start time.Time
	body  []byte
	prop  *engine.Proposal
	count int
	done  chan []byte
	frame []byte
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{s: s, nc: nc, log: s.log.With("client", nc.RemoteAddr().String()),
		out: make(chan *pending, s.cfg.MaxInflight)}
}

// stopReading makes the reader stop at the next frame boundary or at once
// if it is waiting for one (Shutdown): what was read is still answered.
func (c *conn) stopReading() { c.nc.SetReadDeadline(time.Now()) }

func (c *conn) readLoop() {
	defer c.s.connsWG.Done()
	defer close(c.out)
	br := bufio.NewReaderSize(c.nc, 64<<10)
	hdr := make([]byte, proto.HeaderSize)
	for {
		h, body, err := proto.ReadFrame(br, hdr, c.s.maxFrame)
		if errors.Is(err, proto.ErrTooLarge) {
			if err = c.skip(br, h); err == nil {
				continue // skipped and answered
			}
		}
		if err == nil {
			err = checkRequest(h)
		}
		if err != nil {
			c.readFailed(err)
			return
		}
		c.s.framesRead.Add(1)
		c.out <- c.s.start(h, body)
	}
}

// skip discards the body of a frame over the limit and answers it with
// CodeTooLarge; the stream stays in sync, so the connection survives.
func (c *conn) skip(br *bufio.Reader, h proto.Header) error {
	if _, err := io.CopyN(io.Discard, br, int64(h.Len)-proto.HeaderSize); err != nil {
		return err
	}
	c.log.Warn("client port: request over the frame limit refused", "type", h.Type.String(), "bytes", h.Len, "limit", c.s.maxFrame)
	msg := tooLargeFrame(h, c.s.maxFrame, c.s.maxEntry)
	c.out <- &pending{h: h, start: time.Now(), frame: msg}
	return nil
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
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	var buf []byte
	var werr error
	for p := range c.out {
		if werr != nil {
			continue // nobody will read the answer: do not make it
		}
		if bw.Buffered() > 0 && p.blocks() {
			werr = c.flush(bw) // answers already made go out before waiting for this one
		}
		if werr == nil {
			buf = c.s.answer(buf[:0], p)
			c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, werr = bw.Write(buf); werr == nil && len(c.out) == 0 {
				werr = c.flush(bw)
			}
		}
		if werr != nil {
			c.nc.Close() // the reader stops too
		}
	}
	if werr == nil {
		c.flush(bw)
	}
}

func (c *conn) flush(bw *bufio.Writer) error {
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return bw.Flush()
}

// writeTimeout bounds one write of answers: a client that stops reading
// for this long is disconnected (its reader stops, its appends still
// commit).
const writeTimeout = 10 * time.Second

// blocks reports whether answering p would wait (for a commit or a
// transfer).
func (p *pending) blocks() bool {
	switch {
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
