package segment

import (
	"sync"
	"sync/atomic"
)

// Keeping the page cache small.
//
// A log only ever grows the page cache: every appended byte lands in a new
// page-cache page (and a prewritten file's zeros did too), and nothing gives
// those pages back until the kernel reclaims them under memory pressure.
// Reclaim is not free, and on a virtual machine that hands free memory back
// to its host (free page reporting, ballooning) a page that was reclaimed or
// never touched costs a fault to the host when it is used again. Measured on
// the 2-vCPU VM of issue 17: ASYNC_FLUSH sustained 110-150k appends/s while
// the page cache grew into memory that was warm, then 55-75k for the rest of
// the run, with the CPU inside pwrite (the copy into new page-cache pages)
// going from 2.0 to 10.3 us per entry.
//
// So the log hands back what it will not need: once a range of a data file
// is synced and CacheKeep bytes behind the synced position (replication and
// consumers read the tail, which stays cached), a background goroutine
// evicts it: MADV_DONTNEED on the mapping (readers fault the pages in again
// from the file), then POSIX_FADV_DONTNEED on the file (clean pages leave
// the page cache). New writes then reuse the pages just freed, which are
// warm. The zeros of a prewritten file are evicted as they are synced (see
// pacer.writeZeros): appends never read them, because every pwrite run is
// padded with zeros to the end of its last page (flushRun), so the kernel
// never has to read a page from disk to complete a partial write.
//
// Eviction never changes what the files hold: it is a hint about memory,
// and its errors are ignored (a file system that does not support it keeps
// its pages, as before).

// defaultCacheKeep is Options.CacheKeep's default: a quarter of a gigabyte
// behind the synced position (seconds of a loaded node's appends, far more
// than a follower or a consumer that keeps up lags behind).
const defaultCacheKeep = 256 << 20

// evictChunk is the least the evictor evicts at once: fewer, larger calls.
const evictChunk = 16 << 20

// pageSize is the unit of eviction and of a run's padding.
const pageSize = 4096

// evictor is a Log's background eviction of synced data from memory.
type evictor struct {
	// mu is held while evicting, and by lockAll before syncMu: files are
	// neither closed, removed nor truncated under an eviction.
	mu   sync.Mutex
	upTo atomic.Uint64 // every data byte below this global offset was evicted; written under mu
	want atomic.Uint64 // evict up to here (page aligned); written by Sync
	wake chan struct{} // capacity 1
	quit chan struct{}
	done chan struct{}
	stop sync.Once
}

// startEvictor starts the background eviction once the log is open, unless
// CacheKeep is negative.
func (l *Log) startEvictor() {
	if l.opts.CacheKeep < 0 {
		return
	}
	ev := &l.ev
	ev.upTo.Store(l.data[0].start)
	ev.wake, ev.quit, ev.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ev.done)
		for {
			select {
			case <-ev.quit:
				return
			case <-ev.wake:
				l.evict()
			}
		}
	}()
}

// stopEvictor ends the background eviction (Close, before it takes the
// locks); it waits for an eviction under way.
func (l *Log) stopEvictor() {
	ev := &l.ev
	if ev.quit == nil {
		return
	}
	ev.stop.Do(func() { close(ev.quit) })
	<-ev.done
}

// evictBelow tells the evictor that everything below global offset off is
// durable; syncMu held (Sync). It wakes the evictor once a chunk is due.
func (l *Log) evictBelow(off uint64) {
	ev := &l.ev
	if ev.wake == nil || off < uint64(l.opts.CacheKeep) {
		return
	}
	to := (off - uint64(l.opts.CacheKeep)) &^ (pageSize - 1)
	if to < ev.upTo.Load()+evictChunk || to <= ev.want.Load() {
		return
	}
	ev.want.Store(to)
	select {
	case ev.wake <- struct{}{}:
	default: // already woken: it reads want when it runs
	}
}

// evict evicts the data files' bytes in [upTo, want). want is never above
// the synced position: Sync sets it, and a truncation lowers both
// (evictFrom, under ev.mu).
func (l *Log) evict() {
	ev := &l.ev
	ev.mu.Lock()
	defer ev.mu.Unlock()
	from, to := ev.upTo.Load(), ev.want.Load()
	l.mu.Lock()
	if l.closed || len(l.data) == 0 {
		l.mu.Unlock()
		return
	}
	from = max(from, l.data[0].start)
	if to <= from {
		l.mu.Unlock()
		return
	}
	var files []*mfile
	for _, f := range l.data {
		if f.start < to && f.start+l.seg > from {
			files = append(files, f)
		}
	}
	l.mu.Unlock()
	for _, f := range files {
		lo, hi := max(from, f.start), min(to, f.start+l.seg)
		_ = f.f.Evict(int64(lo-f.start), int64(hi-lo)) // a hint: see the top of this file
	}
	if to > from {
		ev.upTo.Store(to)
	}
}

// evictFrom lowers the eviction point to off after the log lost its
// bytes above it (TruncateSuffix) or restarted at off (Reset), so that what
// is written there again is evicted in its turn; lockAll held.
func (l *Log) evictFrom(off uint64) {
	off &^= pageSize - 1
	if l.ev.upTo.Load() > off {
		l.ev.upTo.Store(off)
	}
	if l.ev.want.Load() > off {
		l.ev.want.Store(off)
	}
}
