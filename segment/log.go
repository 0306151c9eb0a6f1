package segment

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Options configure a Log. The zero value gives the defaults.
type Options struct {
	// SegmentSize is the size of every data file (RocketMQ's
	// mappedFileSizeCommitLog). Default 1 GiB; at least 4 KiB, a multiple
	// of 4 KiB. It cannot change for an existing log.
	SegmentSize int64
	// IndexEntries is the number of entries per index file (8 bytes each).
	// Default 4 Mi (32 MiB files). An existing log keeps its own.
	IndexEntries int64
	// FirstIndex is the index of the first entry of a new log. Default 1.
	FirstIndex uint64
	// FS is the file system; default OSFS.
	FS FS
	// NoPrewrite skips writing zeros over new files before use. Prewriting
	// (the default) makes later fdatasyncs overwrite written blocks, which
	// is faster than converting unwritten extents; see docs/durability.md.
	NoPrewrite bool
	// PrewriteRate bounds, in bytes per second, how fast a file prepared
	// in the background is zero-filled; 0 (the default) or negative: as
	// fast as the disk goes. The zeros are synced every 4 MiB either way,
	// so that the log's own syncs never queue behind a gigabyte of
	// writeback (results/segment-size.md). Once the active file is half
	// full, or an append waits for the file, the rest is written at full
	// speed.
	PrewriteRate int64
	// Logger receives recovery reports. Default slog.Default().
	Logger *slog.Logger
	// VerifyAll makes recovery verify every entry of the log (CRC, index,
	// term, CRC chain) instead of only those written since the last
	// checkpoints, so that damage anywhere in the files is found at start.
	// It reads the whole log once.
	VerifyAll bool
	// OnDamage, if set, is called when recovery finds damage: an entry that
	// fails its checks where the log is known to have had entries (below
	// the synced position, or followed by a valid entry). If it returns nil,
	// the log is cut before the damaged entry, durably, and Open succeeds
	// with the shorter log; the caller must get the lost entries back from a
	// replica. If OnDamage is nil or returns an error, Open fails.
	OnDamage func(Damage) error
	// CheckUnsynced makes recovery also call a bad entry damage when it lies
	// above the synced position but a valid entry follows it. Set it when
	// entries are acknowledged before they are synced (ASYNC_FLUSH): a bit
	// flip there is otherwise taken for a torn tail. A write torn by a
	// power cut that left a later page intact is then taken for damage too
	// (the node resyncs what it did not need to).
	CheckUnsynced bool
	// Stamp, if set, is called by Append and AppendBatch for each entry
	// other than a no-op once its place in the log is known and before it is
	// framed (so its CRC covers what Stamp wrote): typ is the entry's type,
	// index its index, offset the global offset of its payload's first
	// byte. Stamp may
	// rewrite the payload in place, keeping its length; the caller of Append
	// hands its payload over. It runs under the log's lock: keep it short.
	// AppendFramed never calls it: those bytes are another log's, stored as
	// they are. (The broker writes RocketMQ's physical and queue offsets into
	// a message here; docs/broker.md.)
	Stamp func(typ Type, index, offset uint64, payload []byte)
	// CacheKeep is how many bytes of data behind the synced position stay
	// in memory: older synced bytes are evicted from the mapping and the
	// page cache in the background, so that the log does not grow the page
	// cache without bound (see evict.go for why that costs). Default 256
	// MiB; negative: never evict (the kernel reclaims under pressure).
	// Reads of evicted bytes come from the disk.
	CacheKeep int64

	// inlinePrepare prepares files on the caller's goroutine, so a test's
	// fault injection sees a deterministic sequence of operations.
	inlinePrepare bool
}

const (
	defaultSegmentSize  = 1 << 30
	defaultIndexEntries = 4 << 20
	minSegmentSize      = 4 << 10
	maxSegmentSize      = 4 << 30 // payload lengths are 32 bits
	maxIndexEntries     = 1 << 30
)

