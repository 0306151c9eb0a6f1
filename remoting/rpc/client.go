package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/remoting"
)

// ErrClientClosed is returned by Invoke on a closed client, and to the
// waiting calls when the connection ends.
var ErrClientClosed = errors.New("rpc: client closed")

// Client sends requests on one connection and waits for their answers.
// Safe for concurrent use.
type Client struct {
	nc   net.Conn
	wmu  sync.Mutex    // serializes requests on nc
	done chan struct{} // closed when the reader has ended

	mu      sync.Mutex // guards the fields below
	pending map[int32]chan *remoting.Command
	err     error // why the connection ended; set once
}

// Dial connects to addr ("host:port") and returns its client.
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rpc: dialing %s: %w", addr, err)
	}
	return NewClient(nc, 0), nil
}

// NewClient returns a client over nc, which it owns, reading answers of at
// most maxFrameSize bytes (remoting.DefaultMaxFrameSize when 0).
func NewClient(nc net.Conn, maxFrameSize int) *Client {
	c := &Client{nc: nc, done: make(chan struct{}), pending: map[int32]chan *remoting.Command{}}
	go c.read(remoting.NewReader(bufio.NewReader(nc), maxFrameSize))
	return c
}

// Invoke sends req and returns its answer, or ctx's error at its deadline
// (the answer, if it comes later, is dropped). req's opaque identifies
// it: two calls in flight with one opaque are refused (remoting.NewRequest
// gives each request its own). A oneway request (remoting.FlagOneway)
// returns nil, nil once it is written.
func (c *Client) Invoke(ctx context.Context, req *remoting.Command) (*remoting.Command, error) {
	frame, err := req.AppendFrame(nil)
	if err != nil {
		return nil, err
	}
	if req.IsOneway() {
		if err := c.closedErr(); err != nil {
			return nil, err
		}
		return nil, c.send(ctx, frame)
	}
	ch, err := c.expect(req.Opaque)
	if err != nil {
		return nil, err
	}
	defer c.forget(req.Opaque)
	if err := c.send(ctx, frame); err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		return resp, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("rpc: %v to %s: %w", remoting.RequestCode(req.Code), c.nc.RemoteAddr(), ctx.Err())
	case <-c.done:
		return nil, c.closedErr()
	}
}

func (c *Client) expect(opaque int32) (chan *remoting.Command, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	if _, dup := c.pending[opaque]; dup {
		return nil, fmt.Errorf("rpc: opaque %d already in flight", opaque)
	}
	ch := make(chan *remoting.Command, 1)
	c.pending[opaque] = ch
	return ch, nil
}

func (c *Client) forget(opaque int32) {
	c.mu.Lock()
	delete(c.pending, opaque)
	c.mu.Unlock()
}

func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// send writes frame whole, within ctx's deadline.
func (c *Client) send(ctx context.Context, frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Time{}
	}
	c.nc.SetWriteDeadline(dl)
	if _, err := c.nc.Write(frame); err != nil {
		c.fail(fmt.Errorf("rpc: writing to %s: %w", c.nc.RemoteAddr(), err))
		return c.closedErr()
	}
	return nil
}

// read hands each response to its waiting call until the stream ends.
func (c *Client) read(rd *remoting.Reader) {
	defer close(c.done)
	for {
		cmd, err := rd.ReadCommand()
		if err != nil {
			c.fail(fmt.Errorf("%w: %w", ErrClientClosed, err))
			return
		}
		if !cmd.IsResponse() {
			continue
		}
		c.mu.Lock()
		ch := c.pending[cmd.Opaque]
		delete(c.pending, cmd.Opaque)
		c.mu.Unlock()
		if ch != nil {
			ch <- cmd
		}
	}
}

// fail records why the connection ended (the first reason) and closes it.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.nc.Close()
}

// Close closes the connection, fails the calls waiting on it, and returns
// once the reader has ended.
func (c *Client) Close() error {
	c.fail(ErrClientClosed)
	<-c.done
	return nil
}
