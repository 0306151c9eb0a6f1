package broker

import (
	"errors"
	"time"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/segment"
)

// stamp is engine.Config.Stamp: on the leader, in log order, under the
// node's lock. It touches only the broker's own entries (TypeBroker): the
// native client's appends on the same node are TypeNormal, stored as they
// are, and ignored by the applier. A metadata record gets its own physical offset; each
// message of a message entry its queue offset (next[q]++) and physical
// offset (payload offset + its offset in the payload), and the store time.
// A message stamped while the broker is not ready (a proposal that
// straddled a role change) gets queue offset -1: every applier skips it
// and its sender answers SERVICE_NOT_AVAILABLE (doc.go).
func (b *Broker) stamp(typ segment.Type, index, offset uint64, payload []byte) {
	if typ != segment.TypeBroker || stampIfRecord(payload, offset) {
		return
	}
	now := time.Now().UnixMilli()
	b.stampMu.Lock()
	defer b.stampMu.Unlock()
	_ = Messages(payload, func(off int, h commitlog.Header) error {
		qo := int64(-1)
		if b.ready {
			k := queueKey{string(h.Topic), h.QueueID}
			n, ok := b.next[k]
			if !ok {
				n = b.cq.MaxOffset(k.Topic, k.Queue)
			}
			qo, b.next[k] = n, n+1
		}
		commitlog.SetOffsets(payload[off:], qo, int64(offset)+int64(off))
		commitlog.SetStoreTimestamp(payload[off:], now)
		return nil
	})
}

// roleChanged is engine.Config.OnRoleChange: every change ends the
// master's readiness at once; the role loop does the rest.
func (b *Broker) roleChanged(rc engine.RoleChange) {
	b.stampMu.Lock()
	b.epoch++
	b.ready, b.next, b.role = false, nil, rc
	b.uniq.Store(nil)
	b.stampMu.Unlock()
	b.locks.clear()
	select {
	case b.roleCh <- struct{}{}:
	default:
	}
}

// roleLoop carries out role changes: a master's takeover (docs/broker.md
// rule 1), then a registration with the name servers; and registers
// every RegisterInterval.
func (b *Broker) roleLoop() {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.RegisterInterval)
	defer t.Stop()
	b.register()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.roleCh:
			b.takeover()
			b.register()
		case <-t.C:
			b.register()
		}
	}
}

// takeover makes a new master ready: once the applier has applied every
// entry up to the commit index at the time the node became writable (its
// no-op included), next[q] is the consume queues' max offset, read lazily
// by the stamp. A role change meanwhile (epoch) abandons it.
func (b *Broker) takeover() {
	b.stampMu.Lock()
	epoch, role := b.epoch, b.role
	b.stampMu.Unlock()
	if role.Role != engine.Leader {
		return
	}
	st := b.node.Status()
	if !st.Writable || st.Term != role.Term {
		return
	}
	upto := b.node.CommitIndex()
	err := b.waitFor(b.ctx, upto)
	if e := b.stopped.Load(); err == nil && e != nil {
		err = *e // stopped after applying up to upto: still no master
	}
	if err != nil {
		b.cfg.Logger.Error("broker: takeover abandoned", "err", err)
		if errors.Is(err, ErrStopped) {
			b.wg.Add(1)
			go b.handOver() // a master that cannot apply must not keep leading
		}
		return
	}
	if err := b.recordSegmentSize(b.ctx); err != nil {
		b.cfg.Logger.Error("broker: takeover abandoned", "err", err)
		return
	}
	var d *dedup
	if b.cfg.DedupWindow > 0 {
		d = b.rebuildDedup(upto)
	}
	b.stampMu.Lock()
	ready := b.epoch == epoch
	if ready {
		b.uniq.Store(d)
		b.ready, b.next = true, map[queueKey]int64{}
		b.wg.Add(1)
		go b.scheduleLoop(epoch)
	}
	b.stampMu.Unlock()
	keys := 0
	if d != nil {
		keys = d.len()
	}
	b.cfg.Logger.Info("broker: master ready", "term", role.Term, "applied", b.applied.Load(), "uniqKeys", keys)
}

func (b *Broker) isReady() bool {
	b.stampMu.Lock()
	defer b.stampMu.Unlock()
	return b.ready
}

// stampIfRecord stamps a metadata record's own physical offset (offset)
// and reports whether payload is one.
func stampIfRecord(payload []byte, offset uint64) bool {
	if !IsRecord(payload) {
		return false
	}
	if len(payload) >= RecordHeaderSize {
		stampRecord(payload, int64(offset))
	}
	return true
}
