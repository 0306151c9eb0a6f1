package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/rmqlog/rmqlog/client/proto"
)

// maxAddrs bounds the addresses a client learns from redirects.
const maxAddrs = 256

// search is a search for a node in progress; the goroutines that need one
// meanwhile wait for its result instead of searching too.
type search struct {
	done chan struct{} // closed when it ends
	err  error         // set before done is closed
}

// current returns the connection to send on: the current one if alive,
// else the one a search finds.
func (c *Client) current(ctx context.Context) (*conn, error) {
	c.mu.Lock()
	cn := c.cur
	c.mu.Unlock()
	if cn != nil && !cn.gone.Load() {
		return cn, nil
	}
	return c.search(ctx, cn, "")
}

// search returns a connection to the leader (or, if none leads, to a
// reachable node; with WithPinned, to addrs[0]), asking hint first, and
// makes it the current one. If another goroutine has already replaced
// stale, search returns that connection; if a search is in progress, its
// result.
func (c *Client) search(ctx context.Context, stale *conn, hint string) (*conn, error) {
	c.mu.Lock()
	switch cur := c.cur; {
	case c.closed:
		c.mu.Unlock()
		return nil, ErrClosed
	case cur != nil && cur != stale && !cur.gone.Load():
		c.mu.Unlock()
		return cur, nil
	case c.finding != nil:
		s := c.finding
		c.mu.Unlock()
		return c.await(ctx, s)
	}
	s := &search{done: make(chan struct{})}
	c.finding = s
	c.mu.Unlock()
	cn, err := c.find(ctx, hint)
	c.mu.Lock()
	c.finding, s.err = nil, err
	old := c.adopt(cn)
	c.mu.Unlock()
	close(s.done)
	if old != nil {
		old.retire()
	}
	return cn, err
}

// await returns the result of another goroutine's search.
func (c *Client) await(ctx context.Context, s *search) (*conn, error) {
	select {
	case <-s.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.cur != nil && !c.cur.gone.Load():
		return c.cur, nil
	case s.err != nil:
		return nil, s.err
	}
	return nil, errors.New("client: the node found was lost again")
}

// adopt makes cn the current connection and returns the one it replaces,
// for the caller to retire outside c.mu.
func (c *Client) adopt(cn *conn) *conn {
	if cn == nil || cn == c.cur || cn.gone.Load() {
		return nil
	}
	old := c.cur
	c.cur = cn
	c.opts.log.Info("client: connected", "addr", cn.addr, "leader", cn.writable.Load())
	return old
}

// find asks the known nodes (hint first) for their Meta, following the
// leader addresses they name, and returns the first connection to a node
// that leads; if none does, the current connection if it answered, else
// the first node that answered. The error names every address tried.
func (c *Client) find(ctx context.Context, hint string) (*conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.life, cancel)()
	queue, seen := c.candidates(hint), map[string]bool{}
	var best *conn
	var why []string
	var refusals []error // every error so far refused this client's setup, if len(refusals) == len(why)
	closed := 0          // connections refused (nothing listens)
	for len(queue) > 0 && ctx.Err() == nil {
		addr := queue[0]
		queue = queue[1:]
		if seen[addr] {
			continue
		}
		seen[addr] = true
		cn, m, err := c.probe(ctx, addr)
		switch {
		case err != nil:
			why = append(why, fmt.Sprintf("%s: %v", addr, err))
			if refusedSetup(err) {
				refusals = append(refusals, err)
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				closed++
			}
			continue
		case m.Writable || c.opts.pinned:
			c.discard(best)
			return cn, nil
		}
		why = append(why, fmt.Sprintf("%s: %s %s does not lead (leader %q at %q)", addr, m.Role, m.ID, m.Leader, m.LeaderAddr))
		if m.LeaderAddr != "" {
			c.learn(m.LeaderAddr)
			queue = append([]string{m.LeaderAddr}, queue...)
		}
		best = c.better(best, cn)
	}
	if best != nil {
		return best, nil
	}
	tried := len(why) > 0
	se := &searchError{tried: tried}
	if tried && len(queue) == 0 && len(refusals) == len(why) {
		se.setup, se.errs = true, refusals
	}
	se.refused = tried && len(queue) == 0 && closed == len(why)
	if len(queue) > 0 {
		why = append(why, fmt.Sprintf("%s: not tried: %v", strings.Join(queue, ", "), ctx.Err()))
	}
	se.why = why
	return nil, se
}

// candidates returns the addresses a search asks, in order.
func (c *Client) candidates(hint string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opts.pinned {
		return c.addrs[:1:1]
	}
	q := make([]string, 0, len(c.addrs)+1)
	if hint != "" {
		q = append(q, hint)
	}
	return append(q, c.addrs...)
}

// learn adds a leader's address to the known ones.
func (c *Client) learn(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.addrs {
		if a == addr {
			return
		}
	}
	if len(c.addrs) < maxAddrs {
		c.addrs = append(c.addrs, addr)
	}
}

// better keeps one of two connections to followers, the current one if
// either is, and closes the other.
func (c *Client) better(best, cn *conn) *conn {
	if best == nil {
		return cn
	}
	c.mu.Lock()
	isCur := cn == c.cur
	c.mu.Unlock()
	if isCur {
		best, cn = cn, best
	}
	c.discard(cn)
	return best
}

// discard closes a connection a search opened and does not use.
func (c *Client) discard(cn *conn) {
	c.mu.Lock()
	isCur := cn == c.cur
	c.mu.Unlock()
	if cn != nil && !isCur {
		cn.retire()
	}
}

// replaced reports whether another connection than cn is current and alive.
func (c *Client) replaced(cn *conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil && c.cur != cn && !c.cur.gone.Load()
}

// probe returns a connection to addr (the current one if it goes there)
// and the node's Meta, within the dial timeout.
func (c *Client) probe(ctx context.Context, addr string) (*conn, proto.Meta, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.dialTimeout)
	defer cancel()
	c.mu.Lock()
	cn := c.cur
	c.mu.Unlock()
	fresh := cn == nil || cn.addr != addr || cn.gone.Load()
	if fresh {
		nc, err := c.opts.dial(ctx, addr)
		if err != nil {
			return nil, proto.Meta{}, err
		}
		if cn, err = c.register(addr, nc); err != nil {
			return nil, proto.Meta{}, err
		}
	}
	m, err := c.meta(ctx, cn)
	if err != nil && fresh {
		cn.fail(err, 0)
	}
	return cn, m, err
}

// meta asks cn for its node's Meta, without retries.
func (c *Client) meta(ctx context.Context, cn *conn) (proto.Meta, error) {
	o := op{typ: proto.TypeMeta}
	cl, err := cn.send(&o, c.ids.Add(1))
	if err != nil {
		return proto.Meta{}, err
	}
	select {
	case <-cl.done:
	case <-ctx.Done():
		return proto.Meta{}, fmt.Errorf("no answer to a meta request within the dial timeout (WithDialTimeout): %w", ctx.Err())
	}
	m, err := cl.meta, cl.err
	cl.free()
	return m, err
}
