package engine

import (
	"context"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/segment"
)

// The ASYNC_FLUSH power-cut scenarios of the durability review (issue 14):
// under ASYNC_FLUSH an entry counts on a node once it is in its page cache,
// so a node that lost power may have acknowledged entries it no longer
// holds. Before startState, such a node voted at once after its restart and
// one power cut (plus a delay, or a kill -9) lost an acknowledged entry.

// TestNodeAsyncOpenMarker: a Node under ASYNC_FLUSH records AsyncOpen at
// start and clears it at Close; a node that finds it set (its last run was
// killed or lost power) starts repairing; a repairing one-node group elects
// itself (a full house) and ends the repair.
func TestNodeAsyncOpenMarker(t *testing.T) {
	fs := segment.NewMemFS()
	async := func(c *Config) { c.FlushMode = flush.AsyncFlush }
	n := openSolo(t, fs, nil, async)
	if hs, err := loadState(fs, "/d"); err != nil || !hs.AsyncOpen {
		t.Fatalf("running: %+v, %v", hs, err)
	}
	waitWritable(t, n)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	hs, err := loadState(fs, "/d")
	if err != nil || hs.AsyncOpen || hs.RepairTo != 0 {
		t.Fatalf("after Close: %+v, %v", hs, err)
	}

	// A run that ended without Close: the state it leaves says AsyncOpen.
	hs.AsyncOpen = true
	if err := saveState(fs, "/d", hs); err != nil {
		t.Fatal(err)
	}
	n = openSolo(t, fs, nil, async)
	if st := n.Status(); st.RepairTo != RepairUnknown && st.Role != Leader {
		t.Fatalf("after an unclean stop: repairTo %d", st.RepairTo)
	}
	waitWritable(t, n)
	if st := n.Status(); st.RepairTo != 0 {
		t.Fatalf("a one-node group's leader still repairing: %+v", st)
	}
}

// waitWritable waits up to 10 s for n to lead with its no-op committed,
// and fails the test with n's status if it does not.
func waitWritable(t *testing.T, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := poll.Until(ctx, func() bool { return n.Status().Writable }); err != nil {
		t.Fatalf("not writable within 10s: %+v", n.Status())
	}
}
