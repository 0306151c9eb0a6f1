package client

import (
	"fmt"
	"sync"

	"github.com/rmqlog/rmqlog/client/proto"
)

// Limits of the node that the client checks before sending.
const (
	maxBatch      = 65536   // payloads in one append
	maxRange      = 65536   // entries in one range answer
	frameOverhead = 1 << 20 // a node's frame limit is maxMessageSize + 1 MiB
)

// op is one request with its retry state: what to send, and the attempt
// in flight. It is owned by the goroutine running it (for a Future, under
// Future.mu).
type op struct {
	typ      proto.Type
	payloads [][]byte  // append
	one      [1][]byte // payloads' storage for a single payload
	index    uint64    // get: the index; range: from
	maxCount uint32    // range
	target   string    // transfer
	member   proto.MemberRequest
	// unsure: an attempt of this membership change may have taken effect
	// (its connection was lost, or the node answered outcome unknown).
	unsure bool

	call *call  // the attempt in flight, nil if none
	cn   *conn  // the connection of the last attempt
	hint string // the leader address of the last NotLeader answer
}

func (o *op) String() string {
	switch o.typ {
	case proto.TypeAppend:
		n := 0
		for _, p := range o.payloads {
			n += len(p)
		}
		return fmt.Sprintf("append of %d payloads (%d bytes)", len(o.payloads), n)
	case proto.TypeGet:
		return fmt.Sprintf("get of entry %d", o.index)
	case proto.TypeRange:
		return fmt.Sprintf("range from %d", o.index)
	case proto.TypeTransfer:
		return fmt.Sprintf("transfer to %q", o.target)
	case proto.TypeMember:
		if o.member.Op == proto.MemberList {
			return "member list"
		}
		return fmt.Sprintf("member %s %q", o.member.Op, o.member.ID)
	}
	return o.typ.String()
}

// check returns an error wrapping ErrTooLarge or ErrBadRequest if the
// request cannot be sent to a node whose maxMessageSize is max (0:
// unknown, only the count is checked).
func (o *op) check(max uint32) error {
	if o.typ != proto.TypeAppend {
		return nil
	}
	switch n := len(o.payloads); {
	case n == 0:
		return fmt.Errorf("%w: an append of no payloads", ErrBadRequest)
	case n > maxBatch:
		return fmt.Errorf("%w: a batch of %d payloads, at most %d", ErrTooLarge, n, maxBatch)
	case max == 0:
		return nil
	}
	size := proto.HeaderSize + 4
	for i, p := range o.payloads {
		switch {
		case len(p) <= int(max):
		case len(o.payloads) == 1:
			return fmt.Errorf("%w: the payload is %d bytes, maxMessageSize is %d", ErrTooLarge, len(p), max)
		default:
			return fmt.Errorf("%w: payload %d of the batch is %d bytes, maxMessageSize is %d", ErrTooLarge, i, len(p), max)
		}
		size += proto.AppendOverhead + len(p)
	}
	if limit := int(max) + frameOverhead; size > limit {
		return fmt.Errorf("%w: the batch's frame is %d bytes, the node's frame limit is %d (maxMessageSize + 1 MiB): split the batch", ErrTooLarge, size, limit)
	}
	return nil
}

// encode appends the request's frame with id to b.
func (o *op) encode(b []byte, id uint64) []byte {
	b, start := proto.Begin(b, o.typ, proto.CodeOK, id)
	switch o.typ {
	case proto.TypeAppend:
		b = proto.AppendRequest(b, o.payloads)
	case proto.TypeGet:
		b = proto.GetRequest(b, o.index)
	case proto.TypeRange:
		b = proto.RangeRequest(b, o.index, o.maxCount, 0)
	case proto.TypeTransfer:
		b = proto.TransferRequest(b, o.target)
	case proto.TypeMember:
		b = proto.AppendMemberRequest(b, o.member)
	}
	return proto.Finish(b, start)
}

