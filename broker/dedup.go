package broker

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/segment"
)

// Defaults of the UNIQ_KEY window (docs/broker.md, "Duplicate
// suppression"): a key is remembered for DedupWindow or until
// DedupMaxKeys newer keys pushed it out, whichever comes first. At about
// dedupBytesPerKey bytes each, the default bound is about 32 MB.
const (
	DefaultDedupWindow  = 60 * time.Second
	DefaultDedupMaxKeys = 100_000
	// dedupBytesPerKey is the measured heap cost of one remembered key
	// (TestDedupMemory): map slot, key string (topic + 32-character
	// UNIQ_KEY), outcome and its channel, FIFO slot.
	dedupBytesPerKey = 320
)

// outcome is the result of the first append of a UNIQ_KEY. done is closed
// once it is known; ok and the fields below are written before.
type outcome struct {
	done chan struct{}
	ok   bool
	at   time.Time // when the key was first seen (or stored, rebuilt)
	qid  int32
	qoff int64
	phys int64
	host netip.AddrPort // the store host: with phys, the message id
}

type dedupSlot struct {
	key string
	o   *outcome
}

// dedup is a master's index of the UNIQ_KEYs appended within the window.
// It lives from a takeover (rebuilt from the log) to the next role change.
// mu guards keys and fifo.
type dedup struct {
	window time.Duration
	max    int

	mu   sync.Mutex
	keys map[string]*outcome
	fifo []dedupSlot // in order of first sight; head at 0
}

func newDedup(window time.Duration, max int) *dedup {
	return &dedup{window: window, max: max, keys: map[string]*outcome{}}
}

func dedupKey(topic string, uniq []byte) string { return topic + "\x00" + string(uniq) }

// begin returns key's outcome, and whether the caller is its owner (the
// key was not in the window: the caller appends and calls finish).
func (d *dedup) begin(key string, now time.Time) (*outcome, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	if o, ok := d.keys[key]; ok {
		return o, false
	}
	o := &outcome{done: make(chan struct{}), at: now}
	d.insert(key, o)
	return o, true
}

// insert adds a key (mu held), keeping the count bound.
func (d *dedup) insert(key string, o *outcome) {
	d.keys[key] = o
	d.fifo = append(d.fifo, dedupSlot{key, o})
	for len(d.keys) > d.max {
		d.pop()
	}
}

// expire forgets the keys older than the window (mu held).
func (d *dedup) expire(now time.Time) {
	for len(d.fifo) > 0 && now.Sub(d.fifo[0].o.at) > d.window {
		d.pop()
	}
}

func (d *dedup) pop() {
	s := d.fifo[0]
	d.fifo[0] = dedupSlot{}
	d.fifo = d.fifo[1:]
	if d.keys[s.key] == s.o {
		delete(d.keys, s.key)
	}
	if cap(d.fifo) > 1024 && len(d.fifo) < cap(d.fifo)/4 {
		d.fifo = append([]dedupSlot(nil), d.fifo...)
	}
}

// finish publishes the owner's outcome; a failed append forgets the key,
// so that a waiting resend appends it itself.
func (d *dedup) finish(key string, o *outcome, h *commitlog.Header, host netip.AddrPort) {
	if h != nil {
		o.ok, o.qid, o.qoff, o.phys, o.host = true, h.QueueID, h.QueueOffset, h.PhysicalOffset, host
	} else {
		d.mu.Lock()
		if d.keys[key] == o {
			delete(d.keys, key)
		}
		d.mu.Unlock()
	}
	close(o.done)
}

// len is the number of keys remembered.
func (d *dedup) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.keys)
}

// answer is the send result of a remembered append.
func (o *outcome) answer(req *remoting.Command) *remoting.Command {
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields = map[string]string{
		"msgId":       commitlog.MessageID(o.host, o.phys),
		"queueId":     strconv.Itoa(int(o.qid)),
		"queueOffset": strconv.FormatInt(o.qoff, 10),
		"MSG_REGION":  "DefaultRegion",
		"TRACE_ON":    "true",
	}
	return resp
}

