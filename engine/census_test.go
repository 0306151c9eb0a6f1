package engine

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
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

// TestOpenTwiceRefused (issue 13): a second Open of a data directory in use
// fails at once, naming it; it used to succeed, and the second node elected
// itself and wrote its term into the first one's hard state.
func TestOpenTwiceRefused(t *testing.T) {
	dir := t.TempDir()
	open := func(logDir string) (*Node, error) {
		ln := listenLocal(t)
		return Open(Config{Group: "g", ID: "n0", Peers: map[string]string{"n0": ln.Addr().String()}, Listener: ln,
			Dir: dir, LogDir: logDir, SegmentSize: 64 << 10, IndexEntries: 4096, MaxEntrySize: 4 << 10, Logger: quietLogger()})
	}
	n, err := open("")
	if err != nil {
		t.Fatal(err)
	}
	for _, logDir := range []string{"", filepath.Join(t.TempDir(), "other")} {
		if _, err := open(logDir); !errors.Is(err, segment.ErrLocked) || !strings.Contains(err.Error(), dir) {
			t.Fatalf("second open (log dir %q): %v", logDir, err)
		}
	}
	n.Close()
	n, err = open("")
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	n.Close()
}
