package segment

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// buildLog makes a log of n entries on fs: the first synced entries are
// synced and checkpointed twice (so recovery scans from checkpointed on
// and calls a bad entry below synced corruption), the rest synced only.
func buildLog(t *testing.T, fs FS, n, checkpointed, synced int) (*model, []uint64) {
	t.Helper()
	l := mustOpen(t, fs)
	defer l.Close()
	m, rng := newModel(), rand.New(rand.NewPCG(7, 7))
	offs := []uint64{0}
	for _, upto := range []int{checkpointed, synced, n} {
		if err := appendRandom(t, l, m, rng, upto-len(m.entries), 150); err != nil {
			t.Fatal(err)
		}
		mustSync(t, l)
		if upto != n {
			if err := l.Checkpoint(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := uint64(1); i <= uint64(n); i++ {
		off, _ := l.offsetIn(l.view.Load(), i)
		offs = append(offs, off)
	}
	return m, offs
}

// dataFile returns the MemFS path and in-file offset of global offset off.
func dataFile(off uint64) (string, int64) {
	start := off / 4096 * 4096
	return filepath.Join(testDir, fileName(start, dataExt)), int64(off - start)
}

// TestTornTail cuts the last entry at every byte offset (zeros, then
// garbage, from there to its end): recovery must drop exactly that entry.
func TestTornTail(t *testing.T) {
	for _, fill := range []byte{0, 0xA5} {
		base := NewMemFS()
		m, offs := buildLog(t, base, 40, 10, 39)
		last := m.entries[39]
		size := uint64(HeaderSize + len(last.Payload))
		for k := uint64(0); k < size; k++ {
			fs := base.Crash()
			path, at := dataFile(offs[40] + k)
			tail := make([]byte, size-k)
			for j := range tail {
				tail[j] = fill
			}
			if err := fs.WriteFile(path, at, tail); err != nil {
				t.Fatal(err)
			}
			l, err := Open(testDir, testOpts(fs))
			if err != nil {
				t.Fatalf("fill %#x, cut at byte %d of %d: %v", fill, k, size, err)
			}
			want := uint64(39)
			if fill == 0 && k == size-1 && last.Payload != nil && len(last.Payload) > 0 && last.Payload[len(last.Payload)-1] == 0 {
				want = 40 // zeroing a byte that was zero changes nothing
			}
			checkPrefix(t, l, m, want)
			if l.LastIndex() != want {
				t.Fatalf("cut at byte %d: last index %d, want %d", k, l.LastIndex(), want)
			}
			_ = l.Close()
		}
	}
}

// TestBitFlip flips every bit of one entry in turn. Below the durable
// checkpoint recovery must refuse to start and name the file and offset;
// after it the entry is a torn tail; below the scan start Read reports it.
func TestBitFlip(t *testing.T) {
	tests := []struct {
		name  string
		entry uint64 // the entry to damage
		check func(t *testing.T, l *Log, err error, path string, at int64)
	}{
		{"durable-region", 15, func(t *testing.T, l *Log, err error, path string, at int64) {
			if !isCorrupt(err) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), fmt.Sprintf("file offset %d", at)) {
				t.Fatalf("open: %v; want ErrCorrupt naming %s at file offset %d", err, path, at)
			}
		}},
		{"tail", 35, func(t *testing.T, l *Log, err error, path string, at int64) {
			if err != nil || l.LastIndex() != 34 {
				t.Fatalf("open: %v; want the tail cut before entry 35", err)
			}
		}},
		{"below-scan", 5, func(t *testing.T, l *Log, err error, path string, at int64) {
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if _, err := l.Read(5); !isCorrupt(err) || !strings.Contains(err.Error(), path) {
				t.Fatalf("read: %v; want ErrCorrupt naming %s", err, path)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := NewMemFS()
			m, offs := buildLog(t, base, 40, 10, 30)
			size := HeaderSize + len(m.entries[tc.entry-1].Payload)
			path, at := dataFile(offs[tc.entry])
			orig, _ := base.ReadFile(path)
			for bit := 0; bit < size*8; bit++ {
				fs := base.Crash()
				b := []byte{orig[at+int64(bit/8)] ^ 1<<(bit%8)}
				if err := fs.WriteFile(path, at+int64(bit/8), b); err != nil {
					t.Fatal(err)
				}
				l, err := Open(testDir, testOpts(fs))
				tc.check(t, l, err, path, at)
				if l != nil {
					_ = l.Close()
				}
			}
		})
	}
}

// TestStaleEntriesNotResurrected: after a torn tail is dropped and a new,
// different entry is written over it, the old entries behind it must never
// come back after another crash, even where sizes line up (the CRC chain).
func TestStaleEntriesNotResurrected(t *testing.T) {
	fs := NewMemFS()
	l := mustOpen(t, fs)
	for i := 0; i < 6; i++ {
		if _, err := l.Append(1, TypeNormal, []byte(fmt.Sprintf("old-%d", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	// Not synced: a tear of a synced entry would be damage, not a torn tail.
	offs := make([]uint64, 7)
	for i := uint64(1); i <= 6; i++ {
		offs[i], _ = l.offsetIn(l.view.Load(), i)
	}
	_ = l.Close()
	path, at := dataFile(offs[4] + HeaderSize)
	if err := fs.WriteFile(path, at, []byte("XXX")); err != nil { // tear entry 4
		t.Fatal(err)
	}
	l = mustOpen(t, fs)
	if l.LastIndex() != 3 {
		t.Fatalf("after tearing entry 4: last %d, want 3", l.LastIndex())
	}
	if _, err := l.Append(1, TypeNormal, []byte("new-4")); err != nil { // same size and term as old-4
		t.Fatal(err)
	}
	mustSync(t, l)
	l2, err := Open(testDir, testOpts(fs.Crash()))
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.LastIndex() != 4 {
		t.Fatalf("stale entries came back: last index %d, want 4", l2.LastIndex())
	}
	if e, _ := l2.Read(4); string(e.Payload) != "new-4" {
		t.Fatalf("entry 4 = %q", e.Payload)
	}
}

// TestOpenErrors: damage that recovery must refuse, with a message that
// names the problem.
func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name   string
		damage func(fs *MemFS)
		opts   func(o *Options)
		want   string
	}{
		{"segment size changed", nil, func(o *Options) { o.SegmentSize = 8192 }, "set the segment size"},
		{"checkpoint missing", func(fs *MemFS) { _ = fs.Remove(filepath.Join(testDir, ckptName)) }, nil, "no checkpoint file"},
		{"checkpoint garbage", func(fs *MemFS) {
			_ = fs.WriteFile(filepath.Join(testDir, ckptName), 0, make([]byte, 640))
		}, nil, "no valid slot"},
		{"first data file missing", func(fs *MemFS) { _ = fs.Remove(filepath.Join(testDir, fileName(0, dataExt))) }, nil, "is missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := NewMemFS()
			buildLog(t, base, 40, 10, 30)
			fs := base.Crash()
			if tc.damage != nil {
				tc.damage(fs)
			}
			o := testOpts(fs)
			if tc.opts != nil {
				tc.opts(&o)
			}
			l, err := Open(testDir, o)
			if err == nil {
				_ = l.Close()
				t.Fatal("open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestRealFilesReopen runs on the operating system's file system: append
// across several files, close, reopen, read everything back.
func TestRealFilesReopen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 16 << 10, IndexEntries: 512}
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	m, rng := newModel(), rand.New(rand.NewPCG(3, 3))
	if err := appendRandom(t, l, m, rng, 2000, 200); err != nil {
		t.Fatal(err)
	}
	mustSync(t, l)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	if l, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	checkPrefix(t, l, m, 2000)
	names, _ := os.ReadDir(dir)
	if len(names) < 10 {
		t.Fatalf("expected many files, got %d", len(names))
	}
}

// TestDamagedTermBelowScan: a flipped term field in an entry recovery does
// not scan must not change the term reported for intact neighbours; the
// term rebuild reads verified entries, so Open refuses the damaged log or
// every Term matches Read.
func TestDamagedTermBelowScan(t *testing.T) {
	fs := NewMemFS()
	l := mustOpen(t, fs)
	for i := 1; i <= 20; i++ {
		if _, err := l.Append(uint64(1+min(i/10, 1)), TypeNormal, make([]byte, 40)); err != nil {
			t.Fatal(err)
		}
	}
	mustSync(t, l)
	for k := 0; k < 2; k++ {
		if _, err := l.Append(2, TypeNormal, make([]byte, 40)); err != nil {
			t.Fatal(err)
		}
		mustSync(t, l)
		if err := l.Checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	_ = l.Close()
	// Entry 11 (term 2) starts at 720; its term field is at +16.
	if err := fs.WriteFile(filepath.Join(testDir, fileName(0, dataExt)), 720+16, []byte{1}); err != nil {
		t.Fatal(err)
	}
	l, err := Open(testDir, testOpts(fs))
	if err != nil {
		if !isCorrupt(err) {
			t.Fatalf("open: %v, want ErrCorrupt", err)
		}
		return
	}
	defer l.Close()
	for i := uint64(1); i <= l.LastIndex(); i++ {
		e, rerr := l.Read(i)
		term, terr := l.Term(i)
		if rerr == nil && (terr != nil || term != e.Term) {
			t.Fatalf("Term(%d) = %d, %v; the entry says %d", i, term, terr, e.Term)
		}
	}
}

// TestNoPrewriteCrash: without zero-filling, a prepared file's size must
// still be durable before its name, or recovery would find a short file.
func TestNoPrewriteCrash(t *testing.T) {
	fs := NewMemFS()
	o := testOpts(fs)
	o.NoPrewrite = true
	l, err := Open(testDir, o)
	if err != nil {
		t.Fatal(err)
	}
	m, rng := newModel(), rand.New(rand.NewPCG(6, 6))
	if err := appendRandom(t, l, m, rng, 100, 200); err != nil {
		t.Fatal(err)
	}
	d := mustSync(t, l)
	o.FS = fs.Crash()
	l2, err := Open(testDir, o)
	if err != nil {
		t.Fatalf("recovery with NoPrewrite: %v", err)
	}
	defer l2.Close()
	checkPrefix(t, l2, m, d)
}

// TestTruncateDamagedIndexSlot: a truncation must not cut where a damaged
// index slot points (it could zero durable entries); it reports the damage.
func TestTruncateDamagedIndexSlot(t *testing.T) {
	fs := NewMemFS()
	l := mustOpen(t, fs)
	defer l.Close()
	m, rng := newModel(), rand.New(rand.NewPCG(8, 8))
	if err := appendRandom(t, l, m, rng, 50, 100); err != nil {
		t.Fatal(err)
	}
	mustSync(t, l)
	off5, _ := l.offsetIn(l.view.Load(), 5)
	idx := filepath.Join(testDir, fileName(0, indexExt))
	if err := fs.WriteFile(idx, 40*8, binary.LittleEndian.AppendUint64(nil, off5)); err != nil { // slot 40 -> entry 5
		t.Fatal(err)
	}
	if err := l.TruncateSuffix(40); !isCorrupt(err) {
		t.Fatalf("truncate at a damaged slot: %v, want ErrCorrupt", err)
	}
	if l.Err() != nil || l.LastIndex() != 50 {
		t.Fatalf("after a refused truncate: last %d, err %v", l.LastIndex(), l.Err())
	}
	if _, err := l.Read(5); err != nil {
		t.Fatalf("entry 5 damaged by a refused truncate: %v", err)
	}
}
