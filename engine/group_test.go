package engine_test

import (
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/internal/testgroup"
)

// The tests of whole groups run real nodes in process with testgroup:
// over TCP on 127.0.0.1, with real segment files. This file holds what
// they share.

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
		if engine.RaceEnabled {
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
