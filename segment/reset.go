package segment

import (
	"fmt"
	"slices"
)

// Reset discards the whole log and restarts it empty at base: the next
// entry appended is base.Index, at global offset base.Offset, following an
// entry of term prevTerm whose CRC was prevCRC. A follower uses it when the
// leader no longer has the entries it lacks (retention deleted them): it
// restarts at the leader's first entry, at the leader's offset, so replicas
// stay byte-identical. base.Index must be above LastIndex(). A crash at any
// point recovers to the old log or to the empty one:
//  1. write the checkpoint with the new base durably, into both slots
//     (writeBoth); recovery then removes every file below it and treats
//     anything above it as a torn tail;
//  2. remove every data and index file, sync the directory;
//  3. create the files the new base falls in.
func (l *Log) Reset(base Position, prevTerm uint64, prevCRC uint32) error {
	defer l.lockAll()()
	if err := l.writable(); err != nil {
		return err
	}
	if base.Index <= l.last.Load() {
		return fmt.Errorf("%w: reset to %d, the log already holds up to %d; truncate instead",
			ErrOutOfRange, base.Index, l.last.Load())
	}
	c := l.ckpt
	c.seq++
	c.base, c.baseTerm, c.baseCRC, c.scan, c.durable, c.synced = base, prevTerm, prevCRC, base, base, base
	if err := l.ckf.writeBoth(&c); err != nil {
		return l.fail(err)
	}
	l.ckpt = c
	// Readers see an empty range before the files go.
	l.first.Store(base.Index)
	l.last.Store(base.Index - 1)
	l.discard(l.nextData)
	l.discard(l.nextIdx)
	l.nextData, l.nextIdx = nil, nil
	old := slices.Concat(l.data, l.index)
	l.data, l.index = nil, nil
	if err := l.remove(old); err != nil {
		return l.fail(err)
	}
	l.evictFrom(base.Offset)
	return l.restartAt(base, prevTerm, prevCRC)
}

// Base returns where the log starts: base is the position of its first
// entry (its index, FirstIndex, and the global offset where it starts);
// prevTerm and prevCRC are the term and CRC of the entry before it, 0 if
// there is none: the first entry's term is not below prevTerm and its
// PrevCRC equals prevCRC. A leader sends the three to a follower that must
// Reset (they are Reset's arguments) because it lacks entries the leader
// deleted.
func (l *Log) Base() (base Position, prevTerm uint64, prevCRC uint32) {
	l.syncMu.Lock() // ckpt is written under syncMu (Checkpoint), not mu
	defer l.syncMu.Unlock()
	return l.ckpt.base, l.ckpt.baseTerm, l.ckpt.baseCRC
}

// restartAt creates the files for an empty log at base and resets the
// append state; mu held.
func (l *Log) restartAt(base Position, prevTerm uint64, prevCRC uint32) error {
	d, err := l.take(nil, base.Offset/l.seg*l.seg, dataExt, int64(l.seg))
	if err != nil {
		return l.fail(err)
	}
	x, err := l.take(nil, base.Index/l.slots*l.slots, indexExt, int64(l.slots*8))
	if err != nil {
		_ = d.close()
		return l.fail(err)
	}
	l.data, l.index = []*mfile{d}, []*mfile{x}
	l.setView()
	l.next, l.lastTerm, l.lastCRC = base, prevTerm, prevCRC
	l.terms.Store(&[]termRun{{first: base.Index - 1, term: prevTerm}})
	l.synced = base
	l.durable.Store(base.Index - 1)
	l.nextData = l.prepare(d.start+l.seg, dataExt, int64(l.seg))
	l.nextIdx = l.prepare(x.start+l.slots, indexExt, int64(l.slots*8))
	return nil
}