// call is one request sent on one connection. The reader (or the
// connection's death) fills in the outcome and then sends one token on
// done; whoever receives it owns the call again and may recycle it.
type call struct {
	id   uint64
	typ  proto.Type
	want uint64        // append: payload count; get: index; range: from
	done chan struct{} // capacity 1

	// The outcome, written before the token is sent.
	code    proto.Code
	err     error // nil iff code is CodeOK and the body was sound
	lost    bool  // err is the connection's death, not this call's answer
	leader  string
	first   uint64        // append
	entry   proto.Entry   // get
	entries []proto.Entry // range
	meta    proto.Meta    // meta
	body    []byte        // status
	members proto.Members // member
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

func newCall(o *op, id uint64) *call {
	cl := callPool.Get().(*call)
	cl.id, cl.typ = id, o.typ
	switch o.typ {
	case proto.TypeAppend:
		cl.want = uint64(len(o.payloads))
	case proto.TypeGet, proto.TypeRange:
		cl.want = o.index
	}
	return cl
}

// free recycles a call whose token was received.
func (cl *call) free() {
	done := cl.done
	*cl = call{done: done}
	callPool.Put(cl)
}

func (cl *call) resolve() { cl.done <- struct{}{} }

// fail resolves the call with its connection's death.
func (cl *call) fail(err error) {
	cl.err, cl.lost = err, true
	cl.resolve()
}

// parse decodes the response (h, body) from the node at node into the
// call. A malformed body is an error wrapping ErrProtocol: the call gets
// it, and the caller closes the connection.
func (cl *call) parse(node string, h proto.Header, body []byte) error {
	cl.code = h.Code
	if h.Code != proto.CodeOK {
		eb, err := proto.ParseError(body)
		if err != nil {
			return cl.malformed(node, err)
		}
		cl.leader = eb.LeaderAddr
		cl.err = codeError(node, cl.describe(), h.Code, eb)
		return nil
	}
	if err := cl.parseOK(body); err != nil {
		return cl.malformed(node, err)
	}
	return nil
}

func (cl *call) parseOK(body []byte) error {
	var err error
	switch cl.typ {
	case proto.TypeAppend:
		var n uint32
		cl.first, n, err = proto.ParseAppendResult(body)
		if err == nil && (uint64(n) != cl.want || cl.first == 0) {
			err = fmt.Errorf("entries %d..+%d for %d payloads", cl.first, n, cl.want)
		}
	case proto.TypeGet:
		cl.entry, err = proto.ParseEntry(body)
		if err == nil && cl.entry.Index != cl.want {
			err = fmt.Errorf("entry %d for a get of entry %d", cl.entry.Index, cl.want)
		}
	case proto.TypeRange:
		cl.entries, err = proto.ParseRange(body)
		if err == nil && len(cl.entries) > 0 && cl.entries[0].Index != cl.want {
			err = fmt.Errorf("entries from %d for a range from %d", cl.entries[0].Index, cl.want)
		}
	case proto.TypeMeta:
		cl.meta, err = proto.ParseMeta(body)
	case proto.TypeStatus:
		cl.body = body
	case proto.TypeMember:
		cl.members, err = proto.ParseMembers(body)
	}
	return err
}

func (cl *call) malformed(node string, err error) error {
	cl.err = fmt.Errorf("%w: %s answered %s (id %d) with %v: %w", ErrProtocol, node, cl.describe(), cl.id, cl.code, err)
	return cl.err
}

func (cl *call) describe() string {
	switch cl.typ {
	case proto.TypeAppend:
		return fmt.Sprintf("an append of %d payloads", cl.want)
	case proto.TypeGet:
		return fmt.Sprintf("a get of entry %d", cl.want)
	case proto.TypeRange:
		return fmt.Sprintf("a range from %d", cl.want)
	}
	return "a " + cl.typ.String() + " request"
}
