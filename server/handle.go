package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/segment"
)

// Range defaults and bounds: a range answer holds at most rangeMaxCount
// entries and about rangeMaxBytes of payload (at least one entry).
const (
	rangeDefCount = 1024
	rangeMaxCount = 65536
	rangeDefBytes = 1 << 20
	rangeMaxBytes = 4 << 20
	transferLimit = 5 * time.Second
)

// start begins the work of one request, on the connection's reader: an
// append is proposed now, a transfer or a membership change starts on its
// own goroutine; reads (a member list included) are answered by the writer
// when their turn comes (so a connection holds at most one read answer at
// a time, whatever it pipelines).
func (s *Server) start(h proto.Header, body []byte) *pending {
	p := &pending{h: h, start: time.Now(), body: body}
	if !s.ready.Load() {
		p.frame = s.startingAnswer(h)
		return p
	}
	switch h.Type {
	case proto.TypeAppend:
		s.propose(p, body)
	case proto.TypeTransfer:
		p.done = make(chan []byte, 1)
		go s.transfer(h, body, p.done)
	case proto.TypeMember:
		s.startMember(p, body)
	}
	return p
}

// read answers a get, range, meta, status or member list request.
func (s *Server) read(h proto.Header, body []byte) []byte {
	switch h.Type {
	case proto.TypeGet:
		return s.get(h, body)
	case proto.TypeRange:
		return s.rangeOf(h, body)
	case proto.TypeMeta:
		return proto.Frame(nil, h.Type, proto.CodeOK, h.ID, proto.AppendMeta(nil, s.meta()))
	case proto.TypeMember:
		return proto.Frame(nil, h.Type, proto.CodeOK, h.ID, proto.AppendMembers(nil, s.members()))
	}
	doc, _ := json.Marshal(s.StatusDoc())
	return proto.Frame(nil, h.Type, proto.CodeOK, h.ID, doc)
}

// startingAnswer answers a request that arrives while the node opens its
// log (see Start).
func (s *Server) startingAnswer(h proto.Header) []byte {
	switch h.Type {
	case proto.TypeStatus:
		doc, _ := json.Marshal(s.startingDoc())
		return proto.Frame(nil, h.Type, proto.CodeOK, h.ID, doc)
	case proto.TypeMeta:
		m := proto.Meta{ID: s.cfg.Engine.ID, Role: "starting", MaxMessageSize: uint32(s.maxEntry)}
		return proto.Frame(nil, h.Type, proto.CodeOK, h.ID, proto.AppendMeta(nil, m))
	}
	return errFrame(h, proto.CodeNotLeader, fmt.Sprintf("node %s is starting (opening its log for %v); no leader is known here yet",
		s.cfg.Engine.ID, time.Since(s.began).Round(time.Millisecond)), nil)
}

func (s *Server) propose(p *pending, body []byte) {
	payloads, err := proto.ParseAppendRequest(body, MaxBatch)
	if err != nil {
		p.frame = errFrame(p.h, proto.CodeBadRequest, err.Error(), nil)
		return
	}
	p.count = len(payloads)
	if p.prop, err = s.node.Propose(payloads...); err != nil {
		p.frame = s.engineErr(p.h, err, false)
	}
}

// answer makes p's response frame (p.frame), waiting for the append's
// commit or the transfer's or membership change's end; on the connection's
// writer.
func (s *Server) answer(p *pending) {
	switch {
	case p.frame != nil:
	case p.done != nil:
		p.frame = <-p.done
	case p.prop != nil:
		p.frame = s.committed(p)
	default:
		p.frame = s.read(p.h, p.body)
	}
	s.metrics.request(p.h.Type, proto.Code(p.frame[10]), time.Since(p.start))
}

