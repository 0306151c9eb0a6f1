package netfault

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"time"

	"github.com/rmqlog/rmqlog/replication/wire"
)

// queueLen is the capacity of a direction's queue, in writes: the frames
// read and not yet written. It is the back-pressure: a full queue stops the
// reader, and TCP then stops the sender. The nodes' own in-flight window
// (engine.Config.WindowBytes) bounds the bytes a delay keeps here.
const queueLen = 1024

// readBufSize is the read buffer of a direction (the same as a node's).
const readBufSize = 64 << 10

// item is one write of a direction: a whole frame, or handshake bytes.
type item struct {
	b     []byte    // owned by the item
	at    time.Time // not written before
	frame bool      // a frame (a late cut drops it), not handshake bytes
	hold  bool      // reorder: write it after the next frame
	twice bool      // duplicate: write it twice in a row
}

// direction is one byte stream of a pair, from src to dst, carrying the
// frames that travel along link. Its reader parses the stream and decides
// each frame's fate; its writer performs it, in queue order.
type direction struct {
	p    *pair
	link Link
	c    *counters
	src  *bufio.Reader
	dst  net.Conn
	q    chan item
	// handshake reads the handshake message that opens src.
	handshake func(io.Reader) error

	// Owned by the reader.
	rng  *rand.Rand
	last time.Time // release time of the last frame queued
}

func (p *pair) direction(l Link, src, dst net.Conn, hs func(io.Reader) error) *direction {
	return &direction{
		p: p, link: l, c: p.n.counters[l], src: bufio.NewReaderSize(src, readBufSize), dst: dst,
		q: make(chan item, queueLen), handshake: hs, rng: p.n.rng(l, p.seq),
	}
}

// read runs on the direction's reader goroutine: the handshake message,
// then frames until the stream ends or breaks. The queue is closed when it
// returns; the writer writes what is left, then half-closes dst.
func (d *direction) read() {
	defer close(d.q)
	if !d.forwardHandshake() {
		return
	}
	var (
		buf []byte
		err error
	)
	for {
		if buf, err = wire.ReadFrame(d.src, buf, d.p.n.opts.MaxFrame); err == nil {
			_, err = wire.Decode(buf)
		}
		if err == io.EOF {
			return // the sender closed between frames
		}
		if err != nil {
			d.p.fail(d.link, err)
			return
		}
		d.c.frames.Add(1)
		if !d.route(buf) {
			return
		}
	}
}

// forwardHandshake reads the handshake message and queues exactly the
// bytes the parser consumed, valid or not: the node at the other end
// judges them. It reports whether frames may follow.
func (d *direction) forwardHandshake() bool {
	var seen bytes.Buffer
	err := d.handshake(io.TeeReader(d.src, &seen))
	if seen.Len() > 0 && !d.push(item{b: seen.Bytes(), at: time.Now()}) {
		return false
	}
	if err != nil && !d.p.isAborted() {
		d.p.n.log.Info("netfault: handshake not completed; forwarded as read, stream ends",
			"link", d.p.link.String(), "direction", d.link.String(), "err", err)
	}
	return err == nil
}

// route decides the fate of one frame (it aliases the read buffer) and
// queues its writes. It reports false once the pair is aborted.
func (d *direction) route(frame []byte) bool {
	pol := d.p.n.policy.Load()
	if pol.cut(d.link) {
		d.c.blackholed.Add(1)
		return true
	}
	f := pol.faults(d.link)
	if d.chance(f.Drop) {
		d.c.dropped.Add(1)
		return true
	}
	dup, hold := d.chance(f.Duplicate), d.chance(f.Reorder)
	at := time.Now()
	if f.Delay > 0 || f.Jitter > 0 {
		at = at.Add(f.Delay + d.jitter(f.Jitter))
		d.c.delayed.Add(1)
	}
	at = latest(at, d.last) // a delay holds the stream: never overtake
	d.last = at
	if dup {
		d.c.duplicated.Add(1)
	}
	return d.push(item{b: slices.Clone(frame), at: at, frame: true, hold: hold, twice: dup})
}

func (d *direction) chance(p float64) bool { return p > 0 && d.rng.Float64() < p }

func (d *direction) jitter(j time.Duration) time.Duration {
	if j <= 0 {
		return 0
	}
	return time.Duration(d.rng.Int64N(int64(j)))
}

func latest(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

func (d *direction) push(it item) bool {
	select {
	case d.q <- it:
		return true
	case <-d.p.done:
		return false
	}
}

// write runs on the direction's writer goroutine: each queued item at its
// time, a held (reordered) frame right after the next one or alone after
// the reorder window; at the end of the queue, a half-close of dst.
func (d *direction) write() {
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	defer flush.Stop()
	var held *item
	for {
		var flushC <-chan time.Time
		if held != nil {
			flushC = flush.C
		}
		select {
		case <-d.p.done:
			return
		case <-flushC:
			if !d.send(*held) {
				return
			}
			held = nil
		case it, ok := <-d.q:
			if !ok {
				d.finish(held)
				return
			}
			if !d.sleepUntil(it.at) {
				return
			}
			if it.hold && held == nil {
				held = &it
				flush.Reset(d.p.n.opts.ReorderWindow)
				continue
			}
			if !d.send(it) {
				return
			}
			if held != nil {
				flush.Stop()
				if !d.send(*held) {
					return
				}
				d.c.reordered.Add(1)
				held = nil
			}
		}
	}
}

// sleepUntil waits until t; false if the pair was aborted meanwhile.
func (d *direction) sleepUntil(t time.Time) bool {
	wait := time.Until(t)
	if wait <= 0 {
		return true
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-d.p.done:
		return false
	}
}

// send writes one item to dst (twice if duplicated), unless it is a frame
// of a direction cut meanwhile. It reports false once the pair is aborted.
func (d *direction) send(it item) bool {
	if it.frame && d.p.n.policy.Load().cut(d.link) {
		d.c.blackholed.Add(1)
		return true
	}
	copies := 1
	if it.twice {
		copies = 2
	}
	for range copies {
		if _, err := d.dst.Write(it.b); err != nil {
			d.p.fail(d.link, err)
			return false
		}
		if it.frame {
			d.c.forwarded.Add(1)
		}
	}
	return true
}

// finish writes a frame still held for reordering and passes the end of
// the stream on as a half-close, as TCP would.
func (d *direction) finish(held *item) {
	if d.p.isAborted() {
		return
	}
	if held != nil && !d.send(*held) {
		return
	}
	if hc, ok := d.dst.(interface{ CloseWrite() error }); ok {
		hc.CloseWrite()
	}
}
