package engine

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/rmqlog/rmqlog/engine/raft"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/replication"
	"github.com/rmqlog/rmqlog/segment"
)

// store is the one owner of a node's storage: the segment log, its flusher,
// the raft-state file, the data directory's lock, and the two locks that
// keep the log's mapped files in place while someone uses their bytes.
// The core sees it as its raft.Log (reads and appends go straight to the
// segment log; truncation and reset go through lockSends); the node, the
// dispatchers and the readers use its methods, never the locks directly.
//
// Lock order (a lock is taken only while holding those before it):
//
//	Node.mu -> store.readMu -> store.sendMu -> flush.Flusher (truncMu, mu)
//	        -> segment.Log (syncMu, mu)
//
// Node.propMu and Node.advertMu are leaves: nothing is taken while they are
// held. The dispatchers take sendMu shared without Node.mu; readers take
// readMu shared without it.
//
// Who fsyncs what (every metadata fsync has one owner):
//   - store: the raft-state file (saveState: temporary file, fsync, rename,
//     directory fsync), at start, after every step that changed the term,
//     vote or repair state (Node.afterLocked), and at a clean stop; and
//     the membership file (the same way, from its writer goroutine,
//     membership.go), which the core hands its list before it appends or
//     stores a configuration entry and after a truncation or reset removed
//     one (docs/membership.md).
//   - flush.Flusher: the log's data and checkpoint, through segment.Log.Sync
//     and Checkpoint (group commit under SYNC_FLUSH, an interval under
//     ASYNC_FLUSH); store.TruncateSuffix goes through it so its durable index
//     drops with the entries.
//   - segment.Log, by itself: preparing files, the checkpoint slots,
//     truncation, reset and prefix deletion (segment/doc.go lists them).
type store struct {
	*segment.Log
	flusher *flush.Flusher
	fs      segment.FS
	dir     string // Config.Dir: the raft-state file
	// dirLock locks dir (FS.Lock) from open to unlockDir, unless dir is the
	// log's directory, which the log locks itself.
	dirLock io.Closer

	// readMu: Node.Read holds it shared while it looks an entry up, View
	// while its callback runs; truncation, reset, prefix deletion and close
	// take it exclusively, so no reader is inside a file they unmap.
	readMu     sync.RWMutex
	readClosed bool
	// sendMu: dispatchers hold it shared while they write slices of the
	// mapped files to a socket (beginSend); truncation, reset and prefix
	// deletion hold it exclusively.
	sendMu sync.RWMutex
	// sendTerm is the core's term as of the last structural change or step;
	// a dispatcher sends a batch only if its term is current, so no batch
	// leaves with new bytes under an old term's header.
	sendTerm atomic.Uint64
	// core is asked for its term by lockSends (set once, after raft.New).
	core *raft.Raft
	// peers are the dispatchers' connections: lockSends aborts their writes
	// in progress (kept in step with the configuration under Node.mu).
	peers []*replication.Peer
	// memb writes the membership file (membership.go).
	memb membershipWriter
	log  *slog.Logger
}

// newStore returns the store of c's directories, not open yet: its
// raft-state file can be read (recovery's onDamage does), its log not.
func newStore(c Config) *store { return &store{fs: c.FS, dir: c.Dir, log: c.Logger} }

// open locks the data directory, recovers the log and starts its flusher.
// onDamage is recovery's segment.Options.OnDamage.
func (s *store) open(c Config, onDamage func(segment.Damage) error) error {
	if err := c.FS.MkdirAll(c.Dir); err != nil {
		return fmt.Errorf("engine: data directory %s: %w", c.Dir, err)
	}
	if filepath.Clean(c.Dir) != filepath.Clean(c.LogDir) { // the log locks its own directory
		lk, err := c.FS.Lock(c.Dir)
		if err != nil {
			return err
		}
		s.dirLock = lk
	}
	log, err := segment.Open(c.LogDir, segment.Options{
		SegmentSize: c.SegmentSize, IndexEntries: c.IndexEntries, FS: c.FS,
		Logger: c.Logger, Stamp: c.Stamp,
		// Prewriting zeros makes fdatasync overwrite written blocks (1.5x
		// the syncs/s, results/storage.md): worth it when every ack waits for
		// a sync. Under ASYNC_FLUSH no ack waits for one, and the zeros
		// doubled the bytes written and halved the throughput of
		// BenchmarkCluster (results/replication.md).
		NoPrewrite: c.FlushMode == flush.AsyncFlush || c.NoPrewrite, PrewriteRate: c.PrewriteRate,
		CacheKeep: c.CacheKeep,
		// Damage anywhere in the log is found at start (a full read of the
		// log), and cut: the node then repairs it from the leader, neither
		// voting nor campaigning meanwhile (see raft's repairing). Under
		// ASYNC_FLUSH entries count before they are synced, so a bad entry
		// followed by a good one is damage even above the synced position.
		VerifyAll: true, CheckUnsynced: c.FlushMode == flush.AsyncFlush, OnDamage: onDamage})
	if err != nil {
		s.unlockDir()
		return err
	}
	f, err := flush.New(log, flush.Options{Mode: c.FlushMode, Interval: c.FlushInterval, OnSync: c.OnSync})
	if err != nil {
		log.Close()
		s.unlockDir()
		return err
	}
	s.Log, s.flusher = log, f
	return nil
}

