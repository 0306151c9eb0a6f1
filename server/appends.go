package server

import (
	"context"
	"errors"
	"math/bits"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/segment"
)

// The append path, which allocates nothing in steady state: the reader
// takes the append requests the connection's buffer holds whole (a run),
// copies them into a pooled buffer and proposes their payloads as one
// proposal with the pending's own engine.Proposal (ProposeWith); the
// writer waits for that proposal and encodes the answers straight into its
// buffered writer; then the buffer and the pending go back to their pools.
// Other requests, appends of a frame over ioBufSize and anything malformed
// take the general path (readOne, Server.start, Server.answer).
//
// Who holds the payloads: the engine until it has appended them (the log
// copies each payload into its file while appending, and the broker's
// Stamp rewrites only its own TypeBroker entries, not these), so a run's
// buffer is reused only once its proposal's outcome is known. A pending
// whose outcome is not known when the writer lets go of it (a failed
// write, Close) is left to the garbage collector with its buffer, never
// pooled.

// appendRun is the append requests a pending answers: read together,
// proposed together, answered in order.
type appendRun struct {
	reqs     []appendReq
	payloads [][]byte // every request's payloads, in order; they alias buf
	buf      *[]byte  // pooled (bodyBuf): the requests' frames
	size     int64    // the bytes the engine counts for the payloads (MaxPendingBytes)
	prop     engine.Proposal
	proposed bool  // prop carries the run's payloads
	err      error // the run's refusal, or prop's outcome: every request's
	// split: refused as a whole for being busy, the requests were proposed
	// one by one (their prop or err), as each would have been alone.
	split bool
}

// appendReq is one append request of a run.
type appendReq struct {
	id    uint64
	count int              // its payloads
	prop  *engine.Proposal // split runs: its own proposal (nil if refused)
	err   error            // split runs: its refusal, or its proposal's outcome
}

// pendings recycles the pendings of append runs (with their slices and
// Proposal), bodies their buffers by size class.
var (
	pendings = sync.Pool{New: func() any { return new(pending) }}
	bodies   [bodyClasses]sync.Pool
)

// Body buffers come in classes of 1 KiB << i up to ioBufSize: a run holds
// at most twice its bytes (the budget counts the buffer's size).
const (
	minBodyShift = 10
	bodyClasses  = 17 - minBodyShift // through 64 KiB (ioBufSize)
)

// The largest class is ioBufSize: one of these lengths is negative
// otherwise.
var (
	_ [ioBufSize - 1<<(minBodyShift+bodyClasses-1)]struct{}
	_ [1<<(minBodyShift+bodyClasses-1) - ioBufSize]struct{}
)

func bodyClass(n int) int { return max(bits.Len(uint(n-1))-minBodyShift, 0) }

// bodyBuf returns a pooled buffer of at least n <= ioBufSize bytes.
func bodyBuf(n int) *[]byte {
	c := bodyClass(n)
	if b, ok := bodies[c].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 1<<(c+minBodyShift))
	return &b
}

func putBody(b *[]byte) { bodies[bodyClass(len(*b))].Put(b) }

// readRun reads the append requests at the start of in as a run, when the
// append path takes the first: a sound request of at most ioBufSize bytes,
// whose body parses and whose payloads the engine takes in size, on a node
// that is open. The run goes on with the requests that follow as long as
// in holds them whole and the path takes them: a client that pipelines
// has them proposed together and answered with one write. Without a
// first, readRun returns nil and leaves in as it was, for readOne.
func (c *conn) readRun(in *input) *pending {
	if !c.s.ready.Load() {
		return nil
	}
	b, err := in.peek(proto.HeaderSize)
	if err != nil {
		return nil
	}
	h, err := proto.ParseHeader(b, c.s.maxFrame)
	if err != nil || h.Type != proto.TypeAppend || checkRequest(h) != nil || h.Len > ioBufSize {
		return nil
	}
	if b, err = in.peek(int(h.Len)); err != nil {
		return nil
	}
	p := pendings.Get().(*pending)
	r := &p.run
	n := c.scanRun(r, b)
	if n == 0 {
		pendings.Put(p)
		return nil
	}
	r.buf = bodyBuf(n)
	frames := (*r.buf)[:n]
	copy(frames, b)
	in.discard(n)
	r.aliasPayloads(frames)
	p.h, p.start, p.held = proto.Header{Len: h.Len, Type: h.Type, ID: h.ID}, time.Now(), cap(frames)
	return p
}

// scanRun checks the append requests b starts with and records them in r
// (their payloads aliasing b), as many as it holds whole and the append
// path takes, up to MaxInflight; it returns the bytes they take.
func (c *conn) scanRun(r *appendRun, b []byte) int {
	off := 0
	for len(r.reqs) < c.s.cfg.MaxInflight && len(b)-off >= proto.HeaderSize {
		h, err := proto.ParseHeader(b[off:], c.s.maxFrame)
		if err != nil || h.Type != proto.TypeAppend || int(h.Len) > len(b)-off || checkRequest(h) != nil {
			break // (a frame cut by the buffer's end is the common case: no error made for it)
		}
		_, body, err := proto.DecodeFrame(b[off:off+int(h.Len)], c.s.maxFrame)
		if err != nil {
			break
		}
		have := len(r.payloads)
		if r.payloads, err = proto.AppendPayloads(r.payloads, body, MaxBatch); err != nil {
			break
		}
		if !c.s.takesAll(r.payloads[have:]) {
			clear(r.payloads[have:])
			r.payloads = r.payloads[:have]
			break // refused alone by the engine, with its own reason
		}
		r.reqs = append(r.reqs, appendReq{id: h.ID, count: len(r.payloads) - have})
		for _, pl := range r.payloads[have:] {
			r.size += int64(len(pl) + segment.HeaderSize)
		}
		off += int(h.Len)
	}
	return off
}