func (o Options) withDefaults() (Options, error) {
	if o.SegmentSize == 0 {
		o.SegmentSize = defaultSegmentSize
	}
	if o.SegmentSize < minSegmentSize || o.SegmentSize > maxSegmentSize || o.SegmentSize%minSegmentSize != 0 {
		return o, fmt.Errorf("segment: segment size %d: must be a multiple of %d from %d to %d",
			o.SegmentSize, minSegmentSize, minSegmentSize, int64(maxSegmentSize))
	}
	if o.IndexEntries == 0 {
		o.IndexEntries = defaultIndexEntries
	}
	if o.IndexEntries < 512 || o.IndexEntries > maxIndexEntries || o.IndexEntries%512 != 0 {
		return o, fmt.Errorf("segment: index entries %d: must be a multiple of 512 up to %d", o.IndexEntries, maxIndexEntries)
	}
	if o.FirstIndex == 0 {
		o.FirstIndex = 1
	}
	if o.FS == nil {
		o.FS = OSFS{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CacheKeep == 0 {
		o.CacheKeep = defaultCacheKeep
	}
	return o, nil
}

// Log is a segmented, memory-mapped, CRC-checked log of entries with dense
// indexes. One goroutine at a time may write (Append*, TruncateSuffix,
// DeletePrefix): the methods serialise themselves. Reads (Read, Term,
// Framed, FirstIndex, LastIndex) are lock-free and may run concurrently
// with anything but Close.
type Log struct {
	dir   string
	fs    FS
	opts  Options
	seg   uint64 // data file size
	slots uint64 // entries per index file
	// dirLock is the lock on dir (FS.Lock), held from Open to Close.
	dirLock io.Closer

	// syncMu serialises Sync, Checkpoint, TruncateSuffix, DeletePrefix and
	// Close, and guards synced, ckpt and ckf. Lock order: syncMu, then mu.
	syncMu sync.Mutex
	synced Position   // every entry below synced.Index is durable
	toSync []*mfile   // scratch for Sync and Checkpoint
	ckpt   checkpoint // the last checkpoint written
	ckf    *ckptFile
	// damaged: recovery found damage and OnDamage accepted the cut (Open only).
	damaged bool

	// mu serialises appends and guards every field below it.
	mu       sync.Mutex
	next     Position // where the next entry goes
	lastTerm uint64
	lastCRC  uint32
	hdr      [HeaderSize]byte // header scratch for writeLarge
	run      stagedRun        // appended bytes staged for one pwrite
	data     []*mfile         // contiguous data files: data[k].start = data[0].start + k*seg
	index    []*mfile         // contiguous index files, likewise by slots
	nextData *pending         // the data file after the last, being prepared
	nextIdx  *pending         // the index file after the last, being prepared
	retired  []*mfile         // removed files still mapped for readers (see Read)
	closed   bool

	// Published for lock-free readers; written under mu.
	view    atomic.Pointer[view]
	first   atomic.Uint64
	last    atomic.Uint64
	terms   atomic.Pointer[[]termRun]
	durable atomic.Uint64
	failure atomic.Pointer[error] // sticky I/O failure

	prep sync.WaitGroup // background file preparations
	ev   evictor        // background eviction of synced data from memory (evict.go)
}

// Dir returns the directory the log lives in.
func (l *Log) Dir() string { return l.dir }

// FirstIndex returns the index of the first entry the log holds (or would
// hold: an empty log has LastIndex() == FirstIndex()-1).
func (l *Log) FirstIndex() uint64 { return l.first.Load() }

// LastIndex returns the index of the last entry, FirstIndex()-1 if empty.
func (l *Log) LastIndex() uint64 { return l.last.Load() }

// DurableIndex returns the index of the last entry a Sync made durable.
func (l *Log) DurableIndex() uint64 { return l.durable.Load() }

// SegmentSize returns the size of the data files.
func (l *Log) SegmentSize() int64 { return int64(l.seg) }

// Err returns the sticky failure, or nil while the log is healthy.
func (l *Log) Err() error {
	if p := l.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// fail makes err sticky: every later write and sync returns it.
func (l *Log) fail(err error) error {
	err = fmt.Errorf("%w: %w", ErrFailed, err)
	l.failure.CompareAndSwap(nil, &err)
	return l.Err()
}

// writable reports why the log cannot take writes; mu must be held.
func (l *Log) writable() error {
	if l.closed {
		return ErrClosed
	}
	return l.Err()
}

// Sync makes every entry appended before the call durable (fdatasync of
// the data files written since the last Sync) and returns the index of the
// last entry it covers. A failure is sticky. Only package flush should call
// it: it decides when.
func (l *Log) Sync() (uint64, error) {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if err := l.syncable(); err != nil {
		return l.synced.Index - 1, err
	}
	l.mu.Lock()
	target := l.next
	files := l.dataBetween(l.toSync[:0], l.synced.Offset, target.Offset)
	l.toSync = files
	l.mu.Unlock()
	for _, f := range files {
		if err := f.f.Sync(); err != nil {
			return l.synced.Index - 1, l.fail(fmt.Errorf("segment: fdatasync %s: %w", f.path, err))
		}
	}
	l.synced = target
	l.durable.Store(target.Index - 1)
	l.evictBelow(target.Offset)
	if l.ckf != nil && target != l.ckpt.synced {
		switch err := l.ckf.hint(l.ckpt.seq, target); {
		case err == nil:
			l.ckpt.synced = target
		case !isNoSpace(err): // the hint is advisory, but an I/O error is not
			return target.Index - 1, l.fail(err)
		}
	}
	return target.Index - 1, nil
}

// syncable reports why Sync or Checkpoint cannot run; syncMu held.
func (l *Log) syncable() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writable()
}

// dataBetween appends to fs the data files overlapping [from, to); mu held.
func (l *Log) dataBetween(fs []*mfile, from, to uint64) []*mfile {
	for _, f := range l.data {
		if f.start < to && f.start+l.seg > from {
			fs = append(fs, f)
		}
	}
	return fs
}

// indexBetween appends to fs the index files holding slots [from, to); mu
// held.
func (l *Log) indexBetween(fs []*mfile, from, to uint64) []*mfile {
	for _, f := range l.index {
		if f.start < to && f.start+l.slots > from {
			fs = append(fs, f)
		}
	}
	return fs
}

// Checkpoint records how far the log is durable so recovery can start near
// the end instead of reading everything:
//  1. fdatasync the index files written since the last checkpoint;
//  2. write the checkpoint slot not used last time: recovery will scan
//     from the previous checkpoint's durable position and treat a bad
//     entry below this one's as corruption;
//  3. fdatasync the checkpoint file.
//
// It is slow (two or more fsyncs) and is called by package flush off the
// ack path. A failure is sticky.
func (l *Log) Checkpoint() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if err := l.syncable(); err != nil {
		return err
	}
	d := l.synced
	if d == l.ckpt.durable {
		return nil
	}
	l.mu.Lock()
	files := l.indexBetween(l.toSync[:0], l.ckpt.durable.Index, d.Index)
	l.toSync = files
	l.mu.Unlock()
	for _, f := range files {
		if err := f.f.Sync(); err != nil {
			return l.fail(fmt.Errorf("segment: fdatasync %s: %w", f.path, err))
		}
	}
	c := l.ckpt
	c.seq++
	c.scan, c.durable = c.durable, d
	if err := l.ckf.write(c); err != nil {
		return l.fail(err)
	}
	l.ckpt = c
	return nil
}

// lockAll takes ev.mu (no eviction under way), syncMu, then mu, for Close
// and the structural changes (TruncateSuffix, DeletePrefix, Reset), and
// returns the function that releases them.
func (l *Log) lockAll() (unlock func()) {
	l.ev.mu.Lock()
	l.syncMu.Lock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		l.syncMu.Unlock()
		l.ev.mu.Unlock()
	}
}

