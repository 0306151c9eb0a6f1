package segment

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// step is one operation of a scenario, applied to the log and the model.
type step struct {
	name string
	do   func(t *testing.T, l *Log, m *model) error
}

// deleteLandsAt is where the scenario's DeletePrefix lands, learnt from
// the run without faults, which comes first.
var deleteLandsAt uint64

// scenario touches every file-operation call site: creation, rolls of data
// and index files, sync, checkpoint, truncation, retention and close.
func scenario(rng *rand.Rand) []step {
	app := func(n int) step {
		return step{"append", func(t *testing.T, l *Log, m *model) error { return appendRandom(t, l, m, rng, n, 120) }}
	}
	return []step{
		app(300),
		{"sync", func(t *testing.T, l *Log, m *model) error { _, err := l.Sync(); return err }},
		{"checkpoint", func(t *testing.T, l *Log, m *model) error { return l.Checkpoint() }},
		{"truncate", func(t *testing.T, l *Log, m *model) error {
			m.truncate(250)
			return l.TruncateSuffix(250)
		}},
		app(400),
		{"sync", func(t *testing.T, l *Log, m *model) error { _, err := l.Sync(); return err }},
		{"delete", func(t *testing.T, l *Log, m *model) error {
			first, err := l.DeletePrefix(300)
			if err == nil {
				deleteLandsAt = first
			}
			m.deletePrefix(deleteLandsAt)
			return err
		}},
		{"checkpoint", func(t *testing.T, l *Log, m *model) error { return l.Checkpoint() }},
		{"close", func(t *testing.T, l *Log, m *model) error { return l.Close() }},
	}
}

// TestInjectedErrors fails the n-th file operation for every n in turn
// (pebble's errorfs sweep). The failing call must return an error, never
// panic; after a crash at that point the log must recover with every entry
// that a Sync reported durable.
func TestInjectedErrors(t *testing.T) {
	total := runScenario(t, -1)
	if total < 100 {
		t.Fatalf("scenario made only %d file operations", total)
	}
	failed := 0
	for n := 0; n < total; n++ {
		if runScenario(t, n) < 0 {
			failed++
		}
	}
	// Many faults are absorbed by design: a failed preparation of the next
	// file (7 operations each) is retried at the roll that needs it.
	if failed < total/4 {
		t.Fatalf("only %d of %d injected faults surfaced as errors", failed, total)
	}
}

// runScenario runs the scenario failing operation n (none if n < 0) and
// returns how many operations it made, or -1 if a call returned the fault.
func runScenario(t *testing.T, n int) int {
	fs := NewMemFS()
	count := 0
	fs.SetFault(FailAt(n, &count))
	rng := rand.New(rand.NewPCG(11, 11))
	l, err := Open(testDir, testOpts(fs))
	m := newModel()
	var durable, durableBefore uint64
	before := m
	if err == nil {
		for _, s := range scenario(rng) {
			before, durableBefore = m.clone(), durable
			if err = s.do(t, l, m); err != nil {
				if !errors.Is(err, ErrInjected()) {
					t.Fatalf("fault %d in %s: error %v does not wrap the injected error", n, s.name, err)
				}
				break
			}
			if s.name == "sync" {
				durable = l.DurableIndex()
			}
			if s.name == "truncate" || s.name == "delete" {
				durable = min(durable, m.last())
			}
		}
	}
	surfaced := err != nil
	fs.SetFault(nil)
	l2, err := Open(testDir, testOpts(fs.Crash()))
	if err != nil {
		t.Fatalf("fault %d: recovery after crash: %v", n, err)
	}
	defer l2.Close()
	// A step interrupted by the fault may have happened or not.
	checkEither(t, l2, m, before, min(durable, m.last()), min(durableBefore, before.last()))
	if surfaced {
		return -1
	}
	return count
}

