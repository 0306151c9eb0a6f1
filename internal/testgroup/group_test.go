package testgroup_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/internal/testgroup"
)

// TestGroup: a leader is elected and commits; stopped, it is replaced;
// restarted from its directory on its old address, it catches up with
// what was committed meanwhile. Network and Config are applied.
func TestGroup(t *testing.T) {
	var networked map[string]string
	configs := map[string]int{}
	dirs := map[string]string{}
	g := testgroup.Start(t, testgroup.Options{
		Network: func(addrs map[string]string) func(string) map[string]string {
			networked = maps.Clone(addrs)
			return func(string) map[string]string { return addrs }
		},
		Config: func(c *engine.Config) { configs[c.ID]++; dirs[c.ID] = c.Dir; c.FlushMode = flush.AsyncFlush },
	})
	if len(networked) != 3 || len(g.Nodes()) != 3 {
		t.Fatalf("Network saw %v; %d members run", networked, len(g.Nodes()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	old := g.Leader()
	var before uint64
	for k := range 10 {
		i, err := g.Append(ctx, fmt.Appendf(nil, "before %d", k))
		if err != nil {
			t.Fatal(err)
		}
		before = max(before, i)
	}
	// Every member holds the log before the leader stops: a member of a new
	// group that lagged (two busy cores) may still be repairing (its census
	// raced the first election), and its vote then counts only when every
	// member votes, so without the stopped one no leader could be elected
	// (docs/durability.md). Converge waits until that cannot be.
	g.Converge(before)
	g.Stop(old.ID())
	if g.Node(old.ID()) != nil || len(g.Nodes()) != 2 {
		t.Fatalf("%s stopped: Node %v, %d members run", old.ID(), g.Node(old.ID()), len(g.Nodes()))
	}
	if nl := g.Leader(old.ID()); nl == old {
		t.Fatal("Leader returned the stopped member")
	}
	var last uint64
	for k := range 10 {
		i, err := g.Append(ctx, fmt.Appendf(nil, "after %d", k))
		if err != nil {
			t.Fatal(err)
		}
		last = max(last, i)
	}
	back := g.Restart(old.ID())
	if back == old || g.Node(old.ID()) != back {
		t.Fatalf("Restart returned %p, Node %p; the old node was %p", back, g.Node(old.ID()), old)
	}
	g.Converge(last)
	want := map[string]int{"n0": 1, "n1": 1, "n2": 1}
	want[old.ID()]++
	if !maps.Equal(configs, want) {
		t.Fatalf("Config calls %v, want %v (once per open)", configs, want)
	}
	if e, err := back.Read(last); err != nil || string(e.Payload) != "after 9" {
		t.Fatalf("entry %d on the restarted member: %q %v", last, e.Payload, err)
	}
	for id, dir := range dirs {
		if g.Dir(id) != dir {
			t.Fatalf("Dir(%s) = %q, the member opened %q", id, g.Dir(id), dir)
		}
	}
	if d := g.Dir("n9"); d != "" {
		t.Fatalf("Dir of no member: %q", d)
	}
}

// fakeTB records a failure instead of failing the test running it;
// Fatalf ends the calling goroutine, as testing's does.
type fakeTB struct {
	testing.TB // the real one, for everything not overridden
	msg        chan string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msg <- fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestEventuallyFails: a wait that gives up names what it waited for, and
// the status of every member, running or stopped.
func TestEventuallyFails(t *testing.T) {
	f := &fakeTB{TB: t, msg: make(chan string, 1)}
	g := testgroup.Start(f, testgroup.Options{Nodes: 2})
	g.Stop("n1")
	go func() {
		g.Eventually(50*time.Millisecond, "the impossible", func() bool { return false })
		f.msg <- "" // not reached: Eventually failed the test
	}()
	msg := <-f.msg
	for _, want := range []string{"gave up waiting for the impossible after 50ms:", "\nn0 ", " term ", "\nn1 stopped"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("failure %q does not contain %q", msg, want)
		}
	}
}

// TestConvergeAfterRetention: once retention has deleted a prefix of every
// member's log (each at its own file boundary), Converge compares the
// entries from the highest first index on.
func TestConvergeAfterRetention(t *testing.T) {
	g := testgroup.Start(t, testgroup.Options{Config: func(c *engine.Config) {
		c.SegmentSize, c.MaxEntrySize = 16<<10, 4<<10
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l := g.Leader()
	var last uint64
	for k := range 10 {
		i, err := l.AppendBatch(ctx, [][]byte{bytes.Repeat([]byte{byte(k)}, 3000), bytes.Repeat([]byte{byte(k)}, 3000)})
		if err != nil {
			t.Fatal(err)
		}
		last = i + 1
	}
	g.Converge(last)
	for _, n := range g.Nodes() {
		// Two hours on, every file is past the one-hour limit: all but the
		// newest go.
		if first, err := n.Retain(time.Now().Add(2*time.Hour), time.Hour, 0); err != nil || first <= 1 {
			t.Fatalf("%s: retention kept the log from %d (%v)", n.ID(), first, err)
		}
	}
	g.Converge(last)
}
