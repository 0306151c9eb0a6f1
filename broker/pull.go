package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/broker/consumequeue"
	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/segment"
)

// PullMessageRequestHeader's sysFlag bits (PullSysFlag.java).
const (
	pullFlagCommitOffset = 1 << 0
	pullFlagSuspend      = 1 << 1
)

// maxSuspend caps a long-polling pull (the Go client asks 20 s and waits 30).
const maxSuspend = 25 * time.Second

// handlePull serves PULL_MESSAGE from the consume queues (which hold only
// applied entries), answering the stored bytes as they are.
func (b *Broker) handlePull(ctx context.Context, req *remoting.Command) *remoting.Command {
	ext := req.ExtFields
	topic, qid := ext["topic"], int32(atoi64(ext["queueId"]))
	off, maxN := atoi64(ext["queueOffset"]), int(atoi64(ext["maxMsgNums"]))
	maxN = min(max(maxN, 1), 64)
	filter := parseSubscription(ext["subscription"])
	suspend := time.Duration(atoi64(ext["suspendTimeoutMillis"])) * time.Millisecond
	sys := atoi64(ext["sysFlag"])
	if sys&pullFlagCommitOffset != 0 {
		b.commitFromPull(ext["consumerGroup"], topic, qid, atoi64(ext["commitOffset"]))
	}
	var deadline <-chan time.Time
	if sys&pullFlagSuspend != 0 && suspend > 0 {
		t := time.NewTimer(min(suspend, maxSuspend))
		defer t.Stop()
		deadline = t.C
	}
	for {
		ch := b.arrivals.wait(queueKey{topic, qid})
		resp := b.pullOnce(req, topic, qid, off, maxN, filter)
		if resp.Code != int32(remoting.PullNotFound) || deadline == nil {
			return resp
		}
		select { // long polling: until a message of the queue is applied or the suspend ends
		case <-ch:
		case <-deadline:
			return resp
		case <-ctx.Done():
			return resp
		}
	}
}

// pullOnce is one attempt of a pull (DefaultMessageStore.getMessage and
// PullMessageProcessor's status mapping).
func (b *Broker) pullOnce(req *remoting.Command, topic string, qid int32, off int64, maxN int, filter *tagFilter) *remoting.Command {
	minOff, maxOff := b.cq.MinOffset(topic, qid), b.cq.MaxOffset(topic, qid)
	answer := func(code remoting.ResponseCode, next int64, remark string) *remoting.Command {
		resp := remoting.NewResponse(req, code, remark)
		resp.ExtFields = map[string]string{
			"nextBeginOffset":      strconv.FormatInt(next, 10),
			"minOffset":            strconv.FormatInt(minOff, 10),
			"maxOffset":            strconv.FormatInt(maxOff, 10),
			"suggestWhichBrokerId": "0",
		}
		return resp
	}
	// Only a ready master moves a consumer's offset. A slave, or a new
	// master still applying what its predecessor committed, may be behind
	// the consumer: what it lacks is committed and on its way, so an
	// offset past its end waits (a held pull) instead of being moved back
	// (the client would drop its queue for 10 s and read everything again),
	// and one below its minimum is retried at the master. RocketMQ's slave
	// does the same (correctNextOffset, offsetCheckInSlave false).
	moves := b.isReady()
	switch {
	case off > maxOff && !moves, maxOff == 0 && !moves:
		return answer(remoting.PullNotFound, off, "OFFSET_OVERFLOW_BADLY: this member has not applied that far yet")
	case off < minOff && !moves:
		return answer(remoting.PullRetryImmediately, off, "OFFSET_TOO_SMALL: this member no longer holds it, ask the master")
	case maxOff == 0:
		return answer(remoting.PullNotFound, 0, "NO_MESSAGE_IN_QUEUE")
	case off < minOff:
		return answer(remoting.PullOffsetMoved, minOff, "OFFSET_TOO_SMALL")
	case off == maxOff:
		return answer(remoting.PullNotFound, off, "OFFSET_OVERFLOW_ONE")
	case off > maxOff:
		if minOff == 0 {
			return answer(remoting.PullOffsetMoved, minOff, "OFFSET_OVERFLOW_BADLY")
		}
		return answer(remoting.PullOffsetMoved, maxOff, "OFFSET_OVERFLOW_BADLY")
	}
	units, err := b.cq.Get(topic, qid, off, maxN)
	if err != nil {
		if errors.Is(err, consumequeue.ErrBelowMin) && moves {
			return answer(remoting.PullOffsetMoved, b.cq.MinOffset(topic, qid), "OFFSET_TOO_SMALL")
		}
		return answer(remoting.PullRetryImmediately, off, err.Error())
	}
	size := 0
	for _, u := range units {
		size += int(u.Size)
	}
	body := make([]byte, 0, size) // the answer's bytes, copied once
	next, end := off, int64(0)
	for _, u := range units {
		next, end = next+1, u.Phys+int64(u.Size)
		if !filter.codeMatches(u.TagsCode) {
			continue
		}
		n := len(body)
		body, err = b.appendMessage(body, u.Phys, u.Size)
		if err != nil {
			// next-1 is this unit's offset: the answer must not move the
			// consumer past it, nor past any message already gathered
			// (the client takes nextBeginOffset as read up to there).
			if len(body) > 0 {
				next--
				break
			}
			return answer(remoting.PullRetryImmediately, next-1, err.Error())
		}
		if !filter.tagsMatch(body[n:]) {
			body = body[:n]
		}
	}
	if len(body) == 0 {
		return answer(remoting.PullRetryImmediately, next, "NO_MATCHED_MESSAGE")
	}
	resp := answer(remoting.Success, next, "FOUND")
	resp.Body = body
	if b.cfg.SlaveReadEnable && b.maxPhys.Load()-end > b.cfg.SlaveReadLag {
		// DefaultMessageStore's suggestPullingFromSlave: what is left to
		// read is more than memory holds; a slave serves it.
		resp.ExtFields["suggestWhichBrokerId"] = strconv.FormatInt(b.cfg.SlowConsumerBrokerID, 10)
	}
	return resp
}