// TestInterruptedTruncateAndDelete crashes before each file operation of
// TruncateSuffix and DeletePrefix: recovery must give the log as it was
// before the call or as it is after it, never anything between.
func TestInterruptedTruncateAndDelete(t *testing.T) {
	newFirst := uint64(0) // where DeletePrefix(200) lands, learnt from the first run
	ops := []struct {
		name  string
		apply func(l *Log, m *model) error
	}{
		{"truncate", func(l *Log, m *model) error { m.truncate(123); return l.TruncateSuffix(123) }},
		{"truncate-first", func(l *Log, m *model) error { m.truncate(1); return l.TruncateSuffix(1) }},
		{"reset", func(l *Log, m *model) error {
			*m = model{first: 400, baseTerm: 7}
			return l.Reset(Position{Index: 400, Offset: l.next.Offset + 5000}, 7, 0xabcdef)
		}},
		{"delete", func(l *Log, m *model) error {
			first, err := l.DeletePrefix(200)
			if newFirst == 0 {
				newFirst = first
			}
			if err == nil && first != newFirst {
				return fmt.Errorf("DeletePrefix(200) = %d, then %d", newFirst, first)
			}
			m.deletePrefix(newFirst)
			return err
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			for k := -1; ; k++ { // k = -1: no crash, learns the final state
				fs := NewMemFS()
				l := mustOpen(t, fs)
				old, rng := newModel(), rand.New(rand.NewPCG(5, 5))
				if err := appendRandom(t, l, old, rng, 300, 120); err != nil {
					t.Fatal(err)
				}
				mustSync(t, l)
				if err := l.Checkpoint(); err != nil {
					t.Fatal(err)
				}
				var crashed *MemFS
				seen := 0
				fs.SetFault(func(op, name string) error {
					seen++
					if seen-1 == k {
						crashed = fs.Crash()
						return errInjected
					}
					return nil
				})
				m := old.clone()
				err := op.apply(l, m)
				if crashed == nil {
					if err != nil {
						t.Fatal(err)
					}
					if l.FirstIndex() != m.first || l.LastIndex() != m.last() {
						t.Fatalf("after %s: log holds [%d, %d], want [%d, %d]", op.name, l.FirstIndex(), l.LastIndex(), m.first, m.last())
					}
					crashed = fs.Crash()
				}
				l2, err := Open(testDir, testOpts(crashed))
				if err != nil {
					t.Fatalf("crash before op %d: %v", k, err)
				}
				if l2.LastIndex() != m.last() {
					checkPrefix(t, l2, old, old.last())
				}
				checkEither(t, l2, m, old, m.last(), old.last())
				_ = l2.Close()
				if k >= seen {
					if k < 3 {
						t.Fatalf("only %d operations", seen)
					}
					return
				}
			}
		})
	}
}

// TestDiskFull: a file system without room fails the roll to a new file
// with ErrDiskFull; the log keeps working and recovers once there is room.
func TestDiskFull(t *testing.T) {
	fs := NewMemFS()
	l := mustOpen(t, fs)
	defer l.Close()
	fs.SetCapacity(5 * 4096)
	m, rng := newModel(), rand.New(rand.NewPCG(9, 9))
	var err error
	for k := 0; k < 1000 && err == nil; k++ {
		err = appendRandom(t, l, m, rng, 1, 200)
	}
	if !errors.Is(err, ErrDiskFull) || l.Err() != nil {
		t.Fatalf("append on a full disk: %v (sticky %v); want ErrDiskFull, not sticky", err, l.Err())
	}
	mustSync(t, l)
	checkPrefix(t, l, m, m.last())
	fs.SetCapacity(0)
	if err := appendRandom(t, l, m, rng, 100, 200); err != nil {
		t.Fatalf("append after space was freed: %v", err)
	}
	checkPrefix(t, l, m, m.last())
}

// TestDiskFullRealFS fills a real 512 KiB tmpfs: fallocate must report
// ENOSPC as ErrDiskFull instead of the process dying of SIGBUS.
func TestDiskFullRealFS(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=512k"); err != nil {
		t.Skipf("cannot mount a small tmpfs here (%v); TestDiskFull covers the logic", err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	opts := Options{SegmentSize: 64 << 10, IndexEntries: 512}
	l, err := Open(filepath.Join(dir, "log"), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m, rng := newModel(), rand.New(rand.NewPCG(2, 2))
	for k := 0; k < 100000 && err == nil; k++ {
		err = appendRandom(t, l, m, rng, 1, 1000)
	}
	if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the disk: %v, want ErrDiskFull wrapping ENOSPC", err)
	}
	mustSync(t, l)
	checkPrefix(t, l, m, m.last())
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}
