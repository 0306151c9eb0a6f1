package fault

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rmqlog/rmqlog/segment"
)

// phase appends n entries, then syncs and checkpoints if asked.
type phase struct {
	n          int
	sync, ckpt bool
}

func payload(i uint64) []byte {
	p := fmt.Appendf(nil, "entry-%d-", i)
	return append(p, bytes.Repeat([]byte{byte(i)}, 150+int(i%7)*40)...)
}

const (
	testSegment = 4096
	testSlots   = 512
)

func logOpts(fs segment.FS) segment.Options {
	return segment.Options{FS: fs, SegmentSize: testSegment, IndexEntries: testSlots}
}

// TestLogPowerLoss runs a real segment.Log through the journaling FS,
// "kills" it (no Close) after synced and unsynced appends, cuts the power
// and reopens the log with the plain OSFS: every entry a Sync covered must
// be there and intact, every later one gone, for several rounds.
func TestLogPowerLoss(t *testing.T) {
	tests := []struct {
		name   string
		rounds [][]phase
	}{
		{"unsynced tail in the same file", [][]phase{{{n: 5, sync: true}, {n: 3}}}},
		{"unsynced tail across files", [][]phase{{{n: 10, sync: true}, {n: 40}}}},
		{"nothing synced", [][]phase{{{n: 12}}}},
		{"all synced", [][]phase{{{n: 30, sync: true}}}},
		{"checkpoints, then an unsynced tail", [][]phase{{{n: 20, sync: true, ckpt: true},
			{n: 25, sync: true, ckpt: true}, {n: 7, sync: true}, {n: 15}}}},
		{"several power losses", [][]phase{
			{{n: 20, sync: true, ckpt: true}, {n: 9}},
			{{n: 3, sync: true}, {n: 30}},
			{{n: 40, sync: true, ckpt: true}, {n: 1, sync: true}, {n: 2}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			journal := filepath.Join(t.TempDir(), "journal")
			var durable uint64
			for r, round := range tc.rounds {
				unsynced := runLog(t, dir, journal, round, &durable)
				rep, err := PowerLoss(journal)
				if err != nil {
					t.Fatal(err)
				}
				if unsynced && rep.BytesZeroed == 0 {
					t.Errorf("round %d: unsynced appends, but the power loss zeroed nothing: %v", r, rep.Files)
				}
				checkLog(t, dir, durable)
			}
		})
	}
}

// runLog opens the log through a journaling FS, runs the phases and
// abandons the log as a killed process would. It updates *durable and
// reports whether entries were appended after the last Sync.
func runLog(t *testing.T, dir, journal string, phases []phase, durable *uint64) (unsynced bool) {
	t.Helper()
	j, err := OpenJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	l, err := segment.Open(dir, logOpts(NewFS(j, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range phases {
		for range p.n {
			i := l.LastIndex() + 1
			if _, err := l.Append(1, segment.TypeNormal, payload(i)); err != nil {
				t.Fatal(err)
			}
		}
		unsynced = p.n > 0
		if p.sync {
			if *durable, err = l.Sync(); err != nil {
				t.Fatal(err)
			}
			unsynced = false
		}
		if p.ckpt {
			if err := l.Checkpoint(); err != nil {
				t.Fatal(err)
			}
		}
	}
	l.WaitPrepared() // the kill: no Close, no Sync; background work done
	t.Cleanup(func() { _ = l.Close() })
	return unsynced
}

// checkLog reopens the log with the plain OSFS and checks it holds exactly
// entries [1, durable], intact.
func checkLog(t *testing.T, dir string, durable uint64) {
	t.Helper()
	l, err := segment.Open(dir, logOpts(segment.OSFS{}))
	if err != nil {
		t.Fatalf("recovery after the power loss: %v", err)
	}
	defer l.Close()
	if l.FirstIndex() != 1 || l.LastIndex() != durable {
		t.Fatalf("after the power loss the log holds [%d, %d], want [1, %d]: synced entries lost or unsynced ones kept",
			l.FirstIndex(), l.LastIndex(), durable)
	}
	for i := uint64(1); i <= durable; i++ {
		e, err := l.Read(i)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if !bytes.Equal(e.Payload, payload(i)) {
			t.Fatalf("entry %d: payload differs", i)
		}
	}
}
