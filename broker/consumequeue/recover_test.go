package consumequeue

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/segment"
)

var threeQueues = []string{"TopicA", "TopicB", "TopicC"}

// A crash between writes and the checkpoint: what came after the last
// Sync is cut, replaying the log from the checkpoint gives every queue
// back, with clean crashes and torn ones.
func TestCrashRecovery(t *testing.T) {
	for _, tc := range []struct {
		name    string
		upf     int
		n       int
		synced  int  // messages put before the Sync
		torn    bool // CrashTorn instead of Crash
		seeds   int
		noFinal bool  // no Sync at all
		base    int64 // first physical offset
	}{
		{"crash after writes", 4, 40, 17, false, 1, false, 1000},
		{"crash with nothing synced", 4, 40, 0, false, 1, true, 1000},
		{"crash at a file boundary", 4, 24, 12, false, 1, false, 1000},
		{"torn crash", 7, 300, 131, true, 40, false, 1000},
		{"torn crash, big files", 1000, 500, 250, true, 40, false, 1000},
		// Offsets whose high bytes are not zero: a lost head sector shows.
		{"torn crash, high offsets", 1000, 500, 250, true, 40, false, 0x0102_0304_0506},
		// Each queue's first unsynced unit is its unit 51, bytes [1020, 1040),
		// or its unit 102, bytes [2040, 2060): across a sector boundary
		// inside or right after its physical offset, so a lost head sector
		// shows as a unit going backwards (tornHead).
		{"torn crash, unsynced unit's head in a lost sector", 1000, 300, 153, true, 40, false, 0x0102_0304_0506},
		{"torn crash, unsynced unit's offset in a lost sector", 1000, 400, 306, true, 40, false, 0x0102_0304_0506},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range tc.seeds {
				log := genLogAt(tc.n, threeQueues, 0, tc.base)
				fs := segment.NewMemFS()
				s, _ := openStore(t, fs, tc.upf, nil)
				put(t, s, log[:tc.synced])
				if !tc.noFinal {
					if err := s.Sync(log[tc.synced-1].index); err != nil {
						t.Fatal(err)
					}
				}
				put(t, s, log[tc.synced:])
				var crashed *segment.MemFS
				if tc.torn {
					crashed = fs.CrashTorn(rand.New(rand.NewPCG(uint64(seed), 7)))
				} else {
					crashed = fs.Crash()
				}
				s.Close()
				s, info := openStore(t, crashed, tc.upf, log)
				want := uint64(0)
				if !tc.noFinal {
					want = log[tc.synced-1].index
				}
				if info.Index != want {
					t.Fatalf("seed %d: Open reports index %d, want %d (%+v)", seed, info.Index, want, info)
				}
				replay(t, s, log, info.Index)
				checkQueues(t, s, log)
				s.Close()
			}
		})
	}
}

// Units that are not yet synced but survive a process crash (no power
// cut): TruncateFrom cuts them by their physical offset.
func TestTruncateFromCutsUnsyncedUnits(t *testing.T) {
	log := genLog(50, threeQueues, 0)
	fs := segment.NewMemFS()
	s, _ := openStore(t, fs, 4, nil)
	put(t, s, log[:20])
	if err := s.Sync(20); err != nil {
		t.Fatal(err)
	}
	put(t, s, log[20:])
	s.Close() // the files keep everything: a process crash
	s, info := openStore(t, fs, 4, log)
	defer s.Close()
	if info.Index != 20 {
		t.Fatalf("index %d", info.Index)
	}
	checkQueues(t, s, log[:20])
	replay(t, s, log, 20)
	checkQueues(t, s, log)
}

