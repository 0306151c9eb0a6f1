package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/rmqlog/rmqlog/record"
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
	// WriteThrough writes appended entries into the file with pwrite
	// instead of copying them into the mapping. Choose it with SYNC_FLUSH:
	// fdatasync of pages dirtied through a mapping measured 2.5-3x slower
	// here than of pages written with pwrite (results/storage.md). Without
	// it (ASYNC_FLUSH) an append is one memory copy and no system call.
	// Reads use the mapping either way.
	WriteThrough bool
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
	hdr      [HeaderSize]byte // header scratch for WriteThrough
	run      wtRun            // WriteThrough bytes staged for one pwrite
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
}

// view is an immutable snapshot of the file lists, for readers.
type view struct {
	data, index []*mfile
}

// termRun says that entries from first on have term (until the next run).
type termRun struct {
	first, term uint64
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

// Append adds one entry with the given term, type and payload and returns
// its index. The payload is copied into the mapped file once. The entry is
// readable at once and durable after a Sync that covers it. term must not
// be below the last entry's term.
func (l *Log) Append(term uint64, typ Type, payload []byte) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return 0, err
	}
	e := Entry{Term: term, Type: typ, Payload: payload}
	if err := l.append(&e, nil); err != nil {
		return 0, err
	}
	if err := l.finish(); err != nil {
		return 0, err
	}
	return e.Index, nil
}

// AppendBatch appends es in order, setting each one's Index, PrevCRC and
// CRC, and returns the last index. On an error the entries before the
// failing one stay appended; LastIndex tells how far it got.
func (l *Log) AppendBatch(es []Entry) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return 0, err
	}
	for i := range es {
		if err := l.append(&es[i], nil); err != nil {
			err = errors.Join(err, l.finish())
			return l.last.Load(), err
		}
	}
	err := l.finish()
	return l.last.Load(), err
}

// AppendFramed appends entries already framed by another log (a leader's
// bytes, as returned by Framed), storing them byte for byte so replicas
// are identical at identical offsets. It checks every entry's CRC, that
// the first continues this log (index, term and CRC chain) and that each
// continues the one before, all before writing anything. It returns the
// last index.
func (l *Log) AppendFramed(b []byte) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return 0, err
	}
	if err := l.checkFramed(b); err != nil {
		return 0, err
	}
	for len(b) > 0 {
		e, n := record.DecodeVerified(b) // checkFramed verified every CRC
		if err := l.append(&e, b[:n]); err != nil {
			err = errors.Join(err, l.finish())
			return l.last.Load(), err
		}
		b = b[n:]
	}
	err := l.finish()
	return l.last.Load(), err
}

// checkFramed validates a framed batch against the log's tail; mu held.
func (l *Log) checkFramed(b []byte) error {
	idx, term, crc := l.next.Index, l.lastTerm, l.lastCRC
	for off := 0; off < len(b); {
		e, n, err := Decode(b[off:])
		if err != nil {
			return fmt.Errorf("segment: framed entry at batch offset %d: %w", off, err)
		}
		if e.Index != idx || e.Term < term || e.PrevCRC != crc {
			return fmt.Errorf("%w: framed entry (index %d, term %d, prev crc %08x) after (index %d, term %d, crc %08x)",
				ErrNotContiguous, e.Index, e.Term, e.PrevCRC, idx-1, term, crc)
		}
		idx, term, crc, off = idx+1, e.Term, e.CRC, off+n
	}
	return nil
}

// append writes e at the end of the log; mu held. With framed == nil it
// frames e itself; otherwise framed holds e's exact bytes. The caller
// publishes.
func (l *Log) append(e *Entry, framed []byte) error {
	if !e.Type.Known() {
		return fmt.Errorf("segment: unknown entry type %d", e.Type)
	}
	if e.Term < l.lastTerm {
		return fmt.Errorf("%w: term %d after term %d", ErrNotContiguous, e.Term, l.lastTerm)
	}
	e.Index, e.PrevCRC = l.next.Index, l.lastCRC
	n := uint64(e.Size())
	if n > l.seg {
		return fmt.Errorf("%w: %d bytes framed, the segment size is %d", ErrTooLarge, n, l.seg)
	}
	if err := l.ensureIndex(e.Index); err != nil {
		return err
	}
	dst, off, err := l.reserve(n)
	if err != nil {
		return err
	}
	if l.opts.WriteThrough {
		err = l.writeThrough(e, framed, off)
	} else if framed != nil {
		copy(dst, framed)
	} else {
		record.Frame(dst, e)
	}
	if err != nil {
		return err
	}
	ix := l.index[len(l.index)-1] // ensureIndex made it cover e.Index
	binary.LittleEndian.PutUint64(ix.b[(e.Index-ix.start)*8:], off)
	if e.Term != l.lastTerm {
		l.addTermRun(e.Index, e.Term)
	}
	l.next = Position{Index: e.Index + 1, Offset: off + n}
	l.lastTerm, l.lastCRC = e.Term, e.CRC
	return nil
}

