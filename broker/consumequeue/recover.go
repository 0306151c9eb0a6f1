package consumequeue

import (
	"fmt"
	"path/filepath"
	"strconv"
)

// sectorSize is the unit of a torn write: a power cut keeps or loses each
// sector written since the last fsync (segment.MemFS.CrashTorn models it).
const sectorSize = 512

// load opens every queue's files and checks their names and sizes; it
// reads no units (TruncateFrom does).
func (s *Store) load() error {
	topics, err := s.fs.List(s.dir)
	if err != nil {
		return fmt.Errorf("consumequeue: list %s: %w", s.dir, err)
	}
	for _, t := range topics {
		if !validTopic(t) {
			return fmt.Errorf("%w: %s is not a topic directory (a RocketMQ topic name); "+
				"move it out of %s and restart", ErrCorrupt, filepath.Join(s.dir, t), s.dir)
		}
		ids, err := s.fs.List(filepath.Join(s.dir, t))
		if err != nil {
			return fmt.Errorf("consumequeue: list %s: %w", filepath.Join(s.dir, t), err)
		}
		for _, name := range ids {
			id, err := strconv.ParseInt(name, 10, 32)
			if err != nil || id < 0 || strconv.Itoa(int(id)) != name {
				return fmt.Errorf("%w: %s is not a queue directory (a queue id); move it out of %s and restart",
					ErrCorrupt, filepath.Join(s.dir, t, name), filepath.Join(s.dir, t))
			}
			if err := s.queue(t, int32(id), true).load(); err != nil {
				return err
			}
		}
	}
	return nil
}

// load opens the queue's files: consecutive names, each of the configured
// size.
func (q *Queue) load() error {
	names, err := q.st.fs.List(q.dir)
	if err != nil {
		return fmt.Errorf("consumequeue: list %s: %w", q.dir, err)
	}
	fileBytes := q.upf() * UnitSize
	for _, name := range names {
		path := filepath.Join(q.dir, name)
		start, ok := parseFileName(name)
		if !ok || start%fileBytes != 0 {
			return fmt.Errorf("%w: %s is not a consume queue file of %d units (a 20-digit byte offset, a multiple of %d); "+
				"if the store was written with another UnitsPerFile, open it with that; else move the file out of %s",
				ErrCorrupt, path, q.upf(), fileBytes, q.dir)
		}
		if n := len(q.files); n > 0 && start != (q.files[n-1].first+q.upf())*UnitSize {
			return fmt.Errorf("%w: %s: gap in %s after %s (files must be consecutive); "+
				"restore the missing file, or reopen with Options.Rebuild to rebuild every queue from the log",
				ErrCorrupt, path, q.dir, q.files[n-1].path)
		}
		f, err := q.st.fs.Open(path)
		if err != nil {
			return fmt.Errorf("consumequeue: open %s: %w", path, err)
		}
		q.files = append(q.files, &qfile{f: f, path: path, first: start / UnitSize})
		size, err := f.Size()
		if err != nil {
			return fmt.Errorf("consumequeue: stat %s: %w", path, err)
		}
		if size != fileBytes {
			return fmt.Errorf("%w: %s has %d bytes, want %d (%d units of %d bytes); if the store was written "+
				"with UnitsPerFile %d, open it with that; else reopen with Options.Rebuild to rebuild every queue from the log",
				ErrCorrupt, path, size, fileBytes, q.upf(), UnitSize, size/UnitSize)
		}
	}
	return nil
}

// TruncateFrom removes from every queue the units with a physical offset
// at or above physOffset, and torn or empty units at a file's tail, so
// that the caller can replay the log from the first entry after the
// checkpoint (whose first message is at physOffset). It then sets every
// queue's min and max offset. It must run after Open and before Put.
func (s *Store) TruncateFrom(physOffset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.failed != nil {
		return s.failed
	}
	s.lastPhys = -1
	for _, byID := range s.queues {
		for _, q := range byID {
			if err := q.truncateFrom(physOffset); err != nil {
				return err
			}
			s.lastPhys = max(s.lastPhys, q.lastPhys)
		}
	}
	s.recovered = true
	return nil
}

// truncateFrom cuts the queue at bound, from its last file back; s.mu
// held exclusively.
func (q *Queue) truncateFrom(bound int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	// The scans read whole files (6 MB at the default size): let the
	// buffer go, or every queue would keep one.
	defer func() { q.scratch = nil }()
	q.lastPhys = -1
	for len(q.files) > 0 {
		f := q.files[len(q.files)-1]
		prev := int64(-1)
		if len(q.files) > 1 {
			u, err := q.unitAt(f.first - 1)
			if err != nil {
				return err
			}
			prev = u.Phys
		}
		b, err := q.readUnits(f.first, int(q.upf()))
		if err != nil {
			return err
		}
		start, k, err := scanUnits(b, prev, bound, len(q.files) == 1, f)
		if err != nil {
			return err
		}
		q.next, q.known = f.first+int64(start), true
		if k == start {
			if err := q.removeLast(); err != nil {
				return err
			}
			continue
		}
		if err := q.zeroFrom(f, k, b); err != nil {
			return err
		}
		q.next, q.lastPhys = f.first+int64(k), DecodeUnit(b[(k-1)*UnitSize:]).Phys
		break
	}
	if err := q.checkFull(bound); err != nil {
		return err
	}
	q.min = q.next
	if len(q.files) > 0 {
		n, err := q.leadingBlanks(q.files[0])
		if err != nil {
			return err
		}
		q.min = min(q.files[0].first+int64(n), q.next)
	}
	return nil
}

