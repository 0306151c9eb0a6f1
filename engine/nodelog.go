package engine

import (
	"sync"
	"sync/atomic"

	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/segment"
)

// nodeLog is the core's Log over the segment log. Structural changes
// (truncation, reset) take sendMu exclusively, so they never run while a
// dispatcher is writing slices of the mapped files to a socket, and they
// publish the core's term first, so a dispatcher that runs after them drops
// the older term's batches instead of sending new bytes under an old
// header. Truncation goes through the flusher, which lowers its durable
// index at once.
type nodeLog struct {
	*segment.Log
	flusher *flush.Flusher
	// sendMu: dispatchers hold it shared while they send mapped bytes;
	// truncation and reset hold it exclusively.
	sendMu *sync.RWMutex
	// readMu: Node.View holds it shared while a caller copies an entry;
	// truncation and reset hold it exclusively (taken before sendMu).
	readMu *sync.RWMutex
	// sendTerm is the core's term as of the last structural change or
	// after-step; a dispatcher sends a batch only if its term is current.
	sendTerm *atomic.Uint64
	term     func() uint64
	// interrupt aborts the dispatchers' writes in progress.
	interrupt func()
	// resync: a truncation or reset changed the log; the node must ask
	// the flusher for a sync even if the last index is what it was (a
	// replaced suffix of the same length). Guarded by Node.mu.
	resync bool
}

func (l *nodeLog) TruncateSuffix(i uint64) error {
	defer l.lockSends()()
	l.resync = true
	return l.flusher.TruncateSuffix(i)
}

func (l *nodeLog) Reset(base segment.Position, prevTerm uint64, prevCRC uint32) error {
	defer l.lockSends()()
	l.resync = true
	return l.Log.Reset(base, prevTerm, prevCRC)
}

// lockSends publishes the core's term, so no dispatcher starts another
// batch of the old term, and takes readMu and sendMu exclusively. A dispatcher still
// writing a batch to a slow or dead peer would hold it for up to the write
// timeout, with the node lock held here: so its write is interrupted (that
// connection is redialed; the batch is resent or dropped as stale).
func (l *nodeLog) lockSends() (unlock func()) {
	l.sendTerm.Store(l.term())
	l.readMu.Lock() // readers copy for microseconds: just wait for them
	if !l.sendMu.TryLock() {
		l.interrupt()
		l.sendMu.Lock()
	}
	return func() {
		l.sendMu.Unlock()
		l.readMu.Unlock()
	}
}
