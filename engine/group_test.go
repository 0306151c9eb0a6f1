package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/internal/testgroup"
)

// The tests of whole groups run real nodes in process with testgroup:
// over TCP on 127.0.0.1, with real segment files. This file holds what
// they share: the configuration they run with, a load that records what
// was acknowledged, and the checks that nothing acknowledged was lost.

// startGroup starts a group as testgroup.Start does, under flush mode mode
// and with 256 KiB segment files (a few thousand entries span several), a
// 20 ms flush interval, 64 KiB batches and client addresses
// "client-<id>"; opts.Config, if set, then adjusts each member's config.
func startGroup(t *testing.T, mode flush.Mode, opts testgroup.Options) *testgroup.Group {
	t.Helper()
	adjust := opts.Config
	opts.Config = func(c *engine.Config) {
		c.FlushMode, c.FlushInterval = mode, 20*time.Millisecond
		c.SegmentSize, c.MaxBatchBytes = 256<<10, 64<<10
		c.ClientAddr = "client-" + c.ID
		if raceEnabled {
			// The race detector slows the nodes several-fold, and `make
			// test` runs other packages' tests (real processes among them)
			// on the same two cores: a 150 ms starvation would make the
			// leader step down (CheckQuorum) in the middle of a test that
			// expects none.
			c.ElectionTimeout = 600 * time.Millisecond
		}
		if adjust != nil {
			adjust(c)
		}
	}
	return testgroup.Start(t, opts)
}

// load appends count unique payloads from workers goroutines, each on
// whichever member leads, and returns the acknowledged payloads by index.
// An append that fails fails the test.
func load(t *testing.T, g *testgroup.Group, count, workers int, tag string) map[uint64][]byte {
	t.Helper()
	var mu sync.Mutex
	acked := map[uint64][]byte{}
	var wg sync.WaitGroup
	per := count / workers
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range per {
				p := fmt.Appendf(nil, "%s w%d k%d %s", tag, w, k, bytes.Repeat([]byte{'x'}, 64))
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				i, err := g.Append(ctx, p)
				cancel()
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				mu.Lock()
				acked[i] = p
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return acked
}

// stopConvergedFollower appends count entries (workers at a time), waits
// until every member holds them, stops a follower and returns its id and
// the acknowledged entries.
func stopConvergedFollower(t *testing.T, g *testgroup.Group, count, workers int) (string, map[uint64][]byte) {
	t.Helper()
	l := g.Leader()
	f := follower(t, g, l)
	acked := load(t, g, count, workers, "before")
	g.Converge(l.Status().Last)
	g.Stop(f)
	return f, acked
}

// follower returns the id of a running member other than l.
func follower(t *testing.T, g *testgroup.Group, l *engine.Node) string {
	t.Helper()
	for _, n := range g.Nodes() {
		if n != l {
			return n.ID()
		}
	}
	t.Fatal("a group of one has no follower")
	return ""
}

// settled waits for every running member to hold and commit last, checks
// that they hold the same entries, and that each holds every acknowledged
// entry.
func settled(t *testing.T, g *testgroup.Group, last uint64, acked map[uint64][]byte) {
	t.Helper()
	g.Converge(last)
	checkAcked(t, g, acked)
}

// checkAcked checks that every running member holds every acknowledged
// entry, unchanged, and no payload twice among its committed entries.
func checkAcked(t *testing.T, g *testgroup.Group, acked map[uint64][]byte) {
	t.Helper()
	seen := map[string]uint64{}
	for _, n := range g.Nodes() {
		for i, p := range acked {
			e, err := n.Read(i)
			if err != nil || !bytes.Equal(e.Payload, p) {
				t.Fatalf("%s: acknowledged entry %d lost or changed (%v)", n.ID(), i, err)
			}
		}
		clear(seen)
		for k := n.Status().First; k <= n.CommitIndex(); k++ {
			e, _ := n.Read(k)
			if j, dup := seen[string(e.Payload)]; dup && len(e.Payload) > 0 {
				t.Fatalf("%s: payload %q at %d and %d", n.ID(), e.Payload, j, k)
			}
			seen[string(e.Payload)] = k
		}
	}
}
