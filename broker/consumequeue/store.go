package consumequeue

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/rmqlog/rmqlog/segment"
)

// Options configure a Store.
type Options struct {
	// FS is the file system; nil means segment.OSFS.
	FS segment.FS
	// UnitsPerFile is the number of units per file; 0 means
	// DefaultUnitsPerFile. A store must be reopened with the value it was
	// written with (Open names it when the files disagree).
	UnitsPerFile int
	// Rebuild empties every queue at Open and reports index 0, so the
	// caller rebuilds them all from the log: the answer to ErrCorrupt.
	Rebuild bool
}

// Info is what Open found.
type Info struct {
	// Index is the highest Raft index whose units are all durable: the
	// caller replays the log from Index+1, after TruncateFrom.
	Index uint64
	// Reset is true when Open emptied every queue (no checkpoint, both
	// checkpoint slots damaged, or Options.Rebuild), so Index is 0; Reason
	// says which.
	Reset  bool
	Reason string
}

// Store is the consume queues of one broker under a directory:
//
//	dir/consumequeue/<topic>/<queueId>/<20-digit first byte offset>
//	dir/consumequeue.checkpoint
//
// Put is called in log order by one applier; Sync, TruncateFrom and
// DeleteBefore by the same owner; reads may come from any goroutine.
type Store struct {
	fs   segment.FS
	dir  string // dir/consumequeue
	opts Options

	// mu guards every field below and the queues map's contents; lock
	// order: mu, then a Queue's mu. Writers (Put, Sync, TruncateFrom,
	// DeleteBefore, Close) hold it exclusively, reads shared.
	mu        sync.RWMutex
	queues    map[string]map[int32]*Queue
	dirty     map[*qfile]struct{} // written since the last Sync
	dirtyDirs map[string]struct{} // names created or removed since the last Sync
	ckpt      *ckptFile
	lastPhys  int64 // physical offset of the last unit put, -1 if none
	recovered bool  // TruncateFrom ran since Open
	failed    error // sticky: the first storage I/O error
	closed    bool
	unit      [UnitSize]byte // Put's encoding buffer (a local would escape into WriteAt)
}

// Open loads the store in dir, creating it if needed, and reports the
// checkpointed index. The caller must then call TruncateFrom with the
// physical offset of the first entry after Info.Index before Put or Read.
func Open(dir string, opts Options) (*Store, Info, error) {
	if opts.FS == nil {
		opts.FS = segment.OSFS{}
	}
	if opts.UnitsPerFile == 0 {
		opts.UnitsPerFile = DefaultUnitsPerFile
	}
	if opts.UnitsPerFile < 1 || opts.UnitsPerFile > 1<<26 {
		return nil, Info{}, fmt.Errorf("%w: UnitsPerFile %d out of [1, %d]", ErrInvalid, opts.UnitsPerFile, 1<<26)
	}
	s := &Store{fs: opts.FS, dir: filepath.Join(dir, "consumequeue"), opts: opts, lastPhys: -1,
		queues: map[string]map[int32]*Queue{}, dirty: map[*qfile]struct{}{}, dirtyDirs: map[string]struct{}{}}
	if err := s.fs.MkdirAll(s.dir); err != nil {
		return nil, Info{}, fmt.Errorf("consumequeue: create %s: %w", s.dir, err)
	}
	info, err := s.open(dir)
	if err != nil {
		s.closeFiles()
		return nil, Info{}, err
	}
	return s, info, nil
}

func (s *Store) open(dir string) (Info, error) {
	cf, exists, ok, err := readCheckpoint(s.fs, dir)
	if err != nil {
		return Info{}, err
	}
	s.ckpt = cf
	if err := s.load(); err != nil {
		return Info{}, err
	}
	var info Info
	switch {
	case !exists:
		info = Info{Reset: true, Reason: "no checkpoint: a new store, or a crash before its first checkpoint"}
	case !ok:
		info = Info{Reset: true, Reason: fmt.Sprintf("both slots of %s are damaged: "+
			"every queue is rebuilt from the log", filepath.Join(dir, ckptName))}
	case s.opts.Rebuild:
		info = Info{Reset: true, Reason: "Options.Rebuild: every queue is rebuilt from the log"}
	default:
		return Info{Index: cf.last.index}, nil
	}
	if err := s.reset(); err != nil {
		return Info{}, err
	}
	if s.ckpt != nil {
		s.ckpt.f.Close()
	}
	s.ckpt, err = createCheckpoint(s.fs, dir, 0)
	return info, err
}

// reset removes every queue's files, durably.
func (s *Store) reset() error {
	for _, byID := range s.queues {
		for _, q := range byID {
			for len(q.files) > 0 {
				if err := q.removeLast(); err != nil {
					return err
				}
			}
		}
	}
	return s.syncDirs()
}

// fail records err as the store's sticky failure and returns it wrapped.
func (s *Store) fail(err error) error {
	if s.failed == nil {
		s.failed = fmt.Errorf("%w: %w", ErrFailed, err)
	}
	return s.failed
}

// usable reports why the store cannot be used; s.mu held.
func (s *Store) usable() error {
	switch {
	case s.closed:
		return ErrClosed
	case s.failed != nil:
		return s.failed
	case !s.recovered:
		return ErrNotRecovered
	}
	return nil
}

