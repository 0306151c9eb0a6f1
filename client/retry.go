package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
)

// outcome is what the retry loop does after an attempt.
type outcome uint8

const (
	outDone      outcome = iota // CodeOK: return the result
	outFinal                    // return the error
	outBusy                     // back off, resend to the same node
	outReconnect                // the connection died, or none was found: back off unless another is up
	outRedirect                 // CodeNotLeader naming the leader's address: go there at once
	outSearch                   // back off, then look for the leader among the known nodes
)

// run sends o and waits for its answer, retrying as the package doc says
// until ctx ends (or WithRetryTimeout after the first failure, if ctx has
// no deadline). It returns the answered call, which the caller frees.
func (c *Client) run(ctx context.Context, o *op) (*call, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("client: %s: %w", o.String(), err)
	}
	var bo backoff
	var last error
	bounded := false
	for {
		cl, out, err := c.attempt(ctx, o)
		switch {
		case out == outDone:
			return cl, nil
		case out == outFinal && last != nil:
			return nil, fmt.Errorf("%w; the retries' last error: %w", err, last)
		case out == outFinal || c.opts.pinned:
			return nil, err
		}
		last = err
		if !bounded {
			bounded = true
			if _, ok := ctx.Deadline(); !ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.opts.retryTimeout)
				defer cancel()
			}
		}
		c.opts.log.Debug("client: retrying", "op", o.String(), "err", err)
		if err := c.recover(ctx, o, out, &bo); err != nil {
			return nil, fmt.Errorf("client: %s: gave up retrying: %w; last error: %w", o.String(), err, last)
		}
	}
}

// attempt sends o unless an attempt is in flight, and waits for the
// answer or ctx. After ctx's error the attempt stays in flight (o.call),
// for a Future's next Wait. The returned call is set only with outDone.
func (c *Client) attempt(ctx context.Context, o *op) (*call, outcome, error) {
	if o.call == nil {
		if out, err := c.start(ctx, o); err != nil {
			return nil, out, err
		}
	}
	select {
	case <-o.call.done:
	case <-ctx.Done():
		return nil, outFinal, fmt.Errorf("client: %s pending on %s (id %d): %w", o.String(), o.cn.addr, o.call.id, ctx.Err())
	}
	cl := o.call
	o.call = nil
	out := c.classify(o, cl)
	if out == outDone {
		return cl, out, nil
	}
	err := cl.err
	if cl.lost && out == outFinal {
		err = fmt.Errorf("%w (%s was pending on %s)", err, o.String(), o.cn.addr)
	}
	cl.free()
	return nil, out, err
}

// start sends o on the current connection, finding one if there is none.
func (c *Client) start(ctx context.Context, o *op) (outcome, error) {
	cn, err := c.current(ctx)
	switch {
	case err == nil:
	case c.life.Err() != nil:
		return outFinal, fmt.Errorf("%w: %s", ErrClosed, o.String())
	case ctx.Err() != nil:
		return outFinal, fmt.Errorf("client: %s: no connection: %w (%w)", o.String(), ctx.Err(), err)
	default:
		return outReconnect, err
	}
	cl, err := cn.send(o, c.ids.Add(1))
	if err != nil {
		if errors.As(err, new(*connError)) {
			return outReconnect, err
		}
		return outFinal, err
	}
	o.call, o.cn = cl, cn
	return outDone, nil
}

// classify sorts an answered call by what the retry loop does with it,
// and notes in o a redirect's leader address and a membership change that
// may have taken effect.
func (c *Client) classify(o *op, cl *call) outcome {
	if o.typ == proto.TypeMember && (cl.lost || cl.code == proto.CodeUnknown || cl.code == proto.CodeFailed) {
		o.unsure = true
	}
	switch {
	case cl.err == nil:
		return outDone
	case cl.lost && errors.Is(cl.err, ErrClosed):
		return outFinal
	case cl.lost:
		return outReconnect
	}
	switch cl.code {
	case proto.CodeNotLeader:
		o.hint = cl.leader
		if o.hint != "" && o.hint != o.cn.addr {
			c.learn(o.hint)
			return outRedirect
		}
		return outSearch
	case proto.CodeBusy:
		return outBusy
	case proto.CodeFailed:
		if o.typ == proto.TypeGet || o.typ == proto.TypeRange {
			return outFinal // a read found a corrupt entry: asking again will not help
		}
		return outSearch
	case proto.CodeUnknown, proto.CodeClosing:
		return outSearch
	case proto.CodeOverload:
		return outReconnect
	}
	return outFinal
}

// recover prepares the next attempt after outcome out: follows a
// redirect, or backs off and searches. The error is ctx's (or ErrClosed).
func (c *Client) recover(ctx context.Context, o *op, out outcome, bo *backoff) error {
	switch out {
	case outRedirect:
		c.opts.log.Info("client: redirected", "from", o.cn.addr, "to", o.hint)
		if cn, err := c.search(ctx, o.cn, o.hint); err == nil && cn.writable.Load() {
			return nil
		}
	case outReconnect:
		if c.replaced(o.cn) {
			return nil
		}
	}
	if err := bo.wait(ctx, c.life); err != nil {
		return err
	}
	if out == outSearch {
		c.search(ctx, o.cn, "") // on failure the next attempt searches again
	}
	return nil
}

// backoff is the pause between retries: 20-30 ms, doubling up to
// maxBackoff (plus up to half of it, random). The cap bounds how long an
// append waits after a new leader is elected: with 500 ms, rmqbench's
// failover measured a write outage 150-250 ms longer than the election
// (appends slept through it); at 100 ms a client polls each node at most
// about ten times a second during an election (Kafka's retry.backoff.ms
// default is 100 ms too).
type backoff struct{ d time.Duration }

// maxBackoff is the longest pause between two retries (before jitter).
const maxBackoff = 100 * time.Millisecond

func (b *backoff) wait(ctx, life context.Context) error {
	b.d = min(max(2*b.d, 20*time.Millisecond), maxBackoff)
	t := time.NewTimer(b.d + rand.N(b.d/2))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-life.Done():
		return ErrClosed
	}
}
