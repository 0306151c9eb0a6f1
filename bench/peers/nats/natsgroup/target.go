package natsgroup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rmqlog/rmqlog/internal/load"
)

const (
	// AttemptTimeout bounds one publish attempt of Append: an
	// acknowledgement later than this counts as lost and Append tries
	// again. AppendAsync has no timeout of its own (nats.go's async ack
	// timeout is not set, as `nats bench` sets none): its Wait is bounded
	// by its ctx, the load's per-operation timeout, as rmqlog's is.
	AttemptTimeout = 2 * time.Second
	// RetryWait is how long Append waits before the next attempt after an
	// answer that says no stream leader is there ("no responders" while
	// the stream elects one, or a cluster error).
	RetryWait = 20 * time.Millisecond
	// AsyncMaxPending is the async publisher's cap on unacknowledged
	// publishes: far above what a load keeps in flight, so the client
	// never stalls on its own (the load bounds what is in flight).
	AsyncMaxPending = 1 << 20
	// ReconnectWait is how long the connection waits between attempts to
	// reach a server again.
	ReconnectWait = 25 * time.Millisecond
)

// JetStream API error codes (nats-server's jetstream_errors.json) that mean
// the stream has no leader able to answer now.
const (
	errCodeClusterNotAvail  jetstream.ErrorCode = 10008 // JetStream system temporarily unavailable
	errCodeClusterNotLeader jetstream.ErrorCode = 10009 // JetStream cluster can not handle request
)

// errInvalidAck is Append's error for an answer that is not a PubAck.
var errInvalidAck = errors.New("natsgroup: invalid publish acknowledgement")

// Target is the load.Target of a Group: every append is a JetStream
// publish to the stream's subject over one shared connection.
//
// Append is at least once, like rmqlog's client: it retries within its
// ctx after a timeout (AttemptTimeout), a lost connection, or an answer
// saying the stream has no leader, so a closed-loop producer keeps going
// through a failover; a retried publish the server had stored already is
// stored twice (no Nats-Msg-Id is sent, so no deduplication), and Check
// counts such duplicates. AppendAsync does not retry beyond what nats.go
// does itself (two retries 250 ms apart after "no responders").
type Target struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	subject string

	mu    sync.Mutex // guards epoch and bump
	epoch context.Context
	// bump cancels epoch; called on every disconnect.
	bump context.CancelFunc
}

// dialTarget connects to urls[0] and knows the others (all of the
// group's servers, so the connection moves to another when one is
// killed). Start puts the stream leader's server first: its publishes
// then reach the stream leader without a hop over a cluster route, as
// rmqlog's client sends to the leader (nats.go would otherwise pick a
// server at random, a follower two times in three).
func dialTarget(urls []string, subject string) (*Target, error) {
	t := &Target{subject: subject}
	t.newEpoch()
	nc, err := dial(urls, "rmqbench-load", nats.DontRandomize(),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { t.newEpoch() }))
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(AsyncMaxPending))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsgroup: %w", err)
	}
	t.nc, t.js = nc, js
	return t, nil
}

// dial connects a reconnecting client to urls.
func dial(urls []string, name string, opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(ReconnectWait),
		nats.ReconnectJitter(0, 0),
		nats.Timeout(AttemptTimeout),
	}, opts...)
	nc, err := nats.Connect(strings.Join(urls, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("natsgroup: connecting to %s: %w", strings.Join(urls, ","), err)
	}
	return nc, nil
}

// Server is the server_name of the node the connection is on now ("" while
// it reconnects).
func (t *Target) Server() string { return t.nc.ConnectedServerName() }

// newEpoch ends the current connection epoch (cancelling the attempts
// waiting in it: their answers were lost with the connection) and starts
// the next.
func (t *Target) newEpoch() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bump != nil {
		t.bump()
	}
	t.epoch, t.bump = context.WithCancel(context.Background())
}

func (t *Target) currentEpoch() context.Context {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.epoch
}