// takesAll reports whether the engine takes payloads of these sizes.
func (s *Server) takesAll(payloads [][]byte) bool {
	for _, pl := range payloads {
		if len(pl) > s.maxEntry {
			return false
		}
	}
	return true
}

// aliasPayloads points the run's payloads into frames, the copy of the
// frames scanRun checked.
func (r *appendRun) aliasPayloads(frames []byte) {
	clear(r.payloads)
	r.payloads = r.payloads[:0]
	for off := 0; off < len(frames); {
		h, _ := proto.ParseHeader(frames[off:], len(frames))
		r.payloads, _ = proto.AppendPayloads(r.payloads, frames[off+proto.HeaderSize:off+int(h.Len)], MaxBatch)
		off += int(h.Len)
	}
}

// proposeRun proposes the run's payloads as one proposal. The engine
// takes a proposal or refuses it as busy whole (MaxPendingBytes); a run it
// refuses as busy, or one over that limit (which a node with nothing
// pending would take whole), is proposed one request at a time instead, so
// that each request is taken or refused as it would have been alone.
func (s *Server) proposeRun(r *appendRun) {
	if len(r.reqs) > 1 && r.size > int64(s.maxPending) {
		r.proposeEach(s.node)
		return
	}
	err := s.node.ProposeWith(&r.prop, segment.TypeNormal, r.payloads)
	switch {
	case err == nil:
		r.proposed = true
	case errors.Is(err, engine.ErrBusy) && len(r.reqs) > 1:
		r.proposeEach(s.node)
	default:
		r.err = err
	}
}

// proposeEach proposes the requests of a run one by one (allocating: the
// path of a node at its MaxPendingBytes).
func (r *appendRun) proposeEach(n *engine.Node) {
	r.split = true
	ps := r.payloads
	for i := range r.reqs {
		q := &r.reqs[i]
		q.prop, q.err = n.Propose(ps[:q.count]...)
		ps = ps[q.count:]
	}
}

// resolved reports whether the engine is done with every proposal of the
// run (so that its buffer may be reused), without waiting.
func (r *appendRun) resolved() bool {
	if r.proposed {
		return r.prop.Ready()
	}
	for _, q := range r.reqs {
		if q.prop != nil && !q.prop.Ready() {
			return false
		}
	}
	return true
}

// recycle gives an answered run's pending and buffer back to their pools,
// if the engine is done with them.
func recycle(p *pending) {
	r := &p.run
	if len(r.reqs) == 0 || !r.resolved() {
		return
	}
	putBody(r.buf)
	clear(r.payloads)
	clear(r.reqs)
	p.run = appendRun{reqs: r.reqs[:0], payloads: r.payloads[:0], prop: r.prop}
	if cap(p.run.payloads) > 1<<12 {
		p.run.payloads = nil
	}
	p.h, p.start, p.held = proto.Header{}, time.Time{}, 0
	pendings.Put(p)
}

// wait waits for the outcome of the run's proposals (an error or nil in
// r.err or, split, in each request's err).
func (r *appendRun) wait(ctx context.Context) {
	switch {
	case r.proposed:
		r.err = r.prop.Wait(ctx)
	case r.split:
		for i := range r.reqs {
			if q := &r.reqs[i]; q.prop != nil {
				q.err = q.prop.Wait(ctx)
			}
		}
	}
}

// writeRun answers the requests of a run whose wait returned, in order,
// into the writer's buffer, and counts them (once for those that
// succeeded: one time read and one metrics update per run).
func (c *conn) writeRun(p *pending) error {
	r := &p.run
	took := time.Since(p.start)
	first, ok := uint64(0), 0
	if r.proposed && r.err == nil {
		first = r.prop.Index() - uint64(len(r.payloads)) + 1
	}
	defer func() { c.s.metrics.appended(ok, took) }()
	for i := range r.reqs {
		q := &r.reqs[i]
		err, queued := r.err, r.proposed
		if r.split {
			err, queued = q.err, q.prop != nil
			if err == nil {
				first = q.prop.Index() - uint64(q.count) + 1
			}
		}
		var werr error
		if err != nil {
			werr = c.refuseAppend(q, err, queued, took)
		} else {
			werr = c.answerAppend(q, first)
			ok++
		}
		if werr != nil {
			return werr
		}
		first += uint64(q.count)
	}
	return nil
}

// refuseAppend writes the error answer of one append request of a run.
func (c *conn) refuseAppend(q *appendReq, err error, queued bool, took time.Duration) error {
	h := proto.Header{Type: proto.TypeAppend, ID: q.id}
	frame := c.s.engineErr(h, err, queued)
	c.noteRefusal(h, frame)
	c.s.metrics.request(h.Type, proto.Code(frame[10]), took)
	_, werr := c.bw.Write(frame)
	return werr
}

// answerAppend writes the ok answer of one append request of a run,
// encoded in the writer's buffer.
func (c *conn) answerAppend(q *appendReq, first uint64) error {
	if c.bw.Available() < appendAnswerSize {
		if err := c.bw.Flush(); err != nil {
			return err
		}
	}
	b, start := proto.Begin(c.bw.AvailableBuffer(), proto.TypeAppend, proto.CodeOK, q.id)
	b = proto.Finish(proto.AppendResult(b, first, uint32(q.count)), start)
	_, err := c.bw.Write(b)
	return err
}

// appendAnswerSize is the size of an ok append answer.
const appendAnswerSize = proto.HeaderSize + 12
