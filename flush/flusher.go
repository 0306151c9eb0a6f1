package flush

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Log is the storage the flusher makes durable. *segment.Log implements it.
// The flusher calls LastIndex and Sync from its own goroutine while other
// goroutines append, so both must be safe to call concurrently with Append.
type Log interface {
	// LastIndex returns the index of the last appended entry.
	LastIndex() uint64
	// Sync makes every entry appended before the call durable and returns the
	// index of the last entry it covers. After an error the log is failed (sticky).
	Sync() (uint64, error)
}

// Truncater is optionally implemented by a Log: TruncateSuffix removes
// entries i and after. Flusher.TruncateSuffix calls it.
type Truncater interface{ TruncateSuffix(i uint64) error }

// ErrTruncated is returned by Wait when the entry waited for was removed by
// Flusher.TruncateSuffix while the Wait ran.
var ErrTruncated = errors.New("flush: entry truncated before it was durable")

// Checkpointer is optionally implemented by a Log (hashicorp-style optional
// interface): Checkpoint records the durable position so that recovery can
// start there. It is slow (several fsyncs) and is called off the ack path,
// only from the flusher goroutine (or Close), never concurrently with Sync.
type Checkpointer interface{ Checkpoint() error }

// ErrClosed is returned by Wait for an index that was not durable when the
// Flusher was closed.
var ErrClosed = errors.New("flush: closed")

// Stats are cumulative counters of a Flusher. They cover the syncs done by
// the flusher goroutine and by Close, not the initial sync in New.
type Stats struct {
	Syncs       uint64        // successful calls to Log.Sync
	Entries     uint64        // sum over syncs of the entries each newly made durable
	SyncTime    time.Duration // total time spent in Log.Sync
	MaxSync     time.Duration // longest single Log.Sync
	Checkpoints uint64        // successful calls to Checkpointer.Checkpoint
}

// closedChan is the Changed generation once the Flusher failed or closed.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Flusher owns the durability decisions for one Log: it alone calls the log's
// Sync and Checkpoint, from one goroutine that New starts and Close stops. All
// methods are safe for concurrent use.
type Flusher struct {
	log  Log
	ckpt Checkpointer // log as a Checkpointer, or nil
	opt  Options

	// Read without locks on the Request/Wait fast paths.
	durable   atomic.Uint64 // last durable index; stored under mu; lowered only by TruncateSuffix
	epoch     atomic.Uint64 // number of truncations; changed under mu
	requested atomic.Uint64 // highest index passed to Request in SYNC_FLUSH
	failed    atomic.Bool   // set (under mu) when err is set, before changed is closed
	closed    atomic.Bool   // set (under mu) by Close after the final sync, before changed is closed

	wake chan struct{} // capacity 1: Request's non-blocking send wakes the flusher
	quit chan struct{} // closed by Close to stop the flusher
	done chan struct{} // closed when the flusher goroutine has returned

	mu sync.Mutex // guards changed, err and stats; never held across Sync or Checkpoint
	// truncMu is held by a sync from reading the epoch to publishing its
	// result, and by TruncateSuffix throughout: a sync never falls between a
	// truncation's lowering of durable and the truncation itself. Lock
	// order: truncMu, then mu.
	truncMu sync.Mutex
	changed chan struct{} // current generation; closed when durable advances, for good on fail/close
	err     error         // sticky error, wrapped
	stats   Stats
	truncs  []trunc // the last maxTruncs truncations, oldest first

	// Owned by the flusher goroutine, then by Close once it has returned.
	lastCkpt time.Time
	ckptWait *time.Timer      // pending deferred checkpoint, or nil
	ckptC    <-chan time.Time // ckptWait.C while armed, else nil

	closeOnce sync.Once
}

// trunc records that truncation number epoch removed entries from point on.
type trunc struct{ epoch, point uint64 }

// maxTruncs bounds the truncation history a Wait consults; a Wait that
// spans more truncations than that returns ErrTruncated to be safe.
const maxTruncs = 16

// TruncateSuffix removes entries i and after from the log (which must
// implement Truncater) and lowers Durable() below i at once, so no entry
// later appended at a removed index counts as durable until a sync covers
// it. Waits for removed indexes return ErrTruncated, including a WaitEpoch
// that starts later with an epoch taken before the truncation.
func (f *Flusher) TruncateSuffix(i uint64) error {
	t, ok := f.log.(Truncater)
	if !ok || i == 0 {
		return fmt.Errorf("flush: cannot truncate at %d (the log implements Truncater: %v)", i, ok)
	}
	// truncMu: no sync may run between lowering durable and the
	// truncation itself, or it could report the old entries durable again.
	f.truncMu.Lock()
	defer f.truncMu.Unlock()
	f.mu.Lock()
	f.epoch.Add(1)
	f.truncs = append(f.truncs, trunc{epoch: f.epoch.Load(), point: i})
	if len(f.truncs) > maxTruncs {
		f.truncs = f.truncs[1:]
	}
	if f.durable.Load() >= i {
		f.durable.Store(i - 1)
	}
	for cur := f.requested.Load(); cur >= i && !f.requested.CompareAndSwap(cur, i-1); cur = f.requested.Load() {
	}
	f.wakeAll()
	f.mu.Unlock()
	return t.TruncateSuffix(i)
}