// Append publishes payload and returns its stream sequence once the
// stream acknowledged it, retrying as the type says until ctx ends.
func (t *Target) Append(ctx context.Context, payload []byte) (uint64, error) {
	for {
		seq, err := t.publish(ctx, payload)
		if err == nil || ctx.Err() != nil {
			return seq, err
		}
		wait, retry := retryAfter(err)
		if !retry {
			return 0, err
		}
		if wait > 0 {
			if err := sleep(ctx, wait); err != nil {
				return 0, err
			}
		}
	}
}

// publish is one attempt, cut short by AttemptTimeout or a disconnect.
func (t *Target) publish(ctx context.Context, payload []byte) (uint64, error) {
	actx, cancel := context.WithTimeout(ctx, AttemptTimeout)
	defer cancel()
	stop := context.AfterFunc(t.currentEpoch(), cancel)
	defer stop()
	msg, err := t.nc.RequestWithContext(actx, t.subject, payload)
	if err != nil {
		return 0, err
	}
	return parseAck(msg.Data)
}

// pubAck is the answer to a JetStream publish.
type pubAck struct {
	Stream string              `json:"stream"`
	Seq    uint64              `json:"seq"`
	Error  *jetstream.APIError `json:"error"`
}

func parseAck(data []byte) (uint64, error) {
	var a pubAck
	if err := json.Unmarshal(data, &a); err != nil {
		return 0, fmt.Errorf("%w: %v", errInvalidAck, err)
	}
	if a.Error != nil {
		return 0, a.Error
	}
	if a.Stream == "" {
		return 0, fmt.Errorf("%w: %q", errInvalidAck, data)
	}
	return a.Seq, nil
}

// retryAfter says whether Append tries again after err, and how long it
// waits first.
func retryAfter(err error) (time.Duration, bool) {
	if errors.Is(err, nats.ErrConnectionClosed) {
		return 0, false // closed by Stop: nothing to wait for
	}
	switch Kind(err) {
	case "timeout", "canceled":
		// The attempt's own timeout, or cancelled by a disconnect (the
		// caller's ctx is live: Append checked).
		return 0, true
	case "no responders", "not leader", "disconnected":
		return RetryWait, true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// AppendAsync publishes payload without waiting; payload must not change
// until the Pending's Wait returned.
func (t *Target) AppendAsync(payload []byte) load.Pending {
	f, err := t.js.PublishAsync(t.subject, payload)
	if err != nil {
		return failed{err}
	}
	return pending{f}
}

// pending is an async publish in flight.
type pending struct{ f jetstream.PubAckFuture }

// Wait returns the stream sequence once acknowledged, the publish's error
// (nats.ErrDisconnected if the connection was lost meanwhile), or ctx's.
func (p pending) Wait(ctx context.Context) (uint64, error) {
	select {
	case ack := <-p.f.Ok():
		return ack.Sequence, nil
	case err := <-p.f.Err():
		return 0, err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// failed is an async publish that could not be sent.
type failed struct{ err error }

func (f failed) Wait(context.Context) (uint64, error) { return 0, f.err }

// Kind names the class of err: "timeout", "no responders", "not leader",
// "disconnected", "busy" (the async publisher stalled), "canceled",
// "other"; "" for nil.
func (t *Target) Kind(err error) string { return Kind(err) }

// Kind is Target.Kind.
func Kind(err error) string {
	var api *jetstream.APIError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, jetstream.ErrAsyncPublishTimeout):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse):
		return "no responders"
	case errors.Is(err, nats.ErrDisconnected), errors.Is(err, nats.ErrConnectionClosed),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrReconnectBufExceeded),
		errors.Is(err, nats.ErrConnectionDraining):
		return "disconnected"
	case errors.Is(err, jetstream.ErrTooManyStalledMsgs):
		return "busy"
	case errors.As(err, &api) && (api.ErrorCode == errCodeClusterNotLeader || api.ErrorCode == errCodeClusterNotAvail):
		return "not leader"
	}
	return "other"
}

// close closes the connection; pending publishes fail.
func (t *Target) close() {
	t.nc.Close()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bump()
}
