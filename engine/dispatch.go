package engine

import (
	"errors"
	"math"
	"sync"

	"github.com/rmqlog/rmqlog/replication"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// dispatchQueue bounds the messages waiting for one peer. The core's
// window bounds the batches; heartbeats and answers are small. A full
// queue drops the message and tells the core the peer is unreachable, so
// the window restarts from the follower's match index.
const dispatchQueue = 4096

// dispatcher is the sender for one peer: the only goroutine that writes to
// that peer's connection. Append messages from the core carry a range, not
// bytes; the dispatcher takes the entries from the mapped log at send time
// (segment.Framed) and writes header and entries with one writev, without
// copying them.
type dispatcher struct {
	n    *Node
	peer *replication.Peer
	id   string
	ch   chan wire.Msg
	bufs [][]byte
	done chan struct{}
	once sync.Once
	// failing is set after a failed send until one succeeds: the core is
	// told once per failure streak.
	failing bool
}

func newDispatcher(n *Node, p *replication.Peer) *dispatcher {
	return &dispatcher{n: n, peer: p, id: p.ID(), ch: make(chan wire.Msg, dispatchQueue), done: make(chan struct{})}
}

// enqueue hands m to the dispatcher without blocking; called under the
// node lock.
func (d *dispatcher) enqueue(m wire.Msg) {
	select {
	case d.ch <- m:
	default:
		d.n.cfg.Logger.Warn("dispatch queue full; dropping a message", "to", d.id, "type", m.Type.String())
		d.n.core.Unreachable(d.id)
	}
}

func (d *dispatcher) run() {
	defer d.n.wg.Done()
	for {
		select {
		case <-d.done:
			return
		case m := <-d.ch:
			d.deliver(&m)
		}
	}
}

func (d *dispatcher) deliver(m *wire.Msg) {
	err := d.send(m)
	switch {
	case err == nil:
		d.failing = false
	case errors.Is(err, replication.ErrClosed):
	case !d.failing:
		d.failing = true
		d.n.cfg.Logger.Debug("send failed", "to", d.id, "type", m.Type.String(), "err", err)
		d.n.locked(func() { d.n.core.Unreachable(d.id) })
	}
}

// send writes m, with its entries taken from the log for an Append.
func (d *dispatcher) send(m *wire.Msg) error {
	if m.Type != wire.TypeAppend || m.Count == 0 {
		return d.peer.Send(m, nil)
	}
	if err := d.peer.Connect(); err != nil {
		return err // dial outside sendMu: a truncation never waits for a dial
	}
	defer d.n.st.endSend()
	if !d.n.st.beginSend(m.Term) {
		return nil // a batch of a term this node no longer leads: drop it
	}
	bufs, next, err := d.n.st.Framed(m.Index+1, math.MaxInt, int(m.Count), d.bufs[:0])
	d.bufs = bufs[:0]
	defer clear(bufs)
	if err != nil || next != m.Index+1+uint64(m.Count) {
		// Retention removed part of the range: the core resends (or resets).
		d.n.cfg.Logger.Debug("batch no longer in the log", "to", d.id, "from", m.Index+1, "err", err)
		return replication.ErrUnreachable
	}
	if err := d.peer.Send(m, bufs); err != nil {
		return err
	}
	d.n.batchesSent.Add(1)
	d.n.entriesSent.Add(uint64(m.Count))
	return nil
}

func (d *dispatcher) close() { d.once.Do(func() { close(d.done) }) }