func (s *Server) committed(p *pending) []byte {
	err := p.prop.Wait(s.hardCtx)
	if err != nil {
		return s.engineErr(p.h, err, true)
	}
	s.metrics.commit.observe(time.Since(p.start).Seconds(), 1)
	first := p.prop.Index() - uint64(p.count) + 1
	return proto.Frame(nil, p.h.Type, proto.CodeOK, p.h.ID, proto.AppendResult(nil, first, uint32(p.count)))
}

// engineErr maps an engine error to a response. queued: the append was
// accepted, so losing track of it makes its outcome unknown.
func (s *Server) engineErr(h proto.Header, err error, queued bool) []byte {
	var nl *engine.NotLeaderError
	switch {
	case errors.As(err, &nl):
		return errFrame(h, proto.CodeNotLeader, err.Error(), nl)
	case errors.Is(err, engine.ErrTooLarge):
		return errFrame(h, proto.CodeTooLarge, err.Error(), nil)
	case errors.Is(err, engine.ErrBusy):
		return errFrame(h, proto.CodeBusy, err.Error(), nil)
	case errors.Is(err, engine.ErrLeadershipLost), queued && errors.Is(err, engine.ErrClosed),
		errors.Is(err, context.Canceled):
		return errFrame(h, proto.CodeUnknown, "outcome unknown: "+err.Error(), nil)
	case errors.Is(err, engine.ErrClosed):
		return errFrame(h, proto.CodeClosing, "the node is shutting down", nil)
	}
	return errFrame(h, proto.CodeFailed, err.Error(), nil)
}

func errFrame(h proto.Header, code proto.Code, msg string, nl *engine.NotLeaderError) []byte {
	eb := proto.ErrorBody{Message: msg}
	if nl != nil {
		eb.Leader, eb.LeaderAddr = nl.Leader, nl.LeaderAddr
	}
	return proto.Frame(nil, h.Type, code, h.ID, proto.AppendError(nil, eb))
}

func tooLargeFrame(h proto.Header, limit, maxMessage int) []byte {
	msg := fmt.Sprintf("request of %d bytes is over the node's frame limit of %d bytes (maxMessageSize %d plus 1 MiB for a batch's headers); send smaller batches",
		h.Len, limit, maxMessage)
	return errFrame(h, proto.CodeTooLarge, msg, nil)
}

func (s *Server) get(h proto.Header, body []byte) []byte {
	i, err := proto.ParseGetRequest(body)
	if err != nil {
		return errFrame(h, proto.CodeBadRequest, err.Error(), nil)
	}
	var b []byte
	view := func(e segment.Entry) {
		f, start := proto.Begin(nil, h.Type, proto.CodeOK, h.ID)
		b = proto.Finish(proto.AppendEntry(f, wireEntry(e)), start)
	}
	err = s.node.View(i, view)
	if errors.Is(err, engine.ErrNotCommitted) {
		// "Not committed" is an answer about the present: only a leader that
		// confirmed it still leads may give it, or a deposed leader that has
		// not heard of its successor would deny entries the successor
		// committed. Followers send the client to the leader.
		ctx, cancel := context.WithTimeout(s.hardCtx, readConfirmLimit)
		ri, rerr := s.node.ReadIndex(ctx)
		cancel()
		var nl *engine.NotLeaderError
		switch {
		case errors.As(rerr, &nl):
			return errFrame(h, proto.CodeNotLeader, fmt.Sprintf("index %d is not committed on this node (commit index %d), which is not the leader; ask the leader",
				i, s.node.CommitIndex()), nl)
		case rerr != nil:
			return errFrame(h, proto.CodeUnknown, fmt.Sprintf("index %d: could not confirm leadership to answer: %v", i, rerr), nil)
		case i <= ri:
			err = s.node.View(i, view) // committed meanwhile
		default:
			err = fmt.Errorf("%w: %d, commit index is %d (leadership confirmed by a majority)", engine.ErrNotCommitted, i, ri)
		}
	}
	if err != nil {
		return s.readErr(h, i, err)
	}
	return b
}