// writeThrough stages entry e (or its framed bytes) for global offset off,
// to be written with pwrite; mu held and off reserved. Entries that follow
// each other in one file are gathered into one run, written with one
// system call when the batch ends (finish) or the run reaches
// writeThroughRunMax: a batch costs one pwrite, not one per entry (each
// costs a few microseconds under the append lock). Entries over
// writeThroughCopyMax are written as payload, then header, without a copy.
// A failed write is sticky: the file may hold part of the entries.
func (l *Log) writeThrough(e *Entry, framed []byte, off uint64) error {
	f, _ := l.dataIn(l.view.Load(), off)
	pos := int64(off - f.start)
	n := e.Size()
	if n > writeThroughCopyMax {
		if err := l.flushRun(); err != nil {
			return err
		}
		return l.writeLarge(f, pos, e, framed)
	}
	r := &l.run
	if r.f != f || r.pos+int64(len(r.b)) != pos || len(r.b)+n > writeThroughRunMax {
		if err := l.flushRun(); err != nil {
			return err
		}
		r.f, r.pos = f, pos
	}
	k := len(r.b)
	r.b = slices.Grow(r.b, n)[:k+n]
	if framed != nil {
		copy(r.b[k:], framed)
	} else {
		record.Frame(r.b[k:], e)
	}
	return nil
}

func (l *Log) writeLarge(f *mfile, pos int64, e *Entry, framed []byte) error {
	var err error
	if framed != nil {
		_, err = f.f.WriteAt(framed, pos)
	} else {
		record.PutHeader(l.hdr[:], e)
		if _, err = f.f.WriteAt(e.Payload, pos+HeaderSize); err == nil {
			_, err = f.f.WriteAt(l.hdr[:], pos)
		}
	}
	if err != nil {
		return l.fail(fmt.Errorf("segment: write %s at %d: %w", f.path, pos, err))
	}
	return nil
}

// wtRun is the WriteThrough bytes staged for one pwrite at pos in f.
type wtRun struct {
	f   *mfile
	pos int64
	b   []byte
}

// flushRun writes the staged run; mu held.
func (l *Log) flushRun() error {
	r := &l.run
	if len(r.b) == 0 {
		return nil
	}
	_, err := r.f.f.WriteAt(r.b, r.pos)
	if err != nil {
		err = l.fail(fmt.Errorf("segment: write %s at %d: %w", r.f.path, r.pos, err))
	}
	r.b, r.f = r.b[:0], nil
	if cap(r.b) > 4*writeThroughRunMax {
		r.b = nil
	}
	return err
}

// finish writes what is staged and publishes the appended entries; mu
// held. After a failed write nothing more is published (the log failed).
func (l *Log) finish() error {
	if err := l.flushRun(); err != nil {
		return err
	}
	l.publish()
	return nil
}

// writeThroughCopyMax is the largest entry WriteThrough stages in a run;
// writeThroughRunMax bounds a run.
const (
	writeThroughCopyMax = 64 << 10
	writeThroughRunMax  = 1 << 20
)

// publish makes appended entries visible to readers; mu held.
func (l *Log) publish() { l.last.Store(l.next.Index - 1) }

// addTermRun records that term starts at index (copy on write); mu held.
func (l *Log) addTermRun(index, term uint64) {
	runs := *l.terms.Load()
	for len(runs) > 0 && runs[len(runs)-1].first >= index {
		runs = runs[:len(runs)-1]
	}
	runs = append(slices.Clip(runs), termRun{first: index, term: term})
	l.terms.Store(&runs)
}

// reserve returns the mapped bytes where an entry of n bytes goes and its
// global offset, rolling to the next data file if it does not fit; mu held.
func (l *Log) reserve(n uint64) ([]byte, uint64, error) {
	f := l.data[len(l.data)-1]
	off := l.next.Offset
	if off+n > f.start+l.seg {
		m, err := l.take(l.nextData, f.start+l.seg, dataExt, int64(l.seg))
		l.nextData = nil
		if err != nil {
			return nil, 0, err
		}
		l.data = append(l.data, m)
		l.setView()
		l.nextData = l.prepare(m.start+l.seg, dataExt, int64(l.seg))
		f, off = m, m.start
	}
	p := off - f.start
	if p >= l.seg/2 && l.nextData != nil && !l.nextData.hurry.Load() {
		l.nextData.hurry.Store(true) // the next file is needed within half a file
	}
	return f.b[p : p+n : p+n], off, nil
}

