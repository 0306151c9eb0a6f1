package segment

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"
)

// TruncateSuffix removes entries i and after (a Raft log conflict). A crash
// at any point leaves a log that recovers either with or without them:
//  1. lower the checkpoint below entry i, durably, so recovery will not
//     call the removed entries' absence corruption;
//  2. zero entry i's header and fdatasync: this is the atomic cut;
//  3. zero the rest of what was written after it in that file, fdatasync;
//  4. remove the data and index files after the new end, sync the directory.
func (l *Log) TruncateSuffix(i uint64) error {
	defer l.lockAll()()
	if err := l.writable(); err != nil {
		return err
	}
	first, last := l.first.Load(), l.last.Load()
	if i < first || i > last+1 {
		return fmt.Errorf("%w: truncate at %d, log holds [%d, %d]", ErrOutOfRange, i, first, last)
	}
	if i == last+1 {
		return nil
	}
	pos, term, crc, err := l.boundary(i)
	if err != nil {
		return err
	}
	if _, err := l.Read(i); err != nil {
		return err // never cut where a damaged index slot points
	}
	l.last.Store(i - 1) // readers of the suffix now get ErrOutOfRange
	if err := l.lowerCheckpoint(pos); err != nil {
		return l.fail(err)
	}
	if err := l.cut(i); err != nil {
		return l.fail(err)
	}
	if err := l.removeAfter(pos); err != nil {
		return l.fail(err)
	}
	l.next, l.lastTerm, l.lastCRC = pos, term, crc
	l.evictFrom(pos.Offset)
	if l.synced.Index >= pos.Index {
		l.synced = pos
		l.durable.Store(pos.Index - 1)
	}
	runs := *l.terms.Load()
	for len(runs) > 1 && runs[len(runs)-1].first >= i {
		runs = runs[:len(runs)-1]
	}
	l.terms.Store(&runs)
	l.publish()
	return nil
}

// boundary returns the position right after entry i-1 (where entry i must
// go, as on the leader) and entry i-1's term and CRC; mu held.
func (l *Log) boundary(i uint64) (Position, uint64, uint32, error) {
	if i == l.first.Load() {
		c := l.ckpt
		return c.base, c.baseTerm, c.baseCRC, nil
	}
	e, err := l.Read(i - 1)
	if err != nil {
		return Position{}, 0, 0, err
	}
	off, _ := l.offsetIn(l.view.Load(), i-1)
	return Position{Index: i, Offset: off + uint64(e.Size())}, e.Term, e.CRC, nil
}

// lowerCheckpoint makes the checkpoint claim nothing at or after pos.
func (l *Log) lowerCheckpoint(pos Position) error {
	c := l.ckpt
	if c.scan.Index <= pos.Index && c.durable.Index <= pos.Index && c.synced.Index <= pos.Index {
		return nil
	}
	c.seq++
	if c.scan.Index > pos.Index {
		c.scan = pos
	}
	if c.durable.Index > pos.Index {
		c.durable = pos
	}
	if c.synced.Index > pos.Index {
		c.synced = pos
	}
	if err := l.ckf.write(c); err != nil {
		return err
	}
	l.ckpt = c
	return nil
}

// cut zeroes entry i's header durably, then the bytes written after it in
// its file, with real writes (unwritten extents would slow later syncs);
// mu held, entry i verified.
func (l *Log) cut(i uint64) error {
	v := l.view.Load()
	off, _ := l.offsetIn(v, i)
	f, ok := l.dataIn(v, off)
	if !ok {
		return fmt.Errorf("%w: entry %d: index slot holds offset %d", ErrCorrupt, i, off)
	}
	p := off - f.start
	clear(f.b[p : p+HeaderSize])
	if err := f.f.Sync(); err != nil {
		return fmt.Errorf("segment: fdatasync %s: %w", f.path, err)
	}
	end := l.seg
	if l.next.Offset > f.start && l.next.Offset < f.start+l.seg {
		end = l.next.Offset - f.start
	}
	if end > p+HeaderSize {
		if err := writeZeros(f.f, int64(p+HeaderSize), int64(end-p-HeaderSize)); err != nil {
			return fmt.Errorf("segment: zero %s: %w", f.path, err)
		}
		if err := f.f.Sync(); err != nil {
			return fmt.Errorf("segment: fdatasync %s: %w", f.path, err)
		}
	}
	return nil
}

// activeStart returns the start of the data file the next entry goes to
// (or, if the last file is exactly full, that file).
func (l *Log) activeStart(next Position) uint64 {
	s := next.Offset / l.seg * l.seg
	if next.Offset%l.seg == 0 && next.Index > l.first.Load() && s > l.data[0].start {
		s -= l.seg
	}
	return s
}

// removeAfter removes the data and index files after those next needs;
// mu held.
func (l *Log) removeAfter(next Position) error {
	keepIdx := max(next.Index/l.slots*l.slots, l.index[0].start)
	var drop, more []*mfile
	l.data, drop = splitAfter(l.data, l.activeStart(next))
	l.index, more = splitAfter(l.index, keepIdx)
	drop = append(drop, more...)
	slices.Reverse(drop) // newest first: a crash never leaves a hole
	return l.remove(drop)
}