// readConfirmLimit bounds the wait for a majority to confirm this node's
// leadership before it answers that an index is not committed.
const readConfirmLimit = 2 * time.Second

func (s *Server) rangeOf(h proto.Header, body []byte) []byte {
	from, count, maxBytes, err := proto.ParseRangeRequest(body)
	if err != nil {
		return errFrame(h, proto.CodeBadRequest, err.Error(), nil)
	}
	count = clamp(count, rangeDefCount, rangeMaxCount)
	maxBytes = clamp(maxBytes, rangeDefBytes, rangeMaxBytes)
	b, start := proto.Begin(nil, h.Type, proto.CodeOK, h.ID)
	b = append(b, 0, 0, 0, 0)
	n, size := uint32(0), 0
	full := false
	for i := from; n < count && !full && i <= s.node.CommitIndex(); i++ {
		err := s.node.View(i, func(e segment.Entry) {
			if full = n > 0 && size+len(e.Payload) > int(maxBytes); !full {
				b = proto.AppendEntry(b, wireEntry(e))
				n, size = n+1, size+len(e.Payload)
			}
		})
		if err != nil {
			if n == 0 {
				return s.readErr(h, i, err)
			}
			break
		}
	}
	binary.LittleEndian.PutUint32(b[start+proto.HeaderSize:], n) // the count, now known
	return proto.Finish(b, start)
}

func clamp(v, def, hi uint32) uint32 {
	if v == 0 {
		return def
	}
	return min(v, hi)
}

func (s *Server) readErr(h proto.Header, i uint64, err error) []byte {
	switch {
	case errors.Is(err, engine.ErrNotCommitted):
		return errFrame(h, proto.CodeNotFound, err.Error(), nil)
	case errors.Is(err, segment.ErrOutOfRange):
		return errFrame(h, proto.CodeNotFound, fmt.Sprintf("index %d is not in the log (first index %d; older entries were deleted by retention)",
			i, s.node.Status().First), nil)
	case errors.Is(err, engine.ErrClosed):
		return errFrame(h, proto.CodeClosing, "the node is shutting down", nil)
	}
	s.log.Error("reading a committed entry failed", "index", i, "err", err)
	return errFrame(h, proto.CodeFailed, err.Error(), nil)
}

// wireEntry converts a log entry; the payload still aliases the log.
func wireEntry(e segment.Entry) proto.Entry {
	t := uint8(proto.EntryConfig)
	switch e.Type {
	case segment.TypeNormal:
		t = proto.EntryMessage
	case segment.TypeNoop:
		t = proto.EntryNoop
	}
	return proto.Entry{Index: e.Index, Term: e.Term, Type: t, CRC: e.CRC, Payload: e.Payload}
}

func (s *Server) meta() proto.Meta {
	st := s.node.Status()
	return proto.Meta{ID: st.ID, Role: st.Role.String(), Term: st.Term, Leader: st.Leader, LeaderAddr: st.LeaderAddr,
		Writable: st.Writable, First: st.First, Last: st.Last, Commit: st.Commit, Durable: st.Durable,
		MaxMessageSize: uint32(s.maxEntry)}
}

func (s *Server) transfer(h proto.Header, body []byte, done chan<- []byte) {
	to, err := proto.ParseTransferRequest(body)
	if err != nil {
		done <- errFrame(h, proto.CodeBadRequest, err.Error(), nil)
		return
	}
	ctx, cancel := context.WithTimeout(s.hardCtx, transferLimit)
	defer cancel()
	err = s.node.TransferLeadership(ctx, to)
	var nl *engine.NotLeaderError
	switch {
	case err == nil:
		done <- proto.Frame(nil, h.Type, proto.CodeOK, h.ID, nil)
	case errors.As(err, &nl):
		done <- errFrame(h, proto.CodeNotLeader, err.Error(), nl)
	default:
		done <- errFrame(h, proto.CodeTransfer, fmt.Sprintf("transfer to %s: %v", to, err), nil)
	}
}
