package broker

import (
	"context"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/segment"
)

// pullCommitTick is how often the offsets carried by pulls are proposed.
const pullCommitTick = 100 * time.Millisecond

// pullOffsets collects the commit offsets carried by pulls (PullSysFlag
// FLAG_COMMIT_OFFSET) on the master until the next proposal: one record
// per group every pullCommitTick, instead of one entry per pull. mu
// guards pending.
type pullOffsets struct {
	mu      sync.Mutex
	pending map[string]map[queueKey]int64 // group -> queue -> offset
}

func (p *pullOffsets) add(group string, k queueKey, off int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending == nil {
		p.pending = map[string]map[queueKey]int64{}
	}
	if p.pending[group] == nil {
		p.pending[group] = map[queueKey]int64{}
	}
	p.pending[group][k] = off
}

func (p *pullOffsets) take() map[string]map[queueKey]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.pending
	p.pending = nil
	return m
}

// commitFromPull records a pull's commit offset, unless it is what the
// tables already hold or this broker is not the ready master (RocketMQ's
// PullMessageProcessor commits only on the master).
func (b *Broker) commitFromPull(group, topic string, qid int32, off int64) {
	if group == "" || off < 0 || !b.isReady() {
		return
	}
	if cur, ok := b.tables.offset(group, topic, qid); ok && cur == off {
		return
	}
	b.pullOffs.add(group, queueKey{topic, qid}, off)
}

// pullOffsetLoop proposes the collected offsets every pullCommitTick, a
// record per group, through the log like UPDATE_CONSUMER_OFFSET. Offsets
// collected while not the ready master are dropped: the client sends
// them again with its next pull and its periodic offset update.
func (b *Broker) pullOffsetLoop() {
	defer b.wg.Done()
	t := time.NewTicker(pullCommitTick)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		pending := b.pullOffs.take()
		if len(pending) == 0 || !b.isReady() {
			continue
		}
		for group, qs := range pending {
			ups := make([]OffsetUpdate, 0, len(qs))
			for k, off := range qs {
				ups = append(ups, OffsetUpdate{Topic: k.Topic, QueueID: k.Queue, Offset: off})
			}
			rec, err := EncodeOffsets(group, ups)
			if err != nil {
				continue
			}
			p, err := b.node.ProposeAs(segment.TypeBroker, rec)
			if err != nil {
				break
			}
			ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
			_ = p.Wait(ctx)
			cancel()
		}
	}
}