// fullChecked is how many full files before the last TruncateFrom checks
// (RocketMQ's recover scans from the third file from the end).
const fullChecked = 2

// checkFull checks the full files before the last one, up to fullChecked
// of them: every unit below bound and increasing. They were synced before
// the checkpoint, so anything else is damage; q.mu held.
func (q *Queue) checkFull(bound int64) error {
	from := max(0, len(q.files)-1-fullChecked)
	prev := int64(-1)
	if from > 0 {
		u, err := q.unitAt(q.files[from].first - 1)
		if err != nil {
			return err
		}
		prev = u.Phys
	}
	for i := from; i < len(q.files)-1; i++ {
		f := q.files[i]
		b, err := q.readUnits(f.first, int(q.upf()))
		if err != nil {
			return err
		}
		j := 0
		for i == 0 && j < len(b)/UnitSize && DecodeUnit(b[j*UnitSize:]).blank() {
			j++
		}
		for ; j < len(b)/UnitSize; j++ {
			u := DecodeUnit(b[j*UnitSize:])
			if !u.valid() || u.Phys <= prev || u.Phys >= bound {
				return fmt.Errorf("%w: %s unit %d (queue offset %d): %v after physical offset %d, in a full file "+
					"before the checkpoint (bound %d): the queues are derived from the log: "+
					"reopen with Options.Rebuild to rebuild them", ErrCorrupt, f.path, j, f.first+int64(j), u, prev, bound)
			}
			prev = u.Phys
		}
	}
	return nil
}

// leadingBlanks counts the blank units at the start of f; q.mu held.
func (q *Queue) leadingBlanks(f *qfile) (int, error) {
	b, err := q.readUnits(f.first, int(q.upf()))
	if err != nil {
		return 0, err
	}
	n := 0
	for n*UnitSize < len(b) && DecodeUnit(b[n*UnitSize:]).blank() {
		n++
	}
	return n, nil
}

// scanUnits finds where a file's units end: at the first empty unit, the
// first at or above bound, or the first torn one. first says the file is
// the queue's first (leading blanks allowed). It returns the index of the
// first real unit (start) and the count of units to keep (k >= start).
// Anything else out of order is ErrCorrupt naming the file.
func scanUnits(b []byte, prev, bound int64, first bool, f *qfile) (start, k int, err error) {
	n := len(b) / UnitSize
	i := 0
	for first && i < n && DecodeUnit(b[i*UnitSize:]).blank() {
		i++
	}
	start = i
	for ; i < n; i++ {
		u := DecodeUnit(b[i*UnitSize:])
		if u.empty() || u.Phys >= bound {
			break
		}
		if !u.valid() || u.Phys <= prev {
			if tornHead(b, i) {
				break
			}
			return 0, 0, fmt.Errorf("%w: %s unit %d (queue offset %d): %v after physical offset %d: "+
				"units below the checkpoint must increase; the queues are derived from the log: "+
				"reopen with Options.Rebuild to rebuild them", ErrCorrupt, f.path, i, f.first+int64(i), u, prev)
		}
		prev = u.Phys
	}
	return start, i, nil
}

// tornHead reports whether unit i straddles a sector boundary with all
// its bytes before the boundary zero: the sector holding its head was
// lost in a power cut while the next survived. Such a unit was written
// after the last Sync (so after the checkpoint); its physical offset reads
// lower than it was.
func tornHead(b []byte, i int) bool {
	p := i * UnitSize
	boundary := (p/sectorSize + 1) * sectorSize
	if boundary >= p+UnitSize {
		return false
	}
	for _, c := range b[p:boundary] {
		if c != 0 {
			return false
		}
	}
	return true
}

// zeroFrom clears the units [k, end) of f that are not zero already (b
// holds the whole file), so that a scan ends at k; q.mu held.
func (q *Queue) zeroFrom(f *qfile, k int, b []byte) error {
	end := len(b)
	for end > k*UnitSize && b[end-1] == 0 {
		end--
	}
	if end <= k*UnitSize {
		return nil
	}
	z := make([]byte, end-k*UnitSize)
	if _, err := f.f.WriteAt(z, int64(k*UnitSize)); err != nil {
		return q.st.fail(fmt.Errorf("write %s: %w", f.path, err))
	}
	q.st.dirty[f] = struct{}{}
	return nil
}
