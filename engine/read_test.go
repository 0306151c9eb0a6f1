package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/internal/testgroup"
)

// TestNodeReadIndex: on real nodes, the leader confirms and returns its
// commit index, a follower refuses with the leader's name, and a leader
// whose followers are gone cannot confirm.
func TestNodeReadIndex(t *testing.T) {
	g := startGroup(t, flush.SyncFlush, testgroup.Options{})
	l := g.Leader()
	if _, err := l.Append(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ri, err := l.ReadIndex(ctx)
	if err != nil || ri < 2 || ri > l.CommitIndex() {
		t.Fatalf("leader ReadIndex = %d, %v (commit %d)", ri, err, l.CommitIndex())
	}
	f := g.Node(follower(t, g, l))
	var nl *engine.NotLeaderError
	if _, err := f.ReadIndex(ctx); !errors.As(err, &nl) || nl.Leader != l.ID() {
		t.Fatalf("follower ReadIndex: %v, want NotLeaderError naming %s", err, l.ID())
	}
	for _, n := range g.Nodes() {
		if n != l {
			g.Stop(n.ID())
		}
	}
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if _, err := l.ReadIndex(short); err == nil {
		t.Fatal("a leader without followers confirmed a read")
	}
}
