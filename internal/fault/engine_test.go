package fault

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/segment"
)

// openNode opens a one-member group in dir with fs and clock (nil: the
// defaults) and waits until it leads.
func openNode(t *testing.T, dir string, fs segment.FS, clock engine.Clock) *engine.Node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lead := make(chan struct{}, 1)
	n, err := engine.Open(engine.Config{
		Group: "g", ID: "n0", Peers: map[string]string{"n0": ln.Addr().String()}, Listener: ln,
		Dir: dir, FlushMode: flush.SyncFlush, SegmentSize: 64 << 10, IndexEntries: 512,
		TickInterval: 5 * time.Millisecond, HeartbeatInterval: 10 * time.Millisecond, ElectionTimeout: 50 * time.Millisecond,
		RetransmitTimeout: 50 * time.Millisecond, MaxEntrySize: 4096,
		OnRoleChange: func(rc engine.RoleChange) {
			if rc.Role == engine.Leader {
				select {
				case lead <- struct{}{}:
				default:
				}
			}
		},
		Logger: slog.New(slog.DiscardHandler), FS: fs, Clock: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-lead:
	case <-time.After(10 * time.Second):
		n.Close()
		t.Fatal("no leader within 10s: are the clock's ticks delivered?")
	}
	return n
}

// TestEngineOverFaultFS runs a node on the journaling FS and the Clock
// (elections need its ticks), appends, closes, cuts the power and checks
// with the plain FS that every acknowledged entry survived: the Syncs the
// flusher runs concurrently with appends are journaled right.
func TestEngineOverFaultFS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	journal := filepath.Join(t.TempDir(), "journal")
	j, err := OpenJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	n := openNode(t, dir, NewFS(j, nil), NewClock())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const entries = 300 // over several 64 KiB segments
	var last uint64
	for i := range entries {
		if last, err = n.Append(ctx, fmt.Appendf(nil, "entry %d %0300d", i, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	_ = j.Close()
	rep, err := PowerLoss(journal)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records < entries {
		t.Fatalf("the journal holds %d records for %d appends: the node did not use the FS", rep.Records, entries)
	}
	n = openNode(t, dir, nil, nil)
	defer n.Close()
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
