package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/rmqlog/rmqlog/record"
)

// view is an immutable snapshot of the file lists, for readers.
type view struct {
	data, index []*mfile
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

// Offset returns the global offset of entry i's first byte (its header).
// Replicas with the same segment size hold every entry at the same offset;
// an entry's payload starts HeaderSize bytes later (see Options.Stamp).
func (l *Log) Offset(i uint64) (uint64, error) {
	if l.outOfRange(i) {
		return 0, l.rangeErr(i)
	}
	off, ok := l.offsetIn(l.view.Load(), i)
	if !ok || l.outOfRange(i) {
		return 0, l.rangeErr(i)
	}
	return off, nil
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

// termRun says that entries from first on have term (until the next run).
type termRun struct {
	first, term uint64
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
