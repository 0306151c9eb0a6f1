package hostile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/client"
)

// bystander is a healthy client of the group: on its own goroutine it
// appends a payload and reads it back, again and again, and records how
// each cycle went.
type bystander struct {
	// once is one cycle (its argument numbers it); done releases what it
	// holds when the bystander closes.
	once    func(n int) error
	release func()
	// isTransient classifies a cycle's error (transient or
	// remotingTransient).
	isTransient func(error) bool
	stop        chan struct{}
	done        chan struct{}

	// gate is held by each cycle; pause takes it so that a case can act on
	// a log nobody appends to.
	gate sync.Mutex

	mu     sync.Mutex // guards cycles
	cycles []cycle
}

// cycle is one append and read-back.
type cycle struct {
	start time.Time
	took  time.Duration
	err   error
}

// opTimeout bounds one append or get of the bystander (the client retries
// transient errors within it).
const opTimeout = 5 * time.Second

func startBystander(ctx context.Context, addrs []string) (*bystander, error) {
	cl, err := client.Dial(ctx, addrs, client.WithDialTimeout(time.Second))
	if err != nil {
		return nil, fmt.Errorf("hostile: bystander: %w", err)
	}
	b := &bystander{release: func() { cl.Close() }, isTransient: transient, stop: make(chan struct{}), done: make(chan struct{})}
	b.once = func(n int) error { return clientCycle(cl, n) }
	go b.run()
	return b, nil
}

func (b *bystander) run() {
	defer close(b.done)
	for n := 0; ; n++ {
		select {
		case <-b.stop:
			return
		default:
		}
		b.gate.Lock()
		start := time.Now()
		err := b.once(n)
		b.gate.Unlock()
		b.mu.Lock()
		b.cycles = append(b.cycles, cycle{start: start, took: time.Since(start), err: err})
		b.mu.Unlock()
		if err != nil {
			select { // do not spin on a node that refuses at once
			case <-b.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// clientCycle appends through the group and reads the entry back.
func clientCycle(cl *client.Client, n int) error {
	payload := fmt.Appendf(nil, "bystander %08d %s", n, bytes.Repeat([]byte{'.'}, 64))
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	i, err := cl.Append(ctx, payload)
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	got, err := cl.Get(ctx, i)
	switch {
	case err != nil:
		return fmt.Errorf("get %d: %w", i, err)
	case !bytes.Equal(got, payload):
		return fmt.Errorf("%w: get %d returned %q, appended %q", errWrongData, i, got, payload)
	}
	return nil
}

var errWrongData = errors.New("hostile: bystander read back other data")

// pause stops the bystander between cycles until the returned function is
// called.
func (b *bystander) pause() (resume func()) {
	b.gate.Lock()
	return b.gate.Unlock
}

// mark is where a case's cycles start.
func (b *bystander) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.cycles)
}

// okSince reports whether a cycle that started at or after t succeeded.
func (b *bystander) okSince(t time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.cycles) - 1; i >= 0 && !b.cycles[i].start.Before(t); i-- {
		if b.cycles[i].err == nil {
			return true
		}
	}
	return false
}

// bystanderStats sums the cycles of one case.
type bystanderStats struct {
	OK, Transient int
	Fatal         []string // errors that are not transient, at most a few
	MaxLatency    time.Duration
}

func (b *bystander) stats(from int) bystanderStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s bystanderStats
	for _, c := range b.cycles[from:] {
		s.MaxLatency = max(s.MaxLatency, c.took)
		switch {
		case c.err == nil:
			s.OK++
		case b.isTransient(c.err):
			s.Transient++
		case len(s.Fatal) < 3:
			s.Fatal = append(s.Fatal, c.err.Error())
		}
	}
	return s
}

// transient reports whether err is one a healthy client meets during
// elections and overload: the node was busy, not leading, overloaded,
// closing or unreachable, or the append's outcome was unknown. A corrupt
// answer, a bad request, a lost entry, a storage failure or a time-out
// (opTimeout: the bystander was stuck) are not.
func transient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	for _, e := range []error{client.ErrBusy, client.ErrUnknown, client.ErrNotLeader, client.ErrOverload, client.ErrClosing} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (b *bystander) close() {
	close(b.stop)
	<-b.done
	b.release()
}
