package engine

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/segment"
)

// TestClusterRepairsDamagedFollower: real files. A stopped follower's log
// gets a flipped bit in an entry it had fsynced; at start it finds the
// damage, cuts its log there, refuses to vote until the leader has sent
// the entries back, and ends with a log identical to the others.
func TestClusterRepairsDamagedFollower(t *testing.T) {
	for _, mode := range []flush.Mode{flush.SyncFlush, flush.AsyncFlush} {
		t.Run(mode.String(), func(t *testing.T) {
			c := newTestCluster(t, 3, mode)
			var logs syncBuffer
			c.startAll()
			f, acked := c.stopConvergedFollower(t, 2000, 8)
			path := filepath.Join(c.dirs[f], "commitlog", "00000000000000000000.log")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			at := int64(len(data) / 8) // well inside the written entries (256 KiB files, ~2000 x ~110 B)
			fh, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fh.WriteAt([]byte{data[at] ^ 0x40}, at); err != nil {
				t.Fatal(err)
			}
			fh.Close()
			c.tweak = func(cfg *Config) {
				if cfg.ID == f {
					cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				}
			}
			c.start(f)
			if !strings.Contains(logs.String(), "damaged log") {
				t.Fatalf("%s did not report the damage:\n%s", f, logs.String())
			}
			more := load(t, c, 200, 4, "after")
			for i, p := range more {
				acked[i] = p
			}
			c.settled(c.leader().st.Log.LastIndex(), acked)
			c.waitFor(10*time.Second, "the end of the repair", func() bool { return c.nodes[f].Status().RepairTo == 0 })
			if !strings.Contains(logs.String(), "repaired") {
				t.Fatalf("%s did not log the end of the repair:\n%s", f, logs.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestClearRepair: the operator's override ends a repair on disk and keeps
// term and vote.
func TestClearRepair(t *testing.T) {
	dir := t.TempDir()
	if err := saveState(segment.OSFS{}, dir, HardState{Term: 7, Vote: "n2", RepairTo: 90, RepairTerm: 6}); err != nil {
		t.Fatal(err)
	}
	before, err := ClearRepair(dir)
	if err != nil || before.RepairTo != 90 {
		t.Fatalf("ClearRepair = %+v, %v", before, err)
	}
	after, err := ReadHardState(dir)
	if err != nil || after != (HardState{Term: 7, Vote: "n2"}) {
		t.Fatalf("after: %+v, %v", after, err)
	}
}

// fullStateFS fails the creation of the hard state's temporary file with
// ENOSPC while full is set, as a full disk does.
type fullStateFS struct {
	segment.FS
	full atomic.Bool
}

func (f *fullStateFS) Create(name string) (segment.File, error) {
	if f.full.Load() && strings.HasSuffix(name, stateTmp) {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.ENOSPC}
	}
	return f.FS.Create(name)
}

// TestStateDiskFullResumes: a node that cannot save its term or vote for
// lack of space stops taking part, and takes part again once the disk has
// room (found by the fault campaign: it used to stop for good, and with two
// nodes of three so stopped the group never elected a leader again).
func TestStateDiskFullResumes(t *testing.T) {
	c := newTestCluster(t, 3, flush.SyncFlush)
	fss := map[string]*fullStateFS{}
	c.tweak = func(cfg *Config) {
		fs := &fullStateFS{FS: segment.OSFS{}}
		fss[cfg.ID] = fs
		cfg.FS = fs
	}
	c.startAll()
	l := c.leader()
	for id, fs := range fss {
		if id != l.ID() {
			fs.full.Store(true)
		}
	}
	old := l.ID()
	c.stop(old) // the others must change term to elect: neither can save it
	c.waitFor(10*time.Second, "a follower halted on the full disk", func() bool {
		for id, n := range c.nodes {
			if id != old && n.Status().Err != nil {
				return true
			}
		}
		return false
	})

	for _, fs := range fss {
		fs.full.Store(false)
	}
	nl := c.leader()
	if nl.ID() == old {
		t.Fatalf("%s leads again although it was stopped", old)
	}
	if _, err := nl.Append(context.Background(), []byte("after the disk has room")); err != nil {
		t.Fatal(err)
	}
}