// ensureIndex makes sure the index file holding slot i exists; mu held.
// It runs before any byte of the entry is written, so a failure leaves
// nothing behind.
func (l *Log) ensureIndex(i uint64) error {
	f := l.index[len(l.index)-1]
	if i < f.start+l.slots {
		return nil
	}
	m, err := l.take(l.nextIdx, f.start+l.slots, indexExt, int64(l.slots*8))
	l.nextIdx = nil
	if err != nil {
		return err
	}
	l.index = append(l.index, m)
	l.setView()
	l.nextIdx = l.prepare(m.start+l.slots, indexExt, int64(l.slots*8))
	return nil
}

// setSlot records entry i's offset in the index; mu held and ensureIndex(i)
// done.
func (l *Log) setSlot(i, off uint64) {
	f := l.index[i/l.slots-l.index[0].start/l.slots]
	binary.LittleEndian.PutUint64(f.b[(i-f.start)*8:], off)
}

// setView publishes the current file lists to readers; mu held.
func (l *Log) setView() {
	l.view.Store(&view{data: slices.Clone(l.data), index: slices.Clone(l.index)})
}

// Read returns entry i, verifying its CRC. The payload aliases the mapped
// file: it is valid until the entry is removed (TruncateSuffix, or
// DeletePrefix followed by one more DeletePrefix) or the log is closed.
// Copy it to keep it longer; never write to it.
func (l *Log) Read(i uint64) (Entry, error) {
	b, err := l.entryBytes(i)
	if err != nil {
		return Entry{}, err
	}
	e, _, err := Decode(b)
	if err == nil && e.Index != i {
		err = fmt.Errorf("found index %d", e.Index)
	}
	if err != nil {
		if l.outOfRange(i) {
			return Entry{}, l.rangeErr(i) // removed while we read it
		}
		if !errors.Is(err, ErrCorrupt) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return Entry{}, l.locate(i, err)
	}
	return e, nil
}

// entryBytes returns the mapped bytes from entry i's start to its file's end.
func (l *Log) entryBytes(i uint64) ([]byte, error) {
	if l.outOfRange(i) {
		return nil, l.rangeErr(i)
	}
	v := l.view.Load()
	off, ok := l.offsetIn(v, i)
	if !ok {
		return nil, l.rangeErr(i)
	}
	f, ok := l.dataIn(v, off)
	if !ok || off+HeaderSize > f.start+l.seg {
		if l.outOfRange(i) {
			return nil, l.rangeErr(i) // removed while we looked it up
		}
		return nil, l.locate(i, fmt.Errorf("%w: index slot holds offset %d", ErrCorrupt, off))
	}
	return f.b[off-f.start:], nil
}

func (l *Log) outOfRange(i uint64) bool { return i < l.first.Load() || i > l.last.Load() }

func (l *Log) rangeErr(i uint64) error {
	return fmt.Errorf("%w: %d not in [%d, %d]", ErrOutOfRange, i, l.first.Load(), l.last.Load())
}

// offsetIn returns the global offset of entry i from the index files of v.
func (l *Log) offsetIn(v *view, i uint64) (uint64, bool) {
	if len(v.index) == 0 {
		return 0, false // Reset in progress
	}
	k := int64(i/l.slots) - int64(v.index[0].start/l.slots)
	if k < 0 || k >= int64(len(v.index)) {
		return 0, false
	}
	f := v.index[k]
	return binary.LittleEndian.Uint64(f.b[(i-f.start)*8:]), true
}

// dataIn returns the data file of v holding global offset off.
func (l *Log) dataIn(v *view, off uint64) (*mfile, bool) {
	if len(v.data) == 0 {
		return nil, false // Reset in progress
	}
	k := int64(off/l.seg) - int64(v.data[0].start/l.seg)
	if k < 0 || k >= int64(len(v.data)) {
		return nil, false
	}
	return v.data[k], true
}

