package engine

import (
	"context"
	"testing"

	"github.com/rmqlog/rmqlog/segment"
)

// TestNodeLogWithoutState: a data directory with a log but no raft-state
// file starts from lostState.
func TestNodeLogWithoutState(t *testing.T) {
	fs := segment.NewMemFS()
	n := openSolo(t, fs, nil, nil)
	waitWritable(t, n)
	if _, err := n.Append(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	n.Close()
	if err := fs.Remove("/d/" + stateFile); err != nil {
		t.Fatal(err)
	}
	n = openSolo(t, fs, nil, nil)
	waitWritable(t, n) // a one-member group: the census is empty, the full house is itself
	hs, err := loadState(fs, "/d")
	if err != nil || hs.TermLost || hs.RepairTo != 0 || hs.Term < 2 {
		t.Fatalf("after the restart: %+v, %v", hs, err)
	}
}