// tagFilter is a subscription expression ("*", "TagA || TagB").
type tagFilter struct {
	all   bool
	tags  map[string]bool
	codes map[int64]bool
}

func parseSubscription(s string) *tagFilter {
	f := &tagFilter{tags: map[string]bool{}, codes: map[int64]bool{}}
	for _, t := range strings.Split(s, "||") {
		t = strings.TrimSpace(t)
		if t == "*" {
			f.all = true
		}
		if t != "" {
			f.tags[t] = true
			f.codes[commitlog.TagsCode([]byte(t))] = true
		}
	}
	f.all = f.all || len(f.tags) == 0
	return f
}

// codeMatches is the consume queue's check (hash codes); tagsMatch then
// compares the tags themselves, so a hash collision or a client whose
// codes differ (docs/broker.md) never lets a wrong message through.
func (f *tagFilter) codeMatches(code int64) bool { return f.all || f.codes[code] }

func (f *tagFilter) tagsMatch(msg []byte) bool {
	if f.all {
		return true
	}
	h, err := commitlog.Peek(msg)
	if err != nil {
		return false
	}
	tags, _ := commitlog.Lookup(h.Properties, commitlog.PropertyTags)
	return f.tags[string(tags)]
}

// locHint remembers the entry of the last message read: pulls read along
// the log. mu guards it.
type locHint struct {
	mu         sync.Mutex
	index      uint64
	start, end int64
}

var errNotFound = errors.New("broker: no entry holds that physical offset")

// readMessage returns a copy of the message of size bytes at physical
// offset phys, from the entry that holds it (found by locate: every broker
// entry knows its own offset).
func (b *Broker) readMessage(phys int64, size int32) ([]byte, error) {
	return b.appendMessage(nil, phys, size)
}

// appendMessage is readMessage appending to dst; on an error it returns
// dst as it was.
func (b *Broker) appendMessage(dst []byte, phys int64, size int32) ([]byte, error) {
	n := len(dst)
	i, err := b.locate(phys)
	if err != nil {
		return dst, err
	}
	found := false
	err = b.node.View(i, func(e segment.Entry) {
		start, ok := entryStart(e)
		rel := phys - start
		if !ok || rel < 0 || rel+int64(size) > int64(len(e.Payload)) {
			return
		}
		dst, found = append(dst, e.Payload[rel:rel+int64(size)]...), true
		b.hint.mu.Lock()
		b.hint.index, b.hint.start, b.hint.end = i, start, start+int64(len(e.Payload))
		b.hint.mu.Unlock()
	})
	if err == nil && !found {
		err = fmt.Errorf("%w: %d (entry %d)", errNotFound, phys, i)
	}
	if err != nil {
		return dst[:n], err
	}
	return dst, nil
}

// entryStart is a broker entry's payload offset: a record's stamp, or its
// first message's physical offset.
func entryStart(e segment.Entry) (int64, bool) {
	if e.Type != segment.TypeBroker || len(e.Payload) < 8 {
		return 0, false
	}
	if IsRecord(e.Payload) {
		r, err := DecodeRecord(e.Payload)
		return r.Phys, err == nil
	}
	h, err := commitlog.Peek(e.Payload)
	return h.PhysicalOffset, err == nil
}

// startAt returns the payload offset of the first entry in [i, hi] that
// has one, and its index (0 when none).
func (b *Broker) startAt(i, hi uint64) (int64, uint64) {
	for ; i <= hi; i++ {
		var s int64
		var ok bool
		if err := b.node.View(i, func(e segment.Entry) { s, ok = entryStart(e) }); err != nil {
			return 0, 0
		}
		if ok {
			return s, i
		}
	}
	return 0, 0
}

// locate finds the entry holding phys: the entry read last (hint), else
// the last one physIndex remembers starting at or before phys, else (a
// consumer further back) by a binary search over the log for the last
// entry in [First, commit] starting at or before it. The search's bound is
// the commit index, not the applied one: the applier puts an entry's units in the consume
// queues before it stores applied, so a pull can meet a unit of the entry
// being applied (a bound at applied made that read fail, and the failed
// read cost the messages before it: TestPullDuringApply).
func (b *Broker) locate(phys int64) (uint64, error) {
	b.hint.mu.Lock()
	if b.hint.index != 0 {
		if phys >= b.hint.start && phys < b.hint.end {
			defer b.hint.mu.Unlock()
			return b.hint.index, nil
		}
	}
	b.hint.mu.Unlock()
	if i, ok := b.phys.lookup(phys); ok {
		return i, nil
	}
	lo, hi := b.node.Status().First, b.node.CommitIndex()
	if lo == 0 || hi < lo {
		return 0, errNotFound
	}
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		s, j := b.startAt(mid, hi)
		switch {
		case j == 0 || s > phys:
			hi = mid - 1
		default:
			lo = j
		}
	}
	return lo, nil
}

// decodeMessage returns a stored message's store timestamp.
func decodeMessage(msg []byte) (int64, int, error) {
	h, err := commitlog.Peek(msg)
	return h.StoreTimestamp, h.Size, err
}
