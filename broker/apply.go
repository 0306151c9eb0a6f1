package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/segment"
)

// unit is a consume queue unit on its way from an entry to the store.
type unit struct {
	topic string
	queue int32
	qo    int64
	h     commitlog.Header
}

// applier is the applier goroutine's state.
type applier struct {
	units    []unit
	recs     []Record
	nextPhys int64 // the byte after the last applied entry with an offset
	synced   uint64
	syncPhys int64
	lastSync time.Time
}

// applyLoop follows the commit index in order from index from: every
// message's unit into the consume queues, every record into the tables,
// durable every SyncInterval (snapshot, then consumequeue.Sync).
func (b *Broker) applyLoop(from uint64) {
	defer b.wg.Done()
	a := &applier{nextPhys: b.truncatePoint(), synced: from - 1, syncPhys: b.truncatePoint(), lastSync: time.Now()}
	b.maxPhys.Store(a.nextPhys)
	if err := b.checkSegmentSize(); err != nil { // the snapshot's
		b.stop(err)
		return
	}
	if first := b.node.Status().First; from < first {
		from = first
	}
	for i := from; ; i++ {
		if b.ctx.Err() != nil {
			b.sync(a)
			return
		}
		if i > b.node.CommitIndex() {
			// Caught up: sync only once SyncInterval has passed (the wait
			// below ends by then), not at every catch-up: under a steady
			// load the applier catches up after nearly every commit, and
			// a snapshot write (two fsyncs) plus the consume queues'
			// fsync per commit cost more than the appends themselves.
			if time.Since(a.lastSync) >= b.cfg.SyncInterval {
				b.sync(a)
			}
			if b.stopped.Load() != nil {
				return
			}
			ctx, cancel := context.WithTimeout(b.ctx, b.cfg.SyncInterval)
			err := b.node.WaitCommit(ctx, i)
			cancel()
			if b.ctx.Err() != nil {
				b.sync(a)
				return
			}
			if err != nil {
				i--
				continue
			}
		}
		if err := b.applyOne(a, i); err != nil {
			b.stop(err)
			return
		}
		b.maxPhys.Store(a.nextPhys)
		b.applied.Store(i)
		b.waiters.release(i)
		if time.Since(a.lastSync) >= b.cfg.SyncInterval {
			b.sync(a)
		}
		if b.stopped.Load() != nil {
			return
		}
	}
}

func (b *Broker) stop(err error) {
	err = fmt.Errorf("%w: %w", ErrStopped, err)
	b.stopped.Store(&err)
	b.cfg.Logger.Error("broker: the applier stopped; this member serves no new messages until the cause is fixed and it restarts", "err", err)
	b.waiters.releaseAll()
	b.arrivals.notifyAll()
}

// applyOne applies entry i: copies what it needs under View, then writes.
func (b *Broker) applyOne(a *applier, i uint64) error {
	a.units, a.recs = a.units[:0], a.recs[:0]
	start := int64(-1)
	var decodeErr error
	err := b.node.View(i, func(e segment.Entry) {
		if e.Type != segment.TypeBroker || len(e.Payload) == 0 {
			return
		}
		if IsRecord(e.Payload) {
			r, err := DecodeRecord(e.Payload)
			if err != nil {
				decodeErr = err
				return
			}
			r.Topic = append([]byte(nil), r.Topic...)
			a.recs = append(a.recs, r)
			start = r.Phys
			a.nextPhys = r.Phys + int64(len(e.Payload))
			return
		}
		decodeErr = Messages(e.Payload, func(off int, h commitlog.Header) error {
			if off == 0 {
				start = h.PhysicalOffset
				a.nextPhys = h.PhysicalOffset + int64(len(e.Payload))
			}
			a.units = append(a.units, unit{string(h.Topic), h.QueueID, h.QueueOffset, commitlog.Header{Size: h.Size, PhysicalOffset: h.PhysicalOffset, Properties: append([]byte(nil), h.Properties...)}})
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("entry %d: %w", i, err)
	}
	if decodeErr != nil {
		// Deterministic on every member: log and skip, never stop.
		b.cfg.Logger.Error("broker: entry skipped", "index", i, "err", decodeErr)
	}
	if start >= 0 {
		b.phys.add(i, start) // before the units: a pull that sees one finds its entry
	}
	for _, r := range a.recs {
		if r.Kind == KindSegmentSize && r.SegmentSize != b.segSize {
			return fmt.Errorf("entry %d: %w", i, b.segmentSizeErr(r.SegmentSize, r.Member))
		}
		if err := b.tables.apply(r); err != nil {
			b.cfg.Logger.Error("broker: record skipped", "index", i, "err", err)
		}
	}
	for _, u := range a.units {
		if u.qo < 0 {
			continue // stamped while not ready: refused to its sender
		}
		if level, off, ok := scheduleOffset(u.h.Properties); ok {
			b.tables.delivered(level, off)
		}
		err := b.cq.Put(u.topic, u.queue, u.qo, u.h.PhysicalOffset, int32(u.h.Size), u.h.TagsCode())
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		b.arrivals.notify(queueKey{u.topic, u.queue})
	}
	return nil
}

// sync makes everything applied durable: 1. the tables snapshot (temp
// file, fsync, rename, fsync dir) naming the applied index and the
// previous checkpoint; 2. consumequeue.Sync(applied).
func (b *Broker) sync(a *applier) {
	idx := b.applied.Load()
	a.lastSync = time.Now()
	if idx == a.synced {
		return
	}
	s := snapshot{Index: idx, NextPhys: a.nextPhys, PrevIndex: a.synced, PrevPhys: a.syncPhys}
	b.tables.snapshot(&s)
	raw, err := encodeSnapshot(&s)
	if err == nil {
		err = writeFileAtomic(b.snapPath(), raw)
	}
	if err == nil {
		err = b.cq.Sync(idx)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		b.stop(err)
		return
	}
	a.synced, a.syncPhys = idx, a.nextPhys
}
