package flush

import (
	"fmt"
	"time"
)

// run is the flusher goroutine. It sleeps until a request (SYNC_FLUSH), a
// tick (ASYNC_FLUSH), a deferred checkpoint or Close, and returns on Close or
// on the first failure.
func (f *Flusher) run() {
	defer close(f.done)
	var tick <-chan time.Time
	if f.opt.Mode == AsyncFlush {
		t := time.NewTicker(f.opt.Interval)
		defer t.Stop()
		tick = t.C
	}
	for !f.failed.Load() {
		select {
		case <-f.quit:
			return
		case <-f.wake:
			if f.requested.Load() > f.durable.Load() {
				f.flush()
			}
		case <-tick:
			f.flush()
		case <-f.ckptC:
			f.ckptWait, f.ckptC = nil, nil
			f.checkpoint()
		}
	}
}

// flush syncs if anything was appended beyond the durable index, then
// checkpoints if one is due. Requests that arrive during the sync leave a
// wake-up pending, so the next sync starts as soon as this one returns.
func (f *Flusher) flush() {
	if f.log.LastIndex() <= f.durable.Load() {
		return
	}
	if f.sync() {
		f.maybeCheckpoint()
	}
}

// sync runs one Log.Sync without holding mu, then publishes the result. It
// reports whether the sync succeeded.
func (f *Flusher) sync() bool {
	f.truncMu.Lock() // a truncation waits for this sync and its publish (see TruncateSuffix)
	defer f.truncMu.Unlock()
	epoch := f.epoch.Load() // a truncation after this voids what the sync reports beyond it
	start := time.Now()
	d, err := f.log.Sync()
	took := time.Since(start)
	if err != nil {
		f.fail(fmt.Errorf("flush: sync failed: %w", err))
		return false
	}
	n := f.publish(d, epoch, took)
	if f.opt.OnSync != nil {
		f.opt.OnSync(n, took)
	}
	return true
}

// publish makes d the durable index (if it is higher) and wakes every waiter
// by closing the current generation channel. A sync that started before a
// truncation (epoch changed) may report entries the truncation removed: its
// result is capped below the lowest truncation point since. It returns the
// number of entries this sync made durable.
func (f *Flusher) publish(d, epoch uint64, took time.Duration) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.epoch.Load() != epoch {
		if p, ok := f.truncatedAt(epoch); !ok {
			d = 0 // history lost: report nothing from this sync
		} else {
			d = min(d, p-1)
		}
	}
	prev := f.durable.Load()
	f.stats.Syncs++
	f.stats.SyncTime += took
	f.stats.MaxSync = max(f.stats.MaxSync, took)
	if d <= prev {
		return 0
	}
	f.durable.Store(d)
	f.stats.Entries += d - prev
	f.wakeAll()
	return d - prev
}

// wakeAll closes the current generation; mu held.
func (f *Flusher) wakeAll() {
	if f.changed != closedChan {
		close(f.changed)
		f.changed = make(chan struct{})
	}
}

// fail records the first error as sticky and wakes every waiter for good.
func (f *Flusher) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
	f.failed.Store(true)
	f.closeChanged()
}

// closeChanged closes the current generation and leaves Changed returning a
// closed channel from now on. mu must be held.
func (f *Flusher) closeChanged() {
	if f.changed != closedChan {
		close(f.changed)
		f.changed = closedChan
	}
}

// maybeCheckpoint checkpoints now if CheckpointInterval has passed since the
// last one; otherwise it arms a timer so that the checkpoint still happens
// when the log goes quiet.
func (f *Flusher) maybeCheckpoint() {
	if f.ckpt == nil || f.ckptC != nil {
		return // no checkpointer, or one is already scheduled
	}
	wait := f.opt.CheckpointInterval - time.Since(f.lastCkpt)
	if wait <= 0 {
		f.checkpoint()
		return
	}
	f.ckptWait = time.NewTimer(wait)
	f.ckptC = f.ckptWait.C
}

// checkpoint calls Checkpoint; its error is sticky like a sync error.
func (f *Flusher) checkpoint() {
	f.lastCkpt = time.Now()
	if err := f.ckpt.Checkpoint(); err != nil {
		f.fail(fmt.Errorf("flush: checkpoint failed: %w", err))
		return
	}
	f.mu.Lock()
	f.stats.Checkpoints++
	f.mu.Unlock()
}

// disarmCheckpoint stops a scheduled checkpoint (Close does its own).
func (f *Flusher) disarmCheckpoint() {
	if f.ckptWait != nil {
		f.ckptWait.Stop()
		f.ckptWait, f.ckptC = nil, nil
	}
}
