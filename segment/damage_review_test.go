package segment

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestCheckUnsyncedTwoFlipsHad: like TestCheckUnsyncedHadCoversChain,
// with two flipped bits in the unsynced part (entries 33 and 36) instead of
// one. Under ASYNC_FLUSH every entry up to 40 may have been acknowledged
// (counted on this node), so the engine's RepairTo (= Damage.Had) must be
// at least 40; recovery stops following the valid chain at the second bad
// entry and reports Had = 35, so the node's repair can end (commit >= 35)
// while it still lacks 36..40 that it had acknowledged.
func TestCheckUnsyncedTwoFlipsHad(t *testing.T) {
	fs := NewMemFS()
	_, offs := buildLog(t, fs, 40, 10, 30)
	fs = fs.Crash() // lose the hint: 31..40 are unsynced (acked under ASYNC_FLUSH)
	flipBits(t, fs, offs[33]+HeaderSize+1, 1)
	flipBits(t, fs, offs[36]+HeaderSize+1, 1)
	l, got := openUnsynced(t, fs)
	defer l.Close()
	if len(got) != 1 || got[0].Had < 40 {
		t.Fatalf("damage %+v: the log held (and may have acked) entries up to 40", got)
	}
}

// TestCheckpointSlotFlipAfterRetention: one flipped bit in the newest
// checkpoint slot (written by DeletePrefix) makes recovery fall back to the
// older slot, whose base names a data file retention already removed: the
// node does not start (it does not "repair"), and the error tells the
// operator to restore the directory from a replica.
func TestCheckpointSlotFlipAfterRetention(t *testing.T) {
	fs := NewMemFS()
	l := mustOpen(t, fs)
	m := newModel()
	rng := rand.New(rand.NewPCG(5, 5))
	if err := appendRandom(t, l, m, rng, 120, 150); err != nil {
		t.Fatal(err)
	}
	mustSync(t, l)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	first, err := l.DeletePrefix(60)
	if err != nil || first <= 1 {
		t.Fatalf("DeletePrefix: %d %v", first, err)
	}
	seq := l.ckpt.seq
	l.Close()
	// flip one bit in the slot DeletePrefix wrote (slot seq%2)
	path := testDir + "/" + ckptName
	b, _ := fs.ReadFile(path)
	at := int64(seq%2)*ckptSlotGap + 20
	if err := fs.WriteFile(path, at, []byte{b[at] ^ 0x01}); err != nil {
		t.Fatal(err)
	}
	opts := testOpts(fs)
	opts.VerifyAll = true
	var dmg []Damage
	opts.OnDamage = func(d Damage) error { dmg = append(dmg, d); return nil }
	l2, err := Open(testDir, opts)
	if err != nil {
		t.Fatalf("one bit flip in the checkpoint file: the log does not open (no repair path): %v", err)
	}
	defer l2.Close()
	t.Logf("opened: first %d last %d damage %v", l2.FirstIndex(), l2.LastIndex(), dmg)
}

// TestUnrecoverableLogSetAside: segment files without a checkpoint file
// (the review: the error told the operator to remove the directory). With
// OnDamage the files are moved aside, the damage is reported with Had =
// HadUnknown, and the log opens empty; without it, Open fails naming the
// problem without advising a removal.
func TestUnrecoverableLogSetAside(t *testing.T) {
	fs := NewMemFS()
	l := mustOpen(t, fs)
	for range 20 {
		if _, err := l.Append(1, TypeNormal, []byte("entry")); err != nil {
			t.Fatal(err)
		}
	}
	mustSync(t, l)
	l.Close()
	if err := fs.Remove(testDir + "/" + ckptName); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(testDir, testOpts(fs)); !errors.Is(err, ErrCorrupt) || strings.Contains(err.Error(), "remove") {
		t.Fatalf("without OnDamage: %v", err)
	}
	opts := testOpts(fs)
	var dmg []Damage
	opts.OnDamage = func(d Damage) error { dmg = append(dmg, d); return nil }
	l2, err := Open(testDir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if len(dmg) != 1 || dmg[0].Had != HadUnknown || l2.LastIndex() != 0 {
		t.Fatalf("damage %v, log [%d,%d]", dmg, l2.FirstIndex(), l2.LastIndex())
	}
	moved, err := fs.List(testDir + "/damaged-1")
	if err != nil || !slices.Contains(moved, "00000000000000000000"+dataExt) {
		t.Fatalf("moved aside: %v, %v", moved, err)
	}
	if _, err := l2.Append(1, TypeNormal, []byte("again")); err != nil {
		t.Fatal(err)
	}
}

// TestLockedDir (issue 13): a second Open of a log directory fails at once
// naming the directory and the holder; Close releases it; Scan (the tools)
// refuses a directory a log holds.
func TestLockedDir(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   FS
		dir  string
	}{{"memfs", NewMemFS(), testDir}, {"os", OSFS{}, t.TempDir()}} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOpts(nil)
			opts.FS = tc.fs
			l, err := Open(tc.dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(tc.dir, opts)
			if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), tc.dir) || !strings.Contains(err.Error(), "pid ") {
				t.Fatalf("second open: %v", err)
			}
			if tc.name == "os" {
				if !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
					t.Fatalf("the holder's pid is not named: %v", err)
				}
				if _, err := Scan(tc.dir, func(Scanned) error { return nil }); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "running node") {
					t.Fatalf("scan of a held directory: %v", err)
				}
			}
			l.Close()
			l2, err := Open(tc.dir, opts)
			if err != nil {
				t.Fatalf("open after close: %v", err)
			}
			l2.Close()
			if tc.name == "os" {
				if _, err := Scan(tc.dir, func(Scanned) error { return nil }); err != nil {
					t.Fatalf("scan of a stopped log: %v", err)
				}
			}
		})
	}
}
