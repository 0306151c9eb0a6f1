package poll

import (
	"context"
	"testing"
	"time"
)

// The intervals between checks: the first, doubled after each check up to
// the last.
const (
	firstInterval = time.Millisecond
	maxInterval   = 20 * time.Millisecond
)

// Until checks cond until it returns true, then returns nil; if ctx ends
// first (and a last check at that moment fails too), it returns ctx.Err().
// cond runs on the caller's goroutine, never concurrently with itself.
func Until(ctx context.Context, cond func() bool) error {
	wait := firstInterval
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			if cond() {
				return nil
			}
			return ctx.Err()
		case <-timer.C:
		}
		wait = min(2*wait, maxInterval)
		timer.Reset(wait)
	}
	return nil
}

// Eventually checks cond until it returns true; if it has not within
// timeout, it fails the test with what (a noun phrase: "a writable
// leader") and the time waited. Like t.Fatal, it must be called from the
// goroutine running the test.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	if err := within(timeout, cond); err != nil {
		t.Fatalf("gave up waiting for %s after %v (timeout %v)", what, since(start), timeout)
	}
}

// EventuallyNil is Eventually for a condition that says why it does not
// hold yet: it calls cond until it returns nil, and a failure names cond's
// last error.
func EventuallyNil(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	start := time.Now()
	var last error
	if err := within(timeout, func() bool { last = cond(); return last == nil }); err != nil {
		t.Fatalf("gave up waiting for %s after %v (timeout %v): %v", what, since(start), timeout, last)
	}
}

func within(timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return Until(ctx, cond)
}

func since(start time.Time) time.Duration { return time.Since(start).Round(time.Millisecond) }
