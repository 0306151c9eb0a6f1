package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/segment"
)

// TestProposeWithReuse: one Proposal proposed again and again appends its
// payloads each time, at the indexes that follow, and a refused proposal
// leaves it usable.
func TestProposeWithReuse(t *testing.T) {
	n := openSolo(t, segment.NewMemFS(), nil, nil)
	waitWritable(t, n)
	ctx := context.Background()
	var p Proposal
	last := n.Status().Last
	for i := range 5 {
		payloads := [][]byte{[]byte(fmt.Sprint("a", i)), []byte(fmt.Sprint("b", i))}
		if err := n.ProposeWith(&p, segment.TypeNormal, payloads); err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if last += 2; p.Index() != last {
			t.Fatalf("proposal %d: last index %d, want %d", i, p.Index(), last)
		}
		for k, want := range payloads {
			if e, err := n.Read(last - 1 + uint64(k)); err != nil || string(e.Payload) != string(want) {
				t.Fatalf("entry %d: %q %v, want %q", last-1+uint64(k), e.Payload, err, want)
			}
		}
	}
	if err := n.ProposeWith(&p, segment.TypeNormal, [][]byte{make([]byte, 5<<10)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a payload over MaxEntrySize: %v", err)
	}
	if err := n.ProposeWith(&p, segment.TypeNormal, [][]byte{[]byte("after")}); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx); err != nil || p.Index() != last+1 {
		t.Fatalf("after a refusal: index %d %v, want %d", p.Index(), err, last+1)
	}
}

// TestProposeWithInFlightPanics: proposing a Proposal whose outcome is not
// taken yet would hand its channel to two proposals; it panics instead.
func TestProposeWithInFlightPanics(t *testing.T) {
	n := openSolo(t, segment.NewMemFS(), map[string]string{"n1": "127.0.0.1:1", "n2": "127.0.0.1:2"}, nil)
	// Make the node look like a leader to Propose and hold its lock, so
	// the loop cannot resolve the proposal meanwhile (as
	// TestProposeBackPressure).
	n.mu.Lock()
	defer n.mu.Unlock()
	n.leading.Store(true)
	var p Proposal
	if err := n.ProposeWith(&p, segment.TypeNormal, [][]byte{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "still in flight") {
			t.Fatalf("recovered %v; want the in-flight panic", r)
		}
	}()
	n.ProposeWith(&p, segment.TypeNormal, [][]byte{[]byte("y")})
}

// TestProposeWithRefusedByClose: a Proposal refused because the node
// closed (here on the path of a node that still looks like a leader) is
// refused again on a second try, not taken for one in flight.
func TestProposeWithRefusedByClose(t *testing.T) {
	n := openSolo(t, segment.NewMemFS(), nil, nil)
	waitWritable(t, n)
	n.Close()
	n.leading.Store(true)
	var p Proposal
	for range 2 {
		if err := n.ProposeWith(&p, segment.TypeNormal, [][]byte{[]byte("x")}); !errors.Is(err, ErrClosed) {
			t.Fatalf("ProposeWith after Close: %v, want ErrClosed", err)
		}
	}
}

// TestWaitCommitWakes: WaitCommit returns once the commit index reaches
// its index, however its wait interleaves with the commits (the commit
// channel is replaced only when a wait may be under way).
func TestWaitCommitWakes(t *testing.T) {
	n := openSolo(t, segment.NewMemFS(), nil, nil)
	waitWritable(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const appends = 300
	start := n.CommitIndex()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range cap(errs) {
		wg.Go(func() {
			for i := start + 1; i <= start+appends; i++ {
				if err := n.WaitCommit(ctx, i); err != nil {
					errs <- fmt.Errorf("waiter %d, index %d (commit index %d): %w", w, i, n.CommitIndex(), err)
					return
				}
			}
		})
	}
	for range appends {
		if _, err := n.Append(ctx, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestProposeWithReusedAfterFailure: a Proposal whose append failed may be
// proposed again the moment its Wait returns; the node must be done with it
// by then (it released its pending bytes after resolving it, reading a
// size the next ProposeWith had already changed: MaxPendingBytes leaked).
func TestProposeWithReusedAfterFailure(t *testing.T) {
	n := openSolo(t, segment.NewMemFS(), map[string]string{"n1": "127.0.0.1:1", "n2": "127.0.0.1:2"}, nil)
	ctx := context.Background()
	var p Proposal
	for i := range 300 {
		n.leading.Store(true) // Propose queues; the loop's append fails: not the leader
		if err := n.ProposeWith(&p, segment.TypeNormal, [][]byte{make([]byte, 1+i%7*100)}); err != nil {
			continue // the loop cleared leading first
		}
		if err := p.Wait(ctx); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("proposal %d: %v, want not the leader", i, err)
		}
	}
	if got := n.pending.Load(); got != 0 {
		t.Fatalf("%d bytes still counted pending after every proposal failed", got)
	}
}