// truncatedAt returns the lowest truncation point after epoch, and false
// if the history no longer reaches back to epoch; mu held.
func (f *Flusher) truncatedAt(epoch uint64) (uint64, bool) {
	if len(f.truncs) == 0 || f.truncs[0].epoch > epoch+1 {
		return 0, false
	}
	p := uint64(1<<64 - 1)
	for _, t := range f.truncs {
		if t.epoch > epoch {
			p = min(p, t.point)
		}
	}
	return p, true
}

// truncated reports whether index was removed by a truncation after epoch.
func (f *Flusher) truncated(epoch, index uint64) bool {
	if f.epoch.Load() == epoch {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.truncatedAt(epoch)
	return !ok || index >= p
}

// New syncs log once, synchronously, so that everything already in it counts
// as durable, then starts the flusher goroutine. The caller owns the returned
// Flusher and must Close it before closing log; log must not be synced by
// anyone else meanwhile.
func New(log Log, opt Options) (*Flusher, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	d, err := log.Sync()
	if err != nil {
		return nil, fmt.Errorf("flush: sync failed: %w", err)
	}
	f := &Flusher{
		log:     log,
		opt:     opt,
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	f.ckpt, _ = log.(Checkpointer)
	f.durable.Store(d)
	go f.run()
	return f, nil
}

// Request asks, in SYNC_FLUSH, that every entry up to index become durable
// and wakes the flusher. The entry at index should already be appended
// (LastIndex() >= index); a request beyond the log end is served only by a
// later sync. It never blocks or allocates. In ASYNC_FLUSH it does nothing:
// the next tick covers every appended entry.
func (f *Flusher) Request(index uint64) {
	if f.opt.Mode != SyncFlush || index <= f.durable.Load() {
		return
	}
	for {
		cur := f.requested.Load()
		if index <= cur || f.requested.CompareAndSwap(cur, index) {
			break
		}
	}
	select {
	case f.wake <- struct{}{}:
	default: // a wake-up is already pending; it will see our index
	}
}

// Wait calls Request(index) and blocks until Durable() >= index. It returns
// nil once the index is durable (a fact that no later failure undoes), the
// sticky error if the Flusher failed first, ErrClosed if it was closed first,
// or ctx.Err(). For an index already durable it returns at once without
// allocating. Callers that must stop on failure (fail-stop) also check Err.
func (f *Flusher) Wait(ctx context.Context, index uint64) error {
	return f.WaitEpoch(ctx, index, f.epoch.Load())
}

// Epoch returns the number of truncations so far. Take it when appending
// an entry and pass it to WaitEpoch, so that a truncation between the
// append and the wait is noticed.
func (f *Flusher) Epoch() uint64 { return f.epoch.Load() }

// WaitEpoch is Wait for an entry appended when Epoch() was epoch: it
// returns ErrTruncated if a truncation since then removed index.
func (f *Flusher) WaitEpoch(ctx context.Context, index, epoch uint64) error {
	if f.truncated(epoch, index) {
		return ErrTruncated
	}
	if done, err := f.poll(index); done {
		return err
	}
	f.Request(index)
	for {
		ch := f.Changed() // take the generation before checking, so no change is missed
		if f.truncated(epoch, index) {
			return ErrTruncated
		}
		if done, err := f.poll(index); done {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// poll reports whether a Wait for index is over, and with what result.
func (f *Flusher) poll(index uint64) (bool, error) {
	switch {
	case f.durable.Load() >= index:
		return true, nil
	case f.failed.Load():
		return true, f.Err()
	case f.closed.Load():
		return true, ErrClosed
	}
	return false, nil
}

// Durable returns the index of the last durable entry. It decreases only
// through TruncateSuffix.
func (f *Flusher) Durable() uint64 { return f.durable.Load() }

// Changed returns a channel that is closed when Durable advances or the
// Flusher fails or closes. Call it again after each change for the next one;
// take the channel before checking Durable so that no change is missed. After
// failure or Close it returns an already-closed channel.
func (f *Flusher) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// Err returns the sticky sync or checkpoint error, or nil while healthy.
func (f *Flusher) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Stats returns a snapshot of the counters.
func (f *Flusher) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Close stops the flusher goroutine, then, unless the Flusher failed, does a
// final Sync and (if the log is a Checkpointer) a Checkpoint, regardless of
// CheckpointInterval. It then releases every waiter: those covered by the
// final sync with nil, the others with ErrClosed. Close is idempotent and
// returns the sticky error, if any. The caller still owns the Log.
func (f *Flusher) Close() error {
	f.closeOnce.Do(func() {
		close(f.quit)
		<-f.done
		f.disarmCheckpoint()
		if !f.failed.Load() && f.sync() && f.ckpt != nil {
			f.checkpoint()
		}
		f.mu.Lock()
		f.closed.Store(true)
		f.closeChanged()
		f.mu.Unlock()
	})
	return f.Err()
}