// locate wraps err with the file and offset of entry i.
func (l *Log) locate(i uint64, err error) error {
	v := l.view.Load()
	if off, ok := l.offsetIn(v, i); ok {
		if f, ok := l.dataIn(v, off); ok {
			return fmt.Errorf("segment: entry %d in %s at file offset %d: %w", i, f.path, off-f.start, err)
		}
	}
	return fmt.Errorf("segment: entry %d: %w", i, err)
}

// Term returns the term of entry i without touching the disk. i may be
// FirstIndex()-1, the entry before the log's first (its term is kept).
func (l *Log) Term(i uint64) (uint64, error) {
	// Bounds first: appends store the runs before publishing last, so runs
	// loaded after last cover every entry up to it.
	if i < l.first.Load()-1 || i > l.last.Load() {
		return 0, l.rangeErr(i)
	}
	runs := *l.terms.Load()
	k, found := slices.BinarySearchFunc(runs, i, func(r termRun, i uint64) int {
		switch {
		case r.first < i:
			return -1
		case r.first > i:
			return 1
		}
		return 0
	})
	if !found {
		k--
	}
	return runs[k].term, nil
}

// Span returns the last index and the size in bytes of the batch Framed
// would return for (from, maxBytes, maxCount), from the index alone: a few
// lookups, however many entries the batch holds. The size counts the
// padding at the end of a data file the batch crosses.
func (l *Log) Span(from uint64, maxBytes, maxCount int) (uint64, int, error) {
	start, _, err := l.extent(from)
	if err != nil {
		return 0, 0, err
	}
	size := func(i uint64) (int, error) {
		_, end, err := l.extent(i)
		return int(end - start), err
	}
	hi := min(l.last.Load(), from+uint64(max(maxCount, 1))-1)
	n, err := size(hi)
	if err != nil || n <= maxBytes {
		return hi, n, err
	}
	lo := from // size(lo) may exceed maxBytes: a batch holds at least one entry
	for lo < hi-1 {
		mid := lo + (hi-lo)/2
		m, err := size(mid)
		if err != nil {
			return 0, 0, err
		}
		if m <= maxBytes {
			lo = mid
		} else {
			hi = mid
		}
	}
	n, err = size(lo)
	return lo, n, err
}

// extent returns the global offsets where entry i starts and ends.
func (l *Log) extent(i uint64) (uint64, uint64, error) {
	b, err := l.entryBytes(i)
	if err != nil {
		return 0, 0, err
	}
	index, _, n, err := record.Peek(b)
	if err != nil || index != i {
		return 0, 0, l.locate(i, fmt.Errorf("%w: bad header", ErrCorrupt))
	}
	off, _ := l.offsetIn(l.view.Load(), i)
	return off, off + uint64(n), nil
}

// Framed appends to bufs the framed bytes of entries from index from on,
// as slices of the mapped files (one per run of entries in one file), up to
// maxBytes (at least one entry) and maxCount entries. It returns bufs and
// the index after the last entry included. The slices follow Read's
// lifetime rule. This is what a leader sends and a follower passes to
// AppendFramed.
func (l *Log) Framed(from uint64, maxBytes, maxCount int, bufs [][]byte) ([][]byte, uint64, error) {
	var run []byte
	total, i := 0, from
	for ; i <= l.last.Load() && i-from < uint64(maxCount); i++ {
		b, err := l.entryBytes(i)
		if err != nil {
			return bufs, i, err
		}
		index, _, n, err := record.Peek(b)
		if err != nil || index != i {
			return bufs, i, l.locate(i, fmt.Errorf("%w: bad header", ErrCorrupt))
		}
		if total+n > maxBytes && i > from {
			break
		}
		if len(run) > 0 && cap(run) > len(run) && &run[:len(run)+1][len(run)] == &b[0] {
			run = run[:len(run)+n]
		} else {
			if len(run) > 0 {
				bufs = append(bufs, run)
			}
			run = b[:n]
		}
		total += n
	}
	if len(run) > 0 {
		bufs = append(bufs, run)
	}
	return bufs, i, nil
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

// lockAll takes syncMu, then mu, for Close and the structural changes
// (TruncateSuffix, DeletePrefix, Reset), and returns the function that
// releases both.
func (l *Log) lockAll() (unlock func()) {
	l.syncMu.Lock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		l.syncMu.Unlock()
	}
}

// WaitPrepared blocks until the background preparation of the next files
// has finished, so that a benchmark does not measure it. It must not run
// concurrently with appends.
func (l *Log) WaitPrepared() { l.prep.Wait() }

// Close stops background work, unmaps and closes every file. It does not
// sync: close the flusher first. Slices returned by reads become invalid.
func (l *Log) Close() error {
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