// TruncateSuffix removes entries i and after (raft.Log). It goes through
// the flusher, which lowers its durable index at once.
func (s *store) TruncateSuffix(i uint64) error {
	defer s.lockSends()()
	return s.flusher.TruncateSuffix(i)
}

// Reset restarts the log at base (raft.Log).
func (s *store) Reset(base segment.Position, prevTerm uint64, prevCRC uint32) error {
	defer s.lockSends()()
	return s.Log.Reset(base, prevTerm, prevCRC)
}

// DeletePrefix removes the oldest files whose entries are all below i.
func (s *store) DeletePrefix(i uint64) (uint64, error) {
	s.readMu.Lock() // no View is inside a file that goes
	defer s.readMu.Unlock()
	if s.readClosed {
		return 0, ErrClosed
	}
	i = min(i, s.flusher.Durable()+1)
	s.sendMu.Lock() // no dispatcher is sending slices of the files that go
	defer s.sendMu.Unlock()
	return s.Log.DeletePrefix(i)
}

// lockSends publishes the core's term, so no dispatcher starts another
// batch of the old term, and takes readMu and sendMu exclusively. A
// dispatcher still writing a batch to a slow or dead peer would hold sendMu
// for up to the write timeout, with Node.mu held here: so its write is
// interrupted (that connection is redialed; the batch is resent or dropped
// as stale).
func (s *store) lockSends() (unlock func()) {
	s.sendTerm.Store(s.core.Term())
	s.readMu.Lock() // readers copy for microseconds: just wait for them
	if !s.sendMu.TryLock() {
		for _, p := range s.peers {
			p.Interrupt()
		}
		s.sendMu.Lock()
	}
	return func() {
		s.sendMu.Unlock()
		s.readMu.Unlock()
	}
}

// beginSend takes sendMu shared for a dispatcher about to send a batch of
// term, and reports whether that term is still current; endSend releases
// it (also when beginSend reported false).
func (s *store) beginSend(term uint64) bool {
	s.sendMu.RLock()
	return s.sendTerm.Load() == term
}

func (s *store) endSend() { s.sendMu.RUnlock() }

// beginRead takes readMu shared, failing with ErrClosed once the store is
// closing; endRead releases it (only after beginRead succeeded).
func (s *store) beginRead() error {
	s.readMu.RLock()
	if s.readClosed {
		s.readMu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *store) endRead() { s.readMu.RUnlock() }

// segments lists the log's files.
func (s *store) segments() ([]segment.FileInfo, error) {
	if err := s.beginRead(); err != nil {
		return nil, err
	}
	defer s.endRead()
	return s.Log.Segments()
}

// closeReads waits for the reads in progress; later ones fail with ErrClosed.
func (s *store) closeReads() {
	s.readMu.Lock()
	s.readClosed = true
	s.readMu.Unlock()
}

// closeLog syncs and closes the log (the flusher's final sync first).
func (s *store) closeLog() error {
	merr := s.stopMembershipWriter()
	if merr != nil {
		merr = fmt.Errorf("engine: writing the membership file at close: %w", merr)
	}
	return errors.Join(s.flusher.Close(), merr, s.Log.Close())
}

// unlockDir releases the data directory's lock (see dirLock).
func (s *store) unlockDir() {
	if s.dirLock != nil {
		s.dirLock.Close()
		s.dirLock = nil
	}
}

// The raft-state file (state.go holds its format).

func (s *store) saveState(hs HardState) error { return saveState(s.fs, s.dir, hs) }

func (s *store) loadState() (HardState, error) { return loadState(s.fs, s.dir) }

func (s *store) stateExists() bool { return stateExists(s.fs, s.dir) }

func (s *store) setStateAside() (string, error) { return setStateAside(s.fs, s.dir) }