func TestDamagedCheckpoint(t *testing.T) {
	ckpt := filepath.Join(testDir, ckptName)
	for _, tc := range []struct {
		name    string
		damage  []int64 // byte offsets to flip
		index   uint64
		reset   bool
		removed bool // the checkpoint file is gone
	}{
		{"first slot (seq 3) torn", []int64{20}, 20, false, false},
		{"second slot (seq 2) torn", []int64{ckptSlotGap + 20}, 30, false, false},
		{"both slots bad", []int64{5, ckptSlotGap + 5}, 0, true, false},
		{"no checkpoint file", nil, 0, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := genLog(40, threeQueues, 0)
			fs := segment.NewMemFS()
			s, _ := openStore(t, fs, 4, nil)
			put(t, s, log[:20])
			if err := s.Sync(20); err != nil { // seq 2: the second slot
				t.Fatal(err)
			}
			put(t, s, log[20:30])
			if err := s.Sync(30); err != nil { // seq 3: the first slot
				t.Fatal(err)
			}
			s.Close()
			for _, off := range tc.damage {
				b, _ := fs.ReadFile(ckpt)
				if err := fs.WriteFile(ckpt, off, []byte{b[off] ^ 0x40}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.removed {
				if err := fs.Remove(ckpt); err != nil {
					t.Fatal(err)
				}
			}
			s, info := openStore(t, fs, 4, log)
			defer s.Close()
			if info.Index != tc.index || info.Reset != tc.reset {
				t.Fatalf("Open: %+v, want index %d reset %v", info, tc.index, tc.reset)
			}
			if tc.reset && info.Reason == "" {
				t.Fatal("a reset without a reason")
			}
			// Replaying a log whose prefix retention removed: the emptied
			// queues accept their first offsets as they come.
			from := info.Index
			if tc.reset {
				from = 6
			}
			replay(t, s, log, from)
			checkQueues(t, s, log[from:])
		})
	}
}

// Files this package cannot have written: each a clear error naming the
// file and what to do, never advice to delete.
func TestCorruptFiles(t *testing.T) {
	qdir := filepath.Join(testDir, "consumequeue", "TopicA", "0")
	for _, tc := range []struct {
		name   string
		damage func(fs *segment.MemFS) error
		says   []string
	}{
		{"wrong file size", func(fs *segment.MemFS) error {
			f, err := fs.Open(filepath.Join(qdir, fileName(4)))
			if err == nil {
				err = f.Allocate(5 * UnitSize)
			}
			return err
		}, []string{fileName(4), "has 100 bytes, want 80", "UnitsPerFile 5"}},
		{"gap between files", func(fs *segment.MemFS) error {
			return fs.Remove(filepath.Join(qdir, fileName(4)))
		}, []string{fileName(8), "gap", "after " + filepath.Join(qdir, fileName(0))}},
		{"not a unit file", func(fs *segment.MemFS) error {
			f, err := fs.Create(filepath.Join(qdir, "notes.txt"))
			if err == nil {
				f.Close()
			}
			return err
		}, []string{"notes.txt", "is not a consume queue file"}},
		{"physical offset backwards below the checkpoint", func(fs *segment.MemFS) error {
			var b [UnitSize]byte
			Unit{Phys: 5, Size: 90}.Encode(b[:])
			return fs.WriteFile(filepath.Join(qdir, fileName(8)), 1*UnitSize, b[:])
		}, []string{fileName(8), "unit 1 (queue offset 9)", "after physical offset", "Options.Rebuild"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := genLog(60, threeQueues, 0) // TopicA: offsets 0..19, files 0, 4, 8, 12, 16
			fs := segment.NewMemFS()
			s, _ := openStore(t, fs, 4, nil)
			put(t, s, log)
			if err := s.Sync(60); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if err := tc.damage(fs); err != nil {
				t.Fatal(err)
			}
			s, _, err := Open(testDir, Options{FS: fs, UnitsPerFile: 4})
			if err == nil {
				err = s.TruncateFrom(1 << 40)
				s.Close()
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
			for _, w := range append(tc.says, ErrCorrupt.Error()) {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(strings.ToLower(err.Error()), "delete") {
				t.Fatalf("error %q advises deleting", err)
			}
			// Options.Rebuild always opens, and the log rebuilds the queues.
			if tc.name != "not a unit file" && tc.name != "wrong file size" && tc.name != "gap between files" {
				s, info, err := Open(testDir, Options{FS: fs, UnitsPerFile: 4, Rebuild: true})
				if err != nil || !info.Reset {
					t.Fatalf("Rebuild: %+v, %v", info, err)
				}
				if err := s.TruncateFrom(0); err != nil {
					t.Fatal(err)
				}
				put(t, s, log)
				checkQueues(t, s, log)
				s.Close()
			}
		})
	}
}

// I/O errors are sticky: after a failed fsync nobody retries.
func TestSyncFailureIsSticky(t *testing.T) {
	for _, op := range []string{"sync", "syncdir", "write"} {
		t.Run(op, func(t *testing.T) {
			fs := segment.NewMemFS()
			s, _ := openStore(t, fs, 4, nil)
			defer s.Close()
			log := genLog(10, threeQueues, 0)
			var count int
			fs.SetFault(segment.FailAt(0, &count, op))
			err := func() error {
				for _, m := range log {
					if err := s.Put(m.topic, m.queue, m.off, m.phys, m.size, m.tags); err != nil {
						return err
					}
				}
				return s.Sync(10)
			}()
			if !errors.Is(err, ErrFailed) || !errors.Is(err, segment.ErrInjected()) {
				t.Fatalf("got %v, want ErrFailed wrapping the injected error", err)
			}
			fs.SetFault(nil)
			if err := s.Sync(10); !errors.Is(err, ErrFailed) {
				t.Fatalf("Sync after a failure: %v", err)
			}
			if _, err := s.Get("TopicA", 0, 0, 1); !errors.Is(err, ErrFailed) {
				t.Fatalf("Get after a failure: %v", err)
			}
		})
	}
}
