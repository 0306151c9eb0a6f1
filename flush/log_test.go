package flush_test

import (
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/flush"
)

// testLog is an in-memory flush.Log that records calls. Sync can be held on a
// channel and made to fail; every recorded event closes a generation channel
// so tests wait on conditions, not on sleeps.
type testLog struct {
	mu         sync.Mutex
	last       uint64        // last appended index
	syncs      []uint64      // result of each successful Sync, including New's
	syncCalls  int           // Sync calls started
	lastCalls  int           // LastIndex calls
	hold       chan struct{} // if non-nil, Sync blocks on it after snapshotting last
	err        error         // if non-nil, Sync returns it (read after hold)
	ckpts      int           // successful Checkpoint calls (ckptLog only)
	ckptCalls  int           // Checkpoint calls started
	ckptHold   chan struct{} // if non-nil, Checkpoint blocks on it
	ckptErr    error         // if non-nil, Checkpoint returns it
	notify     chan struct{} // closed and replaced on every event
	truncateTo uint64        // if non-zero, the next Sync returns this (a truncated log)
}

func newTestLog() *testLog { return &testLog{notify: make(chan struct{})} }

// ckptLog is a testLog that also implements flush.Checkpointer.
type ckptLog struct{ *testLog }

func newCkptLog() ckptLog { return ckptLog{newTestLog()} }

var (
	_ flush.Log          = (*testLog)(nil)
	_ flush.Checkpointer = ckptLog{}
)

// event wakes waitUntil callers. mu must be held.
func (l *testLog) event() {
	close(l.notify)
	l.notify = make(chan struct{})
}

// append adds n entries and returns the last index.
func (l *testLog) append(n int) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last += uint64(n)
	l.event()
	return l.last
}

func (l *testLog) LastIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastCalls++
	l.event()
	return l.last
}

func (l *testLog) Sync() (uint64, error) {
	l.mu.Lock()
	d, hold := l.last, l.hold
	if l.truncateTo != 0 {
		d, l.truncateTo = l.truncateTo, 0
	}
	l.syncCalls++
	l.event()
	l.mu.Unlock()
	if hold != nil {
		<-hold
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.event()
	if l.err != nil {
		return 0, l.err
	}
	l.syncs = append(l.syncs, d)
	return d, nil
}

func (l ckptLog) Checkpoint() error {
	l.mu.Lock()
	hold := l.ckptHold
	l.ckptCalls++
	l.event()
	l.mu.Unlock()
	if hold != nil {
		<-hold
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.event()
	if l.ckptErr != nil {
		return l.ckptErr
	}
	l.ckpts++
	return nil
}

// set runs fn under the log's lock (to change hold, err and friends).
func (l *testLog) set(fn func(l *testLog)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn(l)
	l.event()
}

// get reads a value under the log's lock.
func get[T any](l *testLog, fn func(l *testLog) T) T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fn(l)
}

const testDeadline = 10 * time.Second

// waitUntil blocks until cond holds for the log, failing the test after a deadline.
func (l *testLog) waitUntil(t *testing.T, what string, cond func(l *testLog) bool) {
	t.Helper()
	deadline := time.NewTimer(testDeadline)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		ok, ch := cond(l), l.notify
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", testDeadline, what)
		}
	}
}

// waitFlusher blocks until cond holds for f, waking on f.Changed.
func waitFlusher(t *testing.T, f *flush.Flusher, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(testDeadline)
	defer deadline.Stop()
	for {
		ch := f.Changed()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", testDeadline, what)
		}
	}
}

// newFlusher starts a Flusher on log and closes it when the test ends.
func newFlusher(t *testing.T, log flush.Log, opt flush.Options) *flush.Flusher {
	t.Helper()
	f, err := flush.New(log, opt)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