// queue returns the queue (topic, id), creating its handle if create; s.mu
// held (exclusively if create).
func (s *Store) queue(topic string, id int32, create bool) *Queue {
	q := s.queues[topic][id]
	if q != nil || !create {
		return q
	}
	q = &Queue{st: s, topic: topic, id: id, lastPhys: -1,
		dir: filepath.Join(s.dir, topic, fmt.Sprint(id))}
	if s.queues[topic] == nil {
		s.queues[topic] = map[int32]*Queue{}
	}
	s.queues[topic][id] = q
	return q
}

// Queue returns the handle of (topic, id), or false if the store has no
// such queue.
func (s *Store) Queue(topic string, id int32) (*Queue, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	q := s.queue(topic, id, false)
	return q, q != nil
}

// Topics returns the topics with at least one queue, sorted.
func (s *Store) Topics() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ts []string
	for t := range s.queues {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// Queues returns the queue ids of topic, sorted.
func (s *Store) Queues(topic string) []int32 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ids []int32
	for id := range s.queues[topic] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Put appends the unit of one message: queueOffset must be the queue's
// next (any offset for a queue without units), physOffset above every
// unit's put before, in log order. A contradiction is ErrContradiction
// naming topic, queue, expected and got; the store stays usable.
func (s *Store) Put(topic string, queueID int32, queueOffset, physOffset int64, size int32, tagsCode int64) error {
	if !validTopic(topic) || queueID < 0 || queueOffset < 0 || physOffset < 0 || size <= 0 || size == blankSize {
		return fmt.Errorf("%w: Put(%q, %d, %d, %d, %d)", ErrInvalid, topic, queueID, queueOffset, physOffset, size)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if physOffset <= s.lastPhys {
		return fmt.Errorf("%w: topic %q queue %d queue offset %d: physical offset %d does not follow %d, "+
			"the last one put (units arrive in log order)", ErrContradiction, topic, queueID, queueOffset, physOffset, s.lastPhys)
	}
	q := s.queue(topic, queueID, true)
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.put(queueOffset, Unit{Phys: physOffset, Size: size, TagsCode: tagsCode}); err != nil {
		return err
	}
	s.lastPhys = physOffset
	return nil
}

// Get returns up to maxUnits units of (topic, queueID) from queueOffset,
// in a new slice (Queue.Read appends to a caller's).
func (s *Store) Get(topic string, queueID int32, queueOffset int64, maxUnits int) ([]Unit, error) {
	q, ok := s.Queue(topic, queueID)
	if !ok {
		return nil, fmt.Errorf("%w: topic %q queue %d", ErrNoQueue, topic, queueID)
	}
	n := max(0, min(int64(maxUnits), q.MaxOffset()-queueOffset))
	return q.Read(make([]Unit, 0, n), queueOffset, maxUnits)
}

// MinOffset returns the min offset of (topic, queueID), 0 if no such queue.
func (s *Store) MinOffset(topic string, queueID int32) int64 {
	if q, ok := s.Queue(topic, queueID); ok {
		return q.MinOffset()
	}
	return 0
}

// MaxOffset returns the max offset (the next to be written) of (topic,
// queueID), 0 if no such queue.
func (s *Store) MaxOffset(topic string, queueID int32) int64 {
	if q, ok := s.Queue(topic, queueID); ok {
		return q.MaxOffset()
	}
	return 0
}

// Sync makes every unit put so far durable and then records appliedIndex
// in the checkpoint: the caller promises that every unit of the entries up
// to appliedIndex has been put. Steps: 1. fsync each file written since
// the last Sync; 2. fsync each directory whose names changed; 3. write the
// checkpoint's other slot and fsync it. A failure is sticky.
func (s *Store) Sync(appliedIndex uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if appliedIndex < s.ckpt.last.index {
		return fmt.Errorf("%w: Sync(%d) below the checkpointed index %d", ErrInvalid, appliedIndex, s.ckpt.last.index)
	}
	for f := range s.dirty {
		if err := f.f.Sync(); err != nil {
			return s.fail(fmt.Errorf("sync %s: %w", f.path, err))
		}
		delete(s.dirty, f)
	}
	if err := s.syncDirs(); err != nil {
		return err
	}
	if err := s.ckpt.write(appliedIndex); err != nil {
		return s.fail(err)
	}
	return nil
}

// syncDirs fsyncs the directories whose names changed; s.mu held.
func (s *Store) syncDirs() error {
	for d := range s.dirtyDirs {
		if err := s.fs.SyncDir(d); err != nil {
			return s.fail(fmt.Errorf("sync directory %s: %w", d, err))
		}
		delete(s.dirtyDirs, d)
	}
	return nil
}

// removeFile closes and removes f; s.mu held exclusively.
func (s *Store) removeFile(f *qfile) error {
	delete(s.dirty, f)
	f.f.Close()
	if err := s.fs.Remove(f.path); err != nil {
		return s.fail(fmt.Errorf("remove %s: %w", f.path, err))
	}
	s.dirtyDirs[filepath.Dir(f.path)] = struct{}{}
	return nil
}

// Close closes every file without syncing (call Sync first).
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.closeFiles()
}

func (s *Store) closeFiles() error {
	var errs []error
	for _, byID := range s.queues {
		for _, q := range byID {
			q.mu.Lock()
			for _, f := range q.files {
				errs = append(errs, f.f.Close())
			}
			q.mu.Unlock()
		}
	}
	if s.ckpt != nil {
		errs = append(errs, s.ckpt.f.Close())
	}
	return errors.Join(errs...)
}
