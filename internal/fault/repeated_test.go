package fault_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rmqlog/rmqlog/internal/fault"
	"github.com/rmqlog/rmqlog/segment"
)

// TestRepeatedPowerLoss: power cuts in a row, with no checkpoint between
// the second and the third. Found by the fault campaign: the log's
// per-Sync hint overwrote the only checkpoint slot a first cut had left
// valid, and the next cut left none ("checkpoint has no valid slot").
// Recovery now writes the checkpoint into the other slot durably at open.
func TestRepeatedPowerLoss(t *testing.T) {
	dir := t.TempDir()
	jp := filepath.Join(dir, "journal")
	logDir := filepath.Join(dir, "log")
	var want uint64
	for round := 0; round < 4; round++ {
		j, err := fault.OpenJournal(jp)
		if err != nil {
			t.Fatal(err)
		}
		l, err := segment.Open(logDir, segment.Options{FS: fault.NewFS(j, nil), SegmentSize: 1 << 20})
		if err != nil {
			t.Fatalf("round %d: open after %d power cuts: %v", round, round, err)
		}
		t.Cleanup(func() { _ = l.Close() })
		if l.LastIndex() < want {
			t.Fatalf("round %d: log ends at %d, %d were synced", round, l.LastIndex(), want)
		}
		for i := 0; i < 100; i++ {
			if _, err := l.Append(1, segment.TypeNormal, []byte("entry")); err != nil {
				t.Fatal(err)
			}
			if i%10 == 0 {
				if want, err = l.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			if i == 50 && round == 0 {
				if err := l.Checkpoint(); err != nil {
					t.Fatal(err)
				}
			}
		}
		l.WaitPrepared() // no background file creation during the power cut
		j.Close()        // the process dies: no Close of the log
		if _, err := fault.PowerLoss(jp); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(logDir, "checkpoint"))
	if len(b) < 640 {
		t.Fatalf("checkpoint file of %d bytes", len(b))
	}
}
