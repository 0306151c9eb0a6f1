package segment

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// TestCrashRecovery appends with random syncs and checkpoints, loses power
// at random points (dropping everything after the last sync, or keeping a
// random subset of unsynced sectors), recovers, and checks that every entry
// Sync reported durable is there and intact and nothing but a clean prefix
// of what was appended appears.
func TestCrashRecovery(t *testing.T) {
	for _, torn := range []bool{false, true} {
		name := map[bool]string{false: "drop-unsynced", true: "torn-sectors"}[torn]
		t.Run(name, func(t *testing.T) {
			for seed := uint64(0); seed < 60; seed++ {
				crashRun(t, seed, torn)
			}
		})
	}
}

func crashRun(t *testing.T, seed uint64, torn bool) {
	rng := rand.New(rand.NewPCG(seed, 1))
	fs := NewMemFS()
	l := mustOpen(t, fs)
	m := newModel()
	var durable uint64
	for crash := 0; crash < 4; crash++ {
		for step := rng.IntN(8); step >= 0; step-- {
			if err := appendRandom(t, l, m, rng, 1+rng.IntN(30), 400); err != nil {
				t.Fatalf("seed %d: append: %v", seed, err)
			}
			if rng.IntN(2) == 0 {
				durable = mustSync(t, l)
			}
			if rng.IntN(3) == 0 {
				if err := l.Checkpoint(); err != nil {
					t.Fatalf("seed %d: checkpoint: %v", seed, err)
				}
			}
		}
		if torn {
			fs = fs.CrashTorn(rng)
		} else {
			fs = fs.Crash()
		}
		var err error
		if l, err = Open(testDir, testOpts(fs)); err != nil {
			t.Fatalf("seed %d crash %d: recovery failed: %v", seed, crash, err)
		}
		checkPrefix(t, l, m, durable)
		m.truncate(l.LastIndex() + 1)
	}
	_ = l.Close()
}

// TestSyncFailureIsSticky: after a failed fdatasync nothing is reported
// durable again and every write fails.
func TestSyncFailureIsSticky(t *testing.T) {
	fs := NewMemFS()
	l := mustOpen(t, fs)
	defer l.Close()
	m, rng := newModel(), rand.New(rand.NewPCG(1, 1))
	if err := appendRandom(t, l, m, rng, 5, 50); err != nil {
		t.Fatal(err)
	}
	d0 := mustSync(t, l)
	if err := appendRandom(t, l, m, rng, 5, 50); err != nil {
		t.Fatal(err)
	}
	var n int
	fs.SetFault(FailAt(0, &n, "sync"))
	d, err := l.Sync()
	if !errors.Is(err, ErrFailed) || !errors.Is(err, ErrInjected()) || d != d0 {
		t.Fatalf("sync = %d, %v; want %d, ErrFailed wrapping the injected error", d, err, d0)
	}
	fs.SetFault(nil)
	if _, err := l.Append(1, TypeNormal, []byte("x")); !errors.Is(err, ErrFailed) {
		t.Fatalf("append after failed sync: %v, want ErrFailed", err)
	}
	if d, err := l.Sync(); err == nil || d != d0 || l.DurableIndex() != d0 {
		t.Fatalf("second sync = %d, %v; durable %d; want %d and an error", d, err, l.DurableIndex(), d0)
	}
	if err := l.Checkpoint(); !errors.Is(err, ErrFailed) {
		t.Fatalf("checkpoint after failure: %v", err)
	}
}