// WaitPrepared blocks until the background preparation of the next files
// has finished, so that a benchmark does not measure it. It must not run
// concurrently with appends.
func (l *Log) WaitPrepared() { l.prep.Wait() }

// Close stops background work, unmaps and closes every file. It does not
// sync: close the flusher first. Slices returned by reads become invalid.
func (l *Log) Close() error {
	l.stopEvictor()
	defer l.lockAll()()
	if l.closed {
		return nil
	}
	l.closed = true
	for _, p := range []*pending{l.nextData, l.nextIdx} {
		if p != nil {
			p.abandon.Store(true) // a paced zero-fill of a gigabyte would hold Close for seconds
		}
	}
	l.prep.Wait()
	var errs []error
	for _, p := range []*pending{l.nextData, l.nextIdx} {
		if p != nil && p.m != nil {
			errs = append(errs, p.m.close())
		}
	}
	for _, fs := range [][]*mfile{l.data, l.index, l.retired} {
		for _, f := range fs {
			errs = append(errs, f.close())
		}
	}
	if l.ckf != nil {
		errs = append(errs, l.ckf.f.Close())
	}
	if l.dirLock != nil {
		errs = append(errs, l.dirLock.Close()) // last: nothing of the log is open any more
	}
	return errors.Join(errs...)
}
