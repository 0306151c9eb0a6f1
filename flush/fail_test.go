package flush_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/flush"
)

var errDisk = errors.New("injected: EIO")

// checkSticky asserts that f failed with errDisk behind prefix and that
// Durable stayed at durable.
func checkSticky(t *testing.T, f *flush.Flusher, prefix string, durable uint64) {
	t.Helper()
	err := f.Err()
	if !errors.Is(err, errDisk) || !strings.HasPrefix(err.Error(), prefix) {
		t.Fatalf("Err() = %v, want %s%v", err, prefix, errDisk)
	}
	if err := f.Wait(context.Background(), durable); err != nil {
		t.Errorf("Wait(durable %d) = %v, want nil: it stays durable", durable, err)
	}
	for _, idx := range []uint64{durable + 1, durable + 100} {
		if err := f.Wait(context.Background(), idx); !errors.Is(err, errDisk) {
			t.Errorf("later Wait(%d) = %v, want the sticky error", idx, err)
		}
	}
	if got := f.Durable(); got != durable {
		t.Errorf("Durable() = %d after failure, want %d", got, durable)
	}
	select {
	case <-f.Changed():
	default:
		t.Error("Changed() not closed after failure")
	}
}

// TestSyncErrorSticky fails a sync that 10 waiters are queued on.
func TestSyncErrorSticky(t *testing.T) {
	const waiters = 10
	log := newCkptLog()
	f := newFlusher(t, log, flush.Options{CheckpointInterval: time.Nanosecond})
	if err := f.Wait(context.Background(), log.append(1)); err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	log.set(func(l *testLog) { l.hold = hold })
	errs := make(chan error, waiters)
	for range waiters {
		go func() { errs <- f.Wait(context.Background(), log.append(1)) }()
	}
	log.waitUntil(t, "the held sync", func(l *testLog) bool { return l.syncCalls == 3 })
	log.set(func(l *testLog) { l.err = errDisk })
	close(hold)
	for range waiters {
		if err := <-errs; !errors.Is(err, errDisk) {
			t.Errorf("Wait = %v, want %v", err, errDisk)
		}
	}
	checkSticky(t, f, "flush: sync failed: ", 1)

	// No retries: later appends and requests run no sync, Close neither.
	calls := get(log.testLog, func(l *testLog) int { return l.syncCalls })
	f.Request(log.append(1))
	if err := f.Close(); !errors.Is(err, errDisk) {
		t.Errorf("Close() = %v, want the sticky error", err)
	}
	if got := get(log.testLog, func(l *testLog) int { return l.syncCalls }); got != calls {
		t.Errorf("%d syncs after the failure, want none", got-calls)
	}
	if got := get(log.testLog, func(l *testLog) int { return l.ckptCalls }); got != 1 {
		t.Errorf("%d checkpoints, want 1 (before the failure only)", got)
	}
}

// TestCheckpointAfterRelease: waiters are released before the checkpoint runs.
func TestCheckpointAfterRelease(t *testing.T) {
	log := newCkptLog()
	hold := make(chan struct{})
	log.ckptHold = hold
	f := newFlusher(t, log, flush.Options{CheckpointInterval: time.Nanosecond})
	defer close(hold)
	if err := f.Wait(context.Background(), log.append(1)); err != nil {
		t.Fatal(err)
	}
	log.waitUntil(t, "checkpoint to start", func(l *testLog) bool { return l.ckptCalls == 1 })
	// The flusher is stuck in Checkpoint, yet the Wait above has returned.
	if n := get(log.testLog, func(l *testLog) int { return l.ckpts }); n != 0 {
		t.Fatalf("checkpoint finished (%d) while held", n)
	}
	log.set(func(l *testLog) { l.ckptHold = nil })
	hold <- struct{}{}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if n := f.Stats().Checkpoints; n != 2 {
		t.Errorf("Stats().Checkpoints = %d, want 2 (after the sync and in Close)", n)
	}
}

func TestCheckpointInterval(t *testing.T) {
	log := newCkptLog()
	f := newFlusher(t, log, flush.Options{CheckpointInterval: time.Hour})
	ctx := context.Background()
	for range 5 {
		if err := f.Wait(ctx, log.append(1)); err != nil {
			t.Fatal(err)
		}
	}
	// The first sync checkpoints at once, the others are inside the interval.
	log.waitUntil(t, "first checkpoint", func(l *testLog) bool { return l.ckpts == 1 })
	if err := f.Wait(ctx, log.append(1)); err != nil {
		t.Fatal(err)
	}
	if n := get(log.testLog, func(l *testLog) int { return l.ckptCalls }); n != 1 {
		t.Errorf("%d checkpoints within one interval, want 1", n)
	}
}

