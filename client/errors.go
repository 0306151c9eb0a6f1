package client

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rmqlog/rmqlog/client/proto"
)

// The errors of this package, sorted by what the retry loop does with them
// (WithPinned turns every retry into a return). Errors are wrapped with the
// request and the node's address and message: test with errors.Is.
//
// Retried (and returned, wrapped with the context's error, once the
// deadline ends the retries): ErrNotLeader (follow the leader),
// ErrBusy (back off), ErrUnknown, ErrClosing, ErrFailed and ErrOverload
// (find the leader again), and a lost connection (reconnect; the error
// wraps the network's).
//
// Returned at once: ErrTooLarge, ErrBadRequest, ErrProtocol, ErrNotFound,
// ErrNoop, ErrTransfer, ErrMembership, ErrNotCaughtUp, ErrClosed and the
// context's errors. ErrChangePending is retried by the membership changes
// for up to 5 s (see AddLearner).
var (
	// ErrNotLeader: the node does not lead; a *NotLeaderError names the
	// leader if the node knows it.
	ErrNotLeader = errors.New("client: not the leader")
	// ErrTooLarge: a payload is over the node's maxMessageSize, or a batch
	// over its frame limit or 65536 payloads. Checked before sending.
	ErrTooLarge = errors.New("client: too large")
	// ErrNotFound: the index is not committed yet, or retention deleted it.
	ErrNotFound = errors.New("client: not found")
	// ErrNoop: Get found an entry that is not a message: a leader's
	// no-op, or an entry of a reserved type (membership). Skip it.
	ErrNoop = errors.New("client: the entry is not a message")
	// ErrUnknown: the node lost its leadership with the append in flight:
	// the entries may or may not be committed.
	ErrUnknown = errors.New("client: outcome unknown")
	// ErrBusy: the node has too many appends in flight.
	ErrBusy = errors.New("client: node busy")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("client: closed")
	// ErrTransfer: the leadership transfer did not complete.
	ErrTransfer = errors.New("client: leadership transfer failed")
	// ErrFailed: the node stopped on a storage failure.
	ErrFailed = errors.New("client: node failed")
	// ErrBadRequest: the node (or this client, for an empty batch) found the
	// request invalid.
	ErrBadRequest = errors.New("client: bad request")
	// ErrProtocol: a response was malformed, oversized (WithMaxFrame) or
	// out of order; the connection it came on is closed.
	ErrProtocol = errors.New("client: protocol error")
	// ErrClosing: the node is shutting down; nothing of the request was done.
	ErrClosing = errors.New("client: node shutting down")
	// ErrOverload: the node refused the connection (too many connections).
	ErrOverload = errors.New("client: node overloaded")
	// ErrWrongPort: the address is an rmqlog peer port (dLegerPeers), not a
	// client port (rmqlogClientPort): it answered with the peer handshake.
	// Retrying will not help; Dial returns it at once if every address is so.
	ErrWrongPort = errors.New("client: wrong port")
	// ErrRefused: nothing listens at the address (connection refused).
	// Dial with WithFailFast returns it at once when every address refuses.
	ErrRefused = errors.New("client: connection refused")
	// ErrMembership: the leader refused a membership change as invalid
	// (already a member, not a member, the only voter, a peer address in
	// use...); the message says why.
	ErrMembership = errors.New("client: membership change refused")
	// ErrNotCaughtUp: the learner to promote lags the leader too far; the
	// message says by how much. Promote it once Members shows a small lag.
	ErrNotCaughtUp = errors.New("client: learner not caught up")
	// ErrChangePending: an earlier membership change, or the new leader's
	// no-op, is still committing (one change at a time). Transient.
	ErrChangePending = errors.New("client: membership change pending")
)

// NotLeaderError is a node's answer to an append or transfer when it does
// not lead. errors.Is(err, ErrNotLeader) holds. Leader is "" while an
// election runs; LeaderAddr is "" when the node does not know the leader's
// client address.
type NotLeaderError struct {
	Node       string // the address of the node that answered
	Leader     string // the leader's id, if known
	LeaderAddr string // the leader's client address, if known
	Message    string // the node's message
}

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return fmt.Sprintf("client: not the leader: %s says %q; no leader is known (election in progress)", e.Node, e.Message)
	}
	if e.LeaderAddr == "" {
		return fmt.Sprintf("client: not the leader: %s says %q; the leader is %s (its client address is not known there)", e.Node, e.Message, e.Leader)
	}
	return fmt.Sprintf("client: not the leader: %s says %q; the leader is %s at %q", e.Node, e.Message, e.Leader, e.LeaderAddr)
}

// Is reports target == ErrNotLeader.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// codeErrs maps a response code to its sentinel.
var codeErrs = [...]error{
	proto.CodeNotLeader:     ErrNotLeader,
	proto.CodeNotFound:      ErrNotFound,
	proto.CodeTooLarge:      ErrTooLarge,
	proto.CodeBusy:          ErrBusy,
	proto.CodeUnknown:       ErrUnknown,
	proto.CodeClosing:       ErrClosing,
	proto.CodeBadRequest:    ErrBadRequest,
	proto.CodeFailed:        ErrFailed,
	proto.CodeTransfer:      ErrTransfer,
	proto.CodeOverload:      ErrOverload,
	proto.CodeMembership:    ErrMembership,
	proto.CodeNotCaughtUp:   ErrNotCaughtUp,
	proto.CodeChangePending: ErrChangePending,
}

// codeError is the error for a response with code c (not CodeOK) and error
// body eb from the node at node, to the request described by what.
func codeError(node, what string, c proto.Code, eb proto.ErrorBody) error {
	if c == proto.CodeNotLeader {
		return &NotLeaderError{Node: node, Leader: eb.Leader, LeaderAddr: eb.LeaderAddr, Message: eb.Message}
	}
	if int(c) >= len(codeErrs) || codeErrs[c] == nil {
		return fmt.Errorf("%w: %s answered %s with code %v", ErrProtocol, node, what, c)
	}
	return fmt.Errorf("%w: %s (%s on %s)", codeErrs[c], eb.Message, what, node)
}

// connError is what the calls pending on a connection get when it dies:
// the retry loop reconnects and resends them.
type connError struct {
	addr string
	err  error
}

func (e *connError) Error() string {
	if errors.Is(e.err, ErrWrongPort) {
		return e.err.Error() // the connection was never a client connection
	}
	return fmt.Sprintf("client: connection to %s lost: %v", e.addr, e.err)
}
func (e *connError) Unwrap() error { return e.err }

// searchError lists every address a search for a node tried and why it
// failed.
type searchError struct {
	why   []string // "addr: reason"
	tried bool     // some address was asked (the context did not end first)
	// setup: every address was asked and refused this client's setup
	// (refusedSetup); errs are those refusals. Retrying will not help.
	setup bool
	errs  []error
	// refused: every address was asked and refused the connection.
	refused bool
}

func (e *searchError) Error() string {
	return "client: no node reachable: " + strings.Join(e.why, "; ")
}

func (e *searchError) Unwrap() []error { return e.errs }