// remove deletes files in order and syncs the directory. Their mappings
// stay valid until the next call (see Read); mu held.
func (l *Log) remove(files []*mfile) error {
	if len(files) == 0 {
		return nil
	}
	l.setView()
	for _, f := range files {
		if err := l.fs.Remove(f.path); err != nil {
			return fmt.Errorf("segment: remove %s: %w", f.path, err)
		}
	}
	for _, f := range l.retired {
		_ = f.close()
	}
	l.retired = files
	return l.fs.SyncDir(l.dir)
}

// DeletePrefix removes the oldest data files whose entries are all below i
// and already durable (retention), with their index files, and returns the
// new first index. The active file is never removed. A crash at any point
// recovers to the old or the new first index:
//  1. write the checkpoint with the new base durably, into both slots (a
//     flipped bit in one slot then cannot send recovery to a removed file);
//  2. remove the files below it, oldest first, and sync the directory
//     (recovery removes any that remain below the base).
func (l *Log) DeletePrefix(i uint64) (uint64, error) {
	defer l.lockAll()()
	if err := l.writable(); err != nil {
		return 0, err
	}
	k, base := 0, l.ckpt.base
	for ; k+1 < len(l.data); k++ {
		fi, ok := l.firstIndexOf(l.data[k+1])
		if !ok || fi > i || fi > l.synced.Index || fi > l.last.Load() {
			break
		}
		base = Position{Index: fi, Offset: l.data[k+1].start}
	}
	if k == 0 {
		return l.first.Load(), nil
	}
	_, term, crc, err := l.boundary(base.Index) // entry base.Index-1, or the old base's
	if err != nil {
		return 0, err
	}
	c := l.ckpt
	c.seq++
	c.base, c.baseTerm, c.baseCRC = base, term, crc
	if c.scan.Index <= base.Index {
		c.scan = base
	}
	if c.durable.Index <= base.Index {
		c.durable = base
	}
	if c.synced.Index <= base.Index {
		c.synced = base
	}
	if err := l.ckf.writeBoth(&c); err != nil {
		return 0, l.fail(err)
	}
	l.ckpt = c
	return base.Index, l.dropBefore(k, base)
}

// dropBefore removes data files [0, k) and the index files wholly below
// base.Index, and publishes base as the first entry; mu held.
func (l *Log) dropBefore(k int, base Position) error {
	drop := append([]*mfile(nil), l.data[:k]...)
	l.data = l.data[k:]
	j := 0
	for j+1 < len(l.index) && l.index[j].start+l.slots <= base.Index {
		j++
	}
	drop = append(drop, l.index[:j]...)
	l.index = l.index[j:]
	l.first.Store(base.Index)
	runs := *l.terms.Load()
	for len(runs) > 1 && runs[1].first <= base.Index-1 {
		runs = runs[1:]
	}
	l.terms.Store(&runs)
	if err := l.remove(drop); err != nil {
		return l.fail(err)
	}
	return nil
}

// firstIndexOf returns the index of the first entry of data file f.
func (l *Log) firstIndexOf(f *mfile) (uint64, bool) {
	e, _, err := Decode(f.b)
	return e.Index, err == nil
}

// FileInfo describes one data file, for retention decisions.
type FileInfo struct {
	Path       string
	FirstIndex uint64 // index of its first entry
	Size       int64
	ModTime    time.Time // last write
}

// Segments describes the data files, oldest first.
func (l *Log) Segments() ([]FileInfo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	infos := make([]FileInfo, 0, len(l.data))
	for k, f := range l.data {
		fi := l.first.Load()
		if k > 0 {
			fi, _ = l.firstIndexOf(f)
		}
		mt, err := f.f.ModTime()
		if err != nil {
			return nil, fmt.Errorf("segment: stat %s: %w", filepath.Base(f.path), err)
		}
		infos = append(infos, FileInfo{Path: f.path, FirstIndex: fi, Size: int64(l.seg), ModTime: mt})
	}
	return infos, nil
}

// RetentionIndex returns the index below which entries may be deleted
// under RocketMQ-style retention: a file other than the newest goes once
// its last write is older than maxAge (fileReservedTime), or while the
// files together exceed maxBytes (oldest first). Zero disables a limit.
// It decides only; the caller passes the result to DeletePrefix.
func RetentionIndex(segs []FileInfo, now time.Time, maxAge time.Duration, maxBytes int64) uint64 {
	if len(segs) == 0 {
		return 0
	}
	var total int64
	for _, s := range segs {
		total += s.Size
	}
	k := 0
	for ; k+1 < len(segs); k++ {
		old := maxAge > 0 && now.Sub(segs[k].ModTime) > maxAge
		big := maxBytes > 0 && total > maxBytes
		if !old && !big {
			break
		}
		total -= segs[k].Size
	}
	return segs[k].FirstIndex
}