// TestCheckpointDeferred: a checkpoint that was not yet due when the log went
// quiet still happens, from a timer, without another sync.
func TestCheckpointDeferred(t *testing.T) {
	log := newCkptLog()
	f := newFlusher(t, log, flush.Options{CheckpointInterval: 20 * time.Millisecond})
	ctx := context.Background()
	if err := f.Wait(ctx, log.append(1)); err != nil {
		t.Fatal(err)
	}
	log.waitUntil(t, "first checkpoint", func(l *testLog) bool { return l.ckpts == 1 })
	if err := f.Wait(ctx, log.append(1)); err != nil {
		t.Fatal(err)
	}
	syncs := get(log.testLog, func(l *testLog) int { return l.syncCalls })
	log.waitUntil(t, "deferred checkpoint", func(l *testLog) bool { return l.ckpts == 2 })
	if got := get(log.testLog, func(l *testLog) int { return l.syncCalls }); got != syncs {
		t.Errorf("%d extra syncs before the deferred checkpoint", got-syncs)
	}
}

func TestCheckpointErrorSticky(t *testing.T) {
	log := newCkptLog()
	log.ckptErr = errDisk
	f := newFlusher(t, log, flush.Options{CheckpointInterval: time.Nanosecond})
	// The sync succeeded and released the waiter before the checkpoint failed.
	if err := f.Wait(context.Background(), log.append(1)); err != nil {
		t.Fatalf("Wait = %v, want nil", err)
	}
	waitFlusher(t, f, "checkpoint failure", func() bool { return f.Err() != nil })
	checkSticky(t, f, "flush: checkpoint failed: ", 1)
}

func TestClose(t *testing.T) {
	log := newCkptLog()
	// ASYNC_FLUSH with a long interval: only Close will sync.
	f := newFlusher(t, log, flush.Options{Mode: flush.AsyncFlush, Interval: time.Hour})
	idx := log.append(3)
	covered, beyond := make(chan error, 1), make(chan error, 1)
	go func() { covered <- f.Wait(context.Background(), idx) }()
	go func() { beyond <- f.Wait(context.Background(), idx+7) }()

	if err := f.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := <-covered; err != nil {
		t.Errorf("Wait(%d) = %v, want nil (covered by the final sync)", idx, err)
	}
	if err := <-beyond; !errors.Is(err, flush.ErrClosed) {
		t.Errorf("Wait(%d) = %v, want ErrClosed", idx+7, err)
	}
	if got := f.Durable(); got != idx {
		t.Errorf("Durable() = %d after Close, want %d", got, idx)
	}
	want := flush.Stats{Syncs: 1, Entries: 3, Checkpoints: 1}
	checkClosed(t, f, log, want)
	if err := f.Close(); err != nil { // idempotent
		t.Fatalf("second Close() = %v", err)
	}
	checkClosed(t, f, log, want)
}

// checkClosed asserts the state of a closed, healthy Flusher.
func checkClosed(t *testing.T, f *flush.Flusher, log ckptLog, want flush.Stats) {
	t.Helper()
	got := f.Stats()
	got.SyncTime, got.MaxSync = 0, 0
	if got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	if n := get(log.testLog, func(l *testLog) int { return l.ckptCalls }); n != int(want.Checkpoints) {
		t.Errorf("%d Checkpoint calls, want %d", n, want.Checkpoints)
	}
	d := f.Durable()
	if err := f.Wait(context.Background(), d); err != nil {
		t.Errorf("Wait(durable %d) after Close = %v, want nil", d, err)
	}
	if err := f.Wait(context.Background(), d+1); !errors.Is(err, flush.ErrClosed) {
		t.Errorf("Wait(%d) after Close = %v, want ErrClosed", d+1, err)
	}
	select {
	case <-f.Changed():
	default:
		t.Error("Changed() not closed after Close")
	}
}

// TestCloseWithoutCheckpointer: a plain Log gets only the final sync.
func TestCloseWithoutCheckpointer(t *testing.T) {
	log := newTestLog()
	f, err := flush.New(log, flush.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log.append(2)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := get(log, func(l *testLog) []uint64 { return l.syncs }); !equal(got, []uint64{0, 2}) {
		t.Errorf("syncs = %v, want [0 2]", got)
	}
}