// sendOnce appends a single message unless its UNIQ_KEY was appended
// within the window: then it answers the first append's result, waiting
// for it if that append is still in flight. Without a UNIQ_KEY, or
// without an index (not a ready master), it just appends.
func (b *Broker) sendOnce(ctx context.Context, req *remoting.Command, topic string, uniq []byte, payload []byte) *remoting.Command {
	d := b.uniq.Load()
	if len(uniq) == 0 || d == nil || !deduplicated(topic) {
		return b.appendAndAnswer(ctx, req, payload)
	}
	key := dedupKey(topic, uniq)
	for {
		o, owner := d.begin(key, time.Now())
		if owner {
			resp := b.appendAndAnswer(ctx, req, payload)
			var h *commitlog.Header
			if resp.Code == int32(remoting.Success) {
				if hh, err := commitlog.Peek(payload); err == nil {
					h = &hh
				}
			}
			d.finish(key, o, h, b.storeHost)
			return resp
		}
		select {
		case <-o.done:
		case <-ctx.Done():
			return fail(req, remoting.SystemError, "waiting for the first send of UNIQ_KEY %s: %v", uniq, ctx.Err())
		}
		if o.ok {
			return o.answer(req)
		}
	}
}

// appendAndAnswer proposes payload and answers its send result.
func (b *Broker) appendAndAnswer(ctx context.Context, req *remoting.Command, payload []byte) *remoting.Command {
	if resp := b.propose(ctx, req, payload); resp != nil {
		return resp
	}
	return b.sendResult(req, payload)
}

// deduplicated reports whether sends to topic are checked: not the retry
// and dead-letter topics, which receive the same message (the same
// UNIQ_KEY) once per failed consumption, sent by the Go client as an
// ordinary send when CONSUMER_SEND_MSG_BACK fails
// (sendMessageBackAsNormal).
func deduplicated(topic string) bool {
	return !strings.HasPrefix(topic, RetryPrefix) && !strings.HasPrefix(topic, DLQPrefix)
}

// rebuildDedup builds a new master's index from the log: the messages
// applied within the window (by store timestamp), newest first back to
// the window's start or the count bound, then inserted oldest first (the
// first append of a key wins).
func (b *Broker) rebuildDedup(upto uint64) *dedup {
	d := newDedup(b.cfg.DedupWindow, b.cfg.DedupMaxKeys)
	now := time.Now()
	from := now.Add(-b.cfg.DedupWindow).UnixMilli()
	var found []dedupSlot
	first := b.node.Status().First
	for i := upto; i >= first && i > 0 && len(found) < d.max; i-- {
		old := false
		err := b.node.View(i, func(e segment.Entry) {
			if e.Type != segment.TypeBroker || IsRecord(e.Payload) {
				return
			}
			var in []dedupSlot
			_ = Messages(e.Payload, func(off int, h commitlog.Header) error {
				if h.StoreTimestamp < from {
					old = true
				}
				uniq, ok := commitlog.Lookup(h.Properties, commitlog.PropertyUniqKey)
				_, delivered := commitlog.Lookup(h.Properties, PropertyScheduleOffset)
				if !ok || h.QueueOffset < 0 || old || delivered || !deduplicated(realTopic(h)) {
					return nil
				}
				m, _, err := commitlog.Decode(e.Payload[off:])
				if err != nil {
					return nil
				}
				at := time.UnixMilli(h.StoreTimestamp)
				in = append(in, dedupSlot{dedupKey(realTopic(h), uniq), &outcome{done: closed, ok: true, at: at,
					qid: h.QueueID, qoff: h.QueueOffset, phys: h.PhysicalOffset, host: m.StoreHost}})
				return nil
			})
			for j := len(in) - 1; j >= 0; j-- { // newest first, as the scan
				found = append(found, in[j])
			}
		})
		if err != nil || old {
			break
		}
	}
	for j := len(found) - 1; j >= 0; j-- {
		if _, dup := d.keys[found[j].key]; !dup {
			d.insert(found[j].key, found[j].o)
		}
	}
	return d
}

// closed is the done channel of outcomes read from the log.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
