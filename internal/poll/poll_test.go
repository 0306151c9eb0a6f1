package poll_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/poll"
)

// fakeTB records what the code under test reports instead of failing the
// test running it. Fatalf ends the calling goroutine, as testing's does.
type fakeTB struct {
	testing.TB // the real one, for everything not overridden
	failed     atomic.Bool
	msg        atomic.Value // string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msg.Store(fmt.Sprintf(format, args...))
	f.failed.Store(true)
	runtime.Goexit()
}

// run calls fn with a fakeTB on a goroutine of its own (Fatalf ends it)
// and returns the failure message ("" if none) and whether fn returned.
func run(t *testing.T, fn func(tb testing.TB)) (msg string, returned bool) {
	t.Helper()
	f := &fakeTB{TB: t}
	done := make(chan bool)
	go func() {
		ret := false
		defer func() { done <- ret }()
		fn(f)
		ret = true
	}()
	returned = <-done
	if f.failed.Load() {
		msg = f.msg.Load().(string)
	}
	return msg, returned
}

func TestEventually(t *testing.T) {
	calls := 0
	msg, returned := run(t, func(tb testing.TB) {
		poll.Eventually(tb, 10*time.Second, "the third call", func() bool { calls++; return calls == 3 })
	})
	if msg != "" || !returned || calls != 3 {
		t.Fatalf("a condition true at the third call: failure %q, returned %v, %d calls", msg, returned, calls)
	}
}

// TestEventuallyFails: a condition that never holds fails the test after
// the timeout, naming what was awaited and the time waited, and nothing
// after the call runs.
func TestEventuallyFails(t *testing.T) {
	const timeout = 50 * time.Millisecond
	calls := 0
	start := time.Now()
	msg, returned := run(t, func(tb testing.TB) {
		poll.Eventually(tb, timeout, "a writable leader", func() bool { calls++; return false })
	})
	took := time.Since(start)
	if returned || !strings.HasPrefix(msg, "gave up waiting for a writable leader after ") || !strings.HasSuffix(msg, "(timeout 50ms)") {
		t.Fatalf("failure %q, returned %v", msg, returned)
	}
	if took < timeout || took > 5*time.Second {
		t.Fatalf("gave up after %v, the timeout is %v", took, timeout)
	}
	// 1+2+4+8+16+20 ms > 50 ms: at least 5 checks, the one at the deadline included.
	if calls < 5 || calls > 100 {
		t.Fatalf("%d checks in %v", calls, took)
	}
}

func TestEventuallyNil(t *testing.T) {
	calls := 0
	msg, _ := run(t, func(tb testing.TB) {
		poll.EventuallyNil(tb, 10*time.Second, "success", func() error {
			if calls++; calls < 3 {
				return errors.New("not yet")
			}
			return nil
		})
	})
	if msg != "" || calls != 3 {
		t.Fatalf("failure %q after %d calls", msg, calls)
	}
	calls = 0
	msg, returned := run(t, func(tb testing.TB) {
		poll.EventuallyNil(tb, 20*time.Millisecond, "node n0 answering", func() error {
			calls++
			return fmt.Errorf("connection refused (%d)", calls)
		})
	})
	want := fmt.Sprintf(": connection refused (%d)", calls)
	if returned || !strings.HasPrefix(msg, "gave up waiting for node n0 answering after ") || !strings.HasSuffix(msg, want) {
		t.Fatalf("failure %q, returned %v; want the last error %q", msg, returned, want)
	}
}

func TestUntil(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := poll.Until(ctx, func() bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a condition that never holds: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := poll.Until(ctx, func() bool { return true }); err != nil {
		t.Fatalf("a condition that holds, ctx already ended: %v", err)
	}
	// A condition that comes true during the last interval holds at the
	// check made when ctx ends.
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := poll.Until(ctx, func() bool { return ctx.Err() != nil }); err != nil {
		t.Fatalf("a condition true from the deadline on: %v", err)
	}
}
