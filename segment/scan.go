package segment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/edsrzf/mmap-go"
)

// Scanned is an entry found by Scan, with where it lies.
type Scanned struct {
	Entry
	File   string // data file path
	Offset uint64 // global offset of the entry's header
}

// ScanEnd says where and why Scan stopped.
type ScanEnd struct {
	Files         int    // data files read
	Entries       uint64 // entries passed to fn
	First, Last   uint64 // indexes of the first and last of them (0 if none)
	DurableBelow  uint64 // entries below this index were fsynced at the last checkpoint
	File          string // where the scan stopped ("" at the end of the last file)
	Offset        uint64 // global offset where it stopped
	Reason        string // "end of log", or what did not continue the log
	SegmentSize   uint64
	CheckpointSeq uint64
}

// Scan reads the log in dir without changing anything (for tools, on a
// stopped node) and calls fn for each entry in order, starting at the
// checkpoint's first entry. Every entry is CRC-checked and must continue
// the log: the next index, a term that does not go down, and a PrevCRC
// equal to the previous entry's CRC. Scan stops at zero bytes, at the end
// of the last data file, or at the first entry that does not continue the
// log (a torn tail, stale bytes behind a truncation, or corruption; recovery
// decides which using the durable index, reported in ScanEnd). Payloads
// alias read-only mappings valid only during fn. fn's error stops Scan and
// is returned. A directory a running node holds (its lock) is refused with
// ErrLocked: its files change while they are read.
func Scan(dir string, fn func(Scanned) error) (ScanEnd, error) {
	release, err := CheckUnused(dir)
	if err != nil {
		return ScanEnd{}, err
	}
	defer release()
	c, ok, err := readCheckpoint(OSFS{}, dir)
	if err != nil {
		return ScanEnd{}, err
	}
	if !ok {
		return ScanEnd{}, fmt.Errorf("segment: %s has no checkpoint file: not an rmqlog log directory (the commitlog directory of a node)", dir)
	}
	starts, err := dataFiles(dir)
	if err != nil {
		return ScanEnd{}, err
	}
	s := scanner{end: ScanEnd{SegmentSize: c.segSize, CheckpointSeq: c.seq, DurableBelow: c.durable.Index},
		next: c.base.Index, prev: c.baseCRC, term: c.baseTerm, off: c.base.Offset, fn: fn}
	for _, start := range starts {
		if start+c.segSize <= s.off {
			continue // entirely before the first entry
		}
		if start > s.off {
			s.end.Reason = fmt.Sprintf("data file %s is missing", fileName(s.off/c.segSize*c.segSize, dataExt))
			break
		}
		done, err := s.file(filepath.Join(dir, fileName(start, dataExt)), start)
		if err != nil || done {
			return s.end, err
		}
	}
	if s.end.Reason == "" {
		s.end.Reason = "end of log"
	}
	return s.end, nil
}

func dataFiles(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("segment: list %s: %w", dir, err)
	}
	var starts []uint64
	for _, e := range ents {
		if s, ok := parseName(e.Name(), dataExt); ok {
			starts = append(starts, s)
		}
	}
	slices.Sort(starts)
	return starts, nil
}

type scanner struct {
	end  ScanEnd
	next uint64 // index the next entry must have
	prev uint32 // CRC the next entry's PrevCRC must equal
	term uint64 // the next entry's term must be at least this
	off  uint64 // global offset of the next entry
	fn   func(Scanned) error
}

// file scans one data file that starts at global offset start; done when
// the log ended inside it.
func (s *scanner) file(path string, start uint64) (done bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("segment: open %s: %w", path, err)
	}
	defer f.Close()
	m, err := mmap.Map(f, mmap.RDONLY, 0)
	if err != nil {
		return false, fmt.Errorf("segment: map %s: %w", path, err)
	}
	defer m.Unmap()
	s.end.Files++
	for s.off-start+HeaderSize <= uint64(len(m)) {
		b := m[s.off-start:]
		if allZero(b[:HeaderSize]) {
			if s.nextFileMayContinue(b) {
				break // the rest of the file is padding: the log goes on in the next file
			}
			return true, s.stop(path, "end of log")
		}
		e, n, err := Decode(b)
		if err != nil {
			return true, s.stop(path, err.Error())
		}
		if why := s.continues(e); why != "" {
			return true, s.stop(path, why)
		}
		if err := s.fn(Scanned{Entry: e, File: path, Offset: s.off}); err != nil {
			return true, err
		}
		s.accept(e, uint64(n))
	}
	s.off = start + uint64(len(m)) // the next entry starts the next file
	return false, nil
}

// nextFileMayContinue: zeros up to the end of the file are padding before
// an entry that did not fit; zeros followed by data are not.
func (s *scanner) nextFileMayContinue(rest []byte) bool { return allZero(rest) }

func (s *scanner) continues(e Entry) string {
	switch {
	case e.Index != s.next:
		return fmt.Sprintf("entry index %d where %d was expected", e.Index, s.next)
	case e.Term < s.term:
		return fmt.Sprintf("entry %d has term %d, below the previous term %d", e.Index, e.Term, s.term)
	case e.PrevCRC != s.prev:
		return fmt.Sprintf("entry %d does not chain to entry %d (prevcrc %08x, want %08x): stale or foreign bytes", e.Index, e.Index-1, e.PrevCRC, s.prev)
	}
	return ""
}

func (s *scanner) accept(e Entry, n uint64) {
	if s.end.Entries == 0 {
		s.end.First = e.Index
	}
	s.end.Entries++
	s.end.Last = e.Index
	s.next, s.prev, s.term, s.off = e.Index+1, e.CRC, e.Term, s.off+n
}

func (s *scanner) stop(path, why string) error {
	s.end.File, s.end.Offset, s.end.Reason = path, s.off, why
	return nil
}

// ErrScanStopped may be returned by a Scan callback to end the scan early
// without an error worth reporting.
var ErrScanStopped = errors.New("segment: scan stopped")
