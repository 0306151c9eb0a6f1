package check

import (
	"fmt"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/load"
)

// Kind is what a client operation does.
type Kind uint8

const (
	// Append appends one payload carrying the operation's id.
	Append Kind = iota + 1
	// Read asks the leader for the committed entry at one index.
	Read
)

func (k Kind) String() string {
	switch k {
	case Append:
		return "append"
	case Read:
		return "read"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Outcome is what a client learned of its operation. The zero value is
// invalid, so that an Op whose outcome was never set is reported, not
// taken for a success.
type Outcome uint8

const (
	// OK: the node answered with success (an append is committed at
	// Op.Index; a read saw what Op.Found and Op.ReadID say).
	OK Outcome = iota + 1
	// Failed: the operation definitely did not take effect (refused
	// before it was sent, or answered with an error that promises it, such
	// as not-leader or too-large).
	Failed
	// Unknown: it may or may not have taken effect (timeout, connection
	// lost, leadership lost with the append in flight).
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Failed:
		return "failed"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Op is one client operation of a history, as the driver recorded it.
type Op struct {
	Client int
	Kind   Kind
	// ID is an Append's operation id, the one its payload carries
	// (load.SetID); never 0, which stands for "no id".
	ID uint64
	// Index: for an Append with outcome OK, the index the node
	// acknowledged; for a Read, the index asked.
	Index uint64
	// Found: for a Read with outcome OK, the leader returned an entry
	// (else it answered "not committed yet").
	Found bool
	// ReadID: for a Read with outcome OK and Found, the id the entry's
	// payload carries; 0 if it carries none (a leader's no-op).
	ReadID  uint64
	Outcome Outcome
	// Call and Return are monotonic times since the start of the run.
	// Return is ignored for the outcome Unknown.
	Call, Return time.Duration
}

func (o Op) String() string {
	switch {
	case o.Kind == Append && o.Outcome == OK:
		return fmt.Sprintf("client %d append %#x -> %d [%v, %v]", o.Client, o.ID, o.Index, o.Call, o.Return)
	case o.Kind == Append:
		return fmt.Sprintf("client %d append %#x -> %v [%v, ...]", o.Client, o.ID, o.Outcome, o.Call)
	case o.Outcome != OK:
		return fmt.Sprintf("client %d read %d -> %v [%v, ...]", o.Client, o.Index, o.Outcome, o.Call)
	case !o.Found:
		return fmt.Sprintf("client %d read %d -> absent [%v, %v]", o.Client, o.Index, o.Call, o.Return)
	}
	return fmt.Sprintf("client %d read %d -> %#x [%v, %v]", o.Client, o.Index, o.ReadID, o.Call, o.Return)
}

// Entry types, the values of segment.Type (what the log stores). The
// client protocol numbers them differently (proto.EntryMessage is 0): use
// WireEntry for entries read with client.Range.
const (
	TypeNormal uint8 = 1 // a client's payload
	TypeNoop   uint8 = 2 // the empty entry a new leader appends
	TypeConfig uint8 = 3 // reserved for membership changes
)

// Entry is one committed log entry as the checker needs it: what is
// compared across nodes (Term, Type, CRC, which covers the payload) and
// the operation id its payload carries.
type Entry struct {
	Index, Term uint64
	Type        uint8 // TypeNormal, TypeNoop, ...
	CRC         uint32
	ID          uint64
	HasID       bool // a normal entry whose payload is long enough to carry an id
}

// EntryOf builds an Entry from the raw material of a log: typ is a
// segment.Type value (TypeNormal, ...). Only a normal entry of at least
// load.IDBytes bytes carries an id (load.PayloadID).
func EntryOf(index, term uint64, typ uint8, crc uint32, payload []byte) Entry {
	e := Entry{Index: index, Term: term, Type: typ, CRC: crc}
	if typ == TypeNormal {
		e.ID, e.HasID = load.PayloadID(payload)
	}
	return e
}

// WireEntry builds an Entry from one that client.Range returned,
// translating the protocol's entry type to the log's.
func WireEntry(e proto.Entry) Entry {
	typ := TypeConfig
	switch e.Type {
	case proto.EntryMessage:
		typ = TypeNormal
	case proto.EntryNoop:
		typ = TypeNoop
	}
	return EntryOf(e.Index, e.Term, typ, e.CRC, e.Payload)
}

// holds reports whether e holds the payload of operation id.
func (e Entry) holds(id uint64) bool { return e.Type == TypeNormal && e.HasID && e.ID == id }

// seenID is the id a read of e returns: 0 if its payload carries none.
func (e Entry) seenID() uint64 {
	if e.Type == TypeNormal && e.HasID {
		return e.ID
	}
	return 0
}

func (e Entry) String() string {
	s := fmt.Sprintf("index %d term %d type %d crc %08x", e.Index, e.Term, e.Type, e.CRC)
	if e.HasID {
		s += fmt.Sprintf(" id %#x", e.ID)
	}
	return s
}

// NodeLog is one node's committed log, read after the faults healed.
type NodeLog struct {
	Node string
	// Entries are the node's committed entries in index order, from its
	// first index, without gaps.
	Entries []Entry
	// Err says why the log could not be read (then Entries is ignored).
	Err error
}
