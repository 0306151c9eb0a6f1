package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/rmqlog/rmqlog/record"
)

// Append adds one entry with the given term, type and payload and returns
// its index. The entry is written into the data file with pwrite (see
// stage) and is readable at once, durable after a Sync that covers it.
// term must not be below the last entry's term.
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
	f, off, err := l.reserve(n)
	if err != nil {
		return err
	}
	if framed == nil && e.Type != TypeNoop && l.opts.Stamp != nil {
		l.opts.Stamp(e.Type, e.Index, off+HeaderSize, e.Payload)
	}
	if err := l.stage(f, e, framed, off); err != nil {
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

// stage queues entry e (or its framed bytes) for global offset off of data
// file f, to be written with pwrite; mu held and off reserved. Entries that
// follow each other in one file are gathered into one run, written with one
// system call when the batch ends (finish) or the run reaches stageRunMax:
// a batch costs one pwrite, not one per entry (each costs a few
// microseconds under the append lock). Entries over stageCopyMax are
// written as payload, then header, without a copy. A failed write is
// sticky: the file may hold part of the entries.
func (l *Log) stage(f *mfile, e *Entry, framed []byte, off uint64) error {
	pos := int64(off - f.start)
	n := e.Size()
	if n > stageCopyMax {
		if err := l.flushRun(); err != nil {
			return err
		}
		return l.writeLarge(f, pos, e, framed)
	}
	r := &l.run
	if r.f != f || r.pos+int64(len(r.b)) != pos || len(r.b)+n > stageRunMax {
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

// writeLarge writes an entry over stageCopyMax at pos in f, without
// copying it; mu held. An entry to frame is written payload first, from
// where it lies, then its header.
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

// stagedRun is the bytes staged for one pwrite at pos in f.
type stagedRun struct {
	f   *mfile
	pos int64
	b   []byte
}

// flushRun writes the staged run; mu held. The run is padded with zeros
// to the end of its last page (the bytes after the log's end are zeros
// already, and a file's size is a multiple of the page size): a pwrite
// that covers whole pages never makes the kernel read a page it does not
// hold from the disk first, and the log evicts prewritten zeros from the
// page cache (evict.go). The next run starts on the page this one ended
// in, which is still cached.
func (l *Log) flushRun() error {
	r := &l.run
	if len(r.b) == 0 {
		return nil
	}
	n := len(r.b)
	if pad := int((pageSize - (r.pos+int64(n))%pageSize) % pageSize); pad > 0 {
		r.b = slices.Grow(r.b, pad)[:n+pad]
		clear(r.b[n:])
	}
	_, err := r.f.f.WriteAt(r.b, r.pos)
	if err != nil {
		err = l.fail(fmt.Errorf("segment: write %s at %d: %w", r.f.path, r.pos, err))
	}
	r.b, r.f = r.b[:0], nil
	if cap(r.b) > 4*stageRunMax {
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

// stageCopyMax is the largest entry stage copies into a run; stageRunMax
// bounds a run.
const (
	stageCopyMax = 64 << 10
	stageRunMax  = 1 << 20
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

// reserve returns the data file where an entry of n bytes goes and its
// global offset, rolling to the next data file if it does not fit; mu held.
func (l *Log) reserve(n uint64) (*mfile, uint64, error) {
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
	return f, off, nil
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
