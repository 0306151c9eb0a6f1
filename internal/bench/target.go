package bench

import (
	"context"
	"errors"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/internal/load"
)

// ClientTarget is rmqlog's load.Target: appends through package client
// (one pipelined connection to the leader, shared by every producer; the
// client follows the leader across a failover).
type ClientTarget struct{ C *client.Client }

// Append appends one entry and returns its index once committed.
func (t ClientTarget) Append(ctx context.Context, payload []byte) (uint64, error) {
	return t.C.Append(ctx, payload)
}

// AppendAsync sends one append; Wait returns its index once committed.
func (t ClientTarget) AppendAsync(payload []byte) load.Pending { return t.C.AppendAsync(payload) }

// kinds maps the client's errors to report words, in the order checked.
var kinds = []struct {
	err  error
	kind string
}{
	{context.DeadlineExceeded, "timeout"},
	{context.Canceled, "canceled"},
	{client.ErrNotLeader, "not leader"},
	{client.ErrBusy, "busy"},
	{client.ErrUnknown, "unknown outcome"},
	{client.ErrClosing, "node closing"},
	{client.ErrOverload, "overload"},
	{client.ErrTooLarge, "too large"},
	{client.ErrFailed, "node failed"},
	{client.ErrClosed, "client closed"},
	{client.ErrProtocol, "protocol"},
	{client.ErrBadRequest, "bad request"},
}

// Kind names the class of a client error.
func (ClientTarget) Kind(err error) string {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	return "other"
}
