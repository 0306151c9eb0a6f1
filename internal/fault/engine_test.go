package fault

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/internal/testgroup"
	"github.com/rmqlog/rmqlog/segment"
)

// TestEngineOverFaultFS runs a node on the journaling FS and the Clock
// (elections need its ticks), appends, closes, cuts the power and checks
// with the plain FS that every acknowledged entry survived: the Syncs the
// flusher runs concurrently with appends are journaled right.
func TestEngineOverFaultFS(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal")
	j, err := OpenJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	// A one-member group with small files and fast timers, on fs and
	// clock at every open (nil: the plain FS and the real clock).
	var fs segment.FS = NewFS(j, nil)
	var clock engine.Clock = NewClock()
	g := testgroup.Start(t, testgroup.Options{Nodes: 1, Config: func(c *engine.Config) {
		c.SegmentSize, c.IndexEntries, c.MaxEntrySize = 64<<10, 512, 4096
		c.TickInterval, c.HeartbeatInterval = 5*time.Millisecond, 10*time.Millisecond
		c.ElectionTimeout, c.RetransmitTimeout = 50*time.Millisecond, 50*time.Millisecond
		c.FS, c.Clock = fs, clock
	}})
	n := g.Leader() // elections need the Clock's ticks
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const entries = 300 // over several 64 KiB segments
	var last uint64
	for i := range entries {
		if last, err = n.Append(ctx, fmt.Appendf(nil, "entry %d %0300d", i, i)); err != nil {
			t.Fatal(err)
		}
	}
	g.Stop(n.ID())
	_ = j.Close()
	rep, err := PowerLoss(journal)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records < entries {
		t.Fatalf("the journal holds %d records for %d appends: the node did not use the FS", rep.Records, entries)
	}
	fs, clock = nil, nil
	g.Restart(n.ID())
	n = g.Leader()
	it := n.Iter(last - entries + 1)
	for i := range entries {
		e, err := it.Next(ctx)
		if err != nil {
			t.Fatalf("acknowledged entry %d after the power loss: %v (loss: %v)", i, err, rep.Files)
		}
		if want := fmt.Sprintf("entry %d %0300d", i, i); string(e.Payload) != want {
			t.Fatalf("entry %d after the power loss: %.20q..., want %.20q...", i, e.Payload, want)
		}
	}
}
