package consumequeue

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/rmqlog/rmqlog/segment"
)

// qfile is one unit file of a queue.
type qfile struct {
	f     segment.File
	path  string
	first int64 // queue offset of the file's first unit
}

// Queue is the consume queue of one (topic, queue id). Handles stay valid
// until the Store is closed; their methods may be called concurrently.
type Queue struct {
	st    *Store
	topic string
	id    int32
	dir   string

	mu sync.Mutex // guards the fields below and the files' contents
	// files are the queue's files in order, consecutive (no gaps).
	files []*qfile
	// min is the first offset served; next (RocketMQ's max offset) the
	// offset the next Put must carry. Units [min, next) are readable.
	min, next int64
	// known: next is what the queue's units say. A queue without units
	// (new, or reset with a damaged checkpoint) accepts any first offset.
	known    bool
	lastPhys int64  // physical offset of unit next-1, -1 if none
	scratch  []byte // read buffer of Read and the scans
}

// Topic returns the queue's topic.
func (q *Queue) Topic() string { return q.topic }

// ID returns the queue's id.
func (q *Queue) ID() int32 { return q.id }

func (q *Queue) name() string { return q.topic + "/" + strconv.Itoa(int(q.id)) }

// upf is the store's units per file.
func (q *Queue) upf() int64 { return int64(q.st.opts.UnitsPerFile) }

// fileOf returns the file holding offset off, or nil; q.mu held.
func (q *Queue) fileOf(off int64) *qfile {
	if len(q.files) == 0 || off < q.files[0].first {
		return nil
	}
	i := (off - q.files[0].first) / q.upf()
	if i >= int64(len(q.files)) {
		return nil
	}
	return q.files[i]
}

// buf returns q.scratch grown to n bytes; q.mu held.
func (q *Queue) buf(n int) []byte {
	if cap(q.scratch) < n {
		q.scratch = make([]byte, n)
	}
	return q.scratch[:n]
}

// readUnits reads n units from offset off, all in one file; q.mu held.
func (q *Queue) readUnits(off int64, n int) ([]byte, error) {
	f := q.fileOf(off)
	if f == nil || off+int64(n) > f.first+q.upf() {
		panic(fmt.Sprintf("consumequeue: %s: read of %d units at %d outside the files", q.name(), n, off))
	}
	b := q.buf(n * UnitSize)
	if _, err := f.f.ReadAt(b, (off-f.first)*UnitSize); err != nil && !errors.Is(err, io.EOF) {
		return nil, q.st.fail(fmt.Errorf("read %s: %w", f.path, err))
	}
	return b, nil
}

// unitAt reads one unit; q.mu held.
func (q *Queue) unitAt(off int64) (Unit, error) {
	b, err := q.readUnits(off, 1)
	if err != nil {
		return Unit{}, err
	}
	return DecodeUnit(b), nil
}

// read appends up to max units from off to dst; q.mu held.
func (q *Queue) read(dst []Unit, off int64, max int) ([]Unit, error) {
	switch {
	case off < q.min:
		return dst, fmt.Errorf("%w: %s offset %d, min %d", ErrBelowMin, q.name(), off, q.min)
	case off > q.next:
		return dst, fmt.Errorf("%w: %s offset %d, max %d", ErrBeyondMax, q.name(), off, q.next)
	}
	for max > 0 && off < q.next {
		f := q.fileOf(off)
		n := int(min(int64(max), q.next-off, f.first+q.upf()-off))
		b, err := q.readUnits(off, n)
		if err != nil {
			return dst, err
		}
		for i := 0; i < n; i++ {
			dst = append(dst, DecodeUnit(b[i*UnitSize:]))
		}
		off, max = off+int64(n), max-n
	}
	return dst, nil
}

// Read appends to dst up to max units starting at queue offset off and
// returns dst. Reading at MaxOffset returns no units; below MinOffset is
// ErrBelowMin, beyond MaxOffset ErrBeyondMax. With a dst of enough
// capacity it does not allocate.
func (q *Queue) Read(dst []Unit, off int64, max int) ([]Unit, error) {
	s := q.st
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return dst, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.read(dst, off, max)
}

// MinOffset returns the queue's first readable offset (RocketMQ's
// getMinOffsetInQueue).
func (q *Queue) MinOffset() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.min
}

// MaxOffset returns the offset the next unit will have (RocketMQ's
// getMaxOffsetInQueue): one past the last unit.
func (q *Queue) MaxOffset() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.next
}

// put writes one unit; s.mu (write) and q.mu held, arguments checked.
func (q *Queue) put(off int64, u Unit) error {
	if q.known && off != q.next {
		return fmt.Errorf("%w: topic %q queue %d: queue offset %d, expected %d (the next of this queue); "+
			"the leader's stamp and this node's consume queue disagree", ErrContradiction, q.topic, q.id, off, q.next)
	}
	f := q.fileOf(off)
	if f == nil {
		var err error
		if f, err = q.addFile(off); err != nil {
			return err
		}
	}
	b := q.st.unit[:]
	u.Encode(b)
	if _, err := f.f.WriteAt(b, (off-f.first)*UnitSize); err != nil {
		return q.st.fail(fmt.Errorf("write %s: %w", f.path, err))
	}
	q.st.dirty[f] = struct{}{}
	if !q.known {
		q.min, q.known = off, true
	}
	q.next, q.lastPhys = off+1, u.Phys
	return nil
}

// addFile creates the file for offset off, the queue's next file, or its
// first (then blanks fill the units before off, as RocketMQ's
// fillPreBlank); s.mu (write) and q.mu held.
func (q *Queue) addFile(off int64) (*qfile, error) {
	s := q.st
	first := off / q.upf() * q.upf()
	if len(q.files) > 0 && first != q.files[len(q.files)-1].first+q.upf() {
		panic(fmt.Sprintf("consumequeue: %s: new file at %d after file at %d", q.name(), first, q.files[len(q.files)-1].first))
	}
	if err := s.fs.MkdirAll(q.dir); err != nil {
		return nil, s.fail(fmt.Errorf("create %s: %w", q.dir, err))
	}
	s.dirtyDirs[q.dir] = struct{}{}
	s.dirtyDirs[filepath.Dir(q.dir)] = struct{}{}
	s.dirtyDirs[filepath.Dir(filepath.Dir(q.dir))] = struct{}{}
	path := filepath.Join(q.dir, fileName(first))
	f, err := s.fs.Create(path)
	if err == nil {
		err = f.Allocate(q.upf() * UnitSize)
	}
	if err != nil {
		return nil, s.fail(fmt.Errorf("create %s: %w", path, err))
	}
	qf := &qfile{f: f, path: path, first: first}
	if n := off - first; n > 0 && len(q.files) == 0 {
		b := make([]byte, n*UnitSize)
		for i := int64(0); i < n; i++ {
			blankUnit.Encode(b[i*UnitSize:])
		}
		if _, err := f.WriteAt(b, 0); err != nil {
			return nil, s.fail(fmt.Errorf("write %s: %w", path, err))
		}
	}
	q.files = append(q.files, qf)
	s.dirty[qf] = struct{}{}
	return qf, nil
}

// removeLast closes and removes the queue's last file; s.mu (write) and
// q.mu held.
func (q *Queue) removeLast() error {
	f := q.files[len(q.files)-1]
	q.files = q.files[:len(q.files)-1]
	return q.st.removeFile(f)
}

// removeFirst closes and removes the queue's first file; s.mu (write) and
// q.mu held.
func (q *Queue) removeFirst() error {
	f := q.files[0]
	q.files = q.files[1:]
	return q.st.removeFile(f)
}
