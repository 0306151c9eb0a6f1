package segment

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// appendSynced appends n entries of size bytes in batches of 256, syncing
// after each batch, and returns the synced global offset.
func appendSynced(t *testing.T, l *Log, m *model, n, size int) uint64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	for k := 0; k < n; k += 256 {
		var es []Entry
		for j := k; j < min(n, k+256); j++ {
			es = append(es, Entry{Term: 1, Type: TypeNormal, Payload: payload(rng, m.last()+uint64(len(es))+1, size)})
		}
		for _, e := range es {
			m.append(e)
		}
		if _, err := l.AppendBatch(es); err != nil {
			t.Fatal(err)
		}
		mustSync(t, l)
	}
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	return l.synced.Offset
}

// waitEvicted waits (bounded) until the evictor has evicted up to at least
// off.
func waitEvicted(t *testing.T, l *Log, off uint64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); l.ev.upTo.Load() < off; {
		if time.Now().After(deadline) {
			t.Fatalf("evicted up to %d after 10s, want %d", l.ev.upTo.Load(), off)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestEvictSynced: synced data more than CacheKeep behind the synced
// position is evicted, in page-aligned ranges inside its files, never what
// is within CacheKeep of it; what was evicted still reads back.
func TestEvictSynced(t *testing.T) {
	for _, tc := range []struct {
		name       string
		seg, keep  int64
		n, size    int
		wantEvicts bool
	}{
		{"small files", 1 << 20, 1 << 20, 40000, 1000, true},
		{"file larger than what is kept", 32 << 20, 2 << 20, 40000, 1000, true},
		{"all within keep", 1 << 20, 256 << 20, 20000, 1000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := NewMemFS()
			o := testOpts(fs)
			o.SegmentSize, o.CacheKeep, o.inlinePrepare = tc.seg, tc.keep, false
			o.NoPrewrite = true // every Evict is then the evictor's (see TestPrewrittenZerosEvicted)
			l, err := Open(testDir, o)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			m := newModel()
			synced := appendSynced(t, l, m, tc.n, tc.size)
			limit := synced - uint64(tc.keep) // nothing at or above is evicted
			if tc.wantEvicts {
				waitEvicted(t, l, (limit&^(pageSize-1))-evictChunk)
			}
			fs.mu.Lock()
			evicts := append([]evicted(nil), fs.evicts...)
			fs.mu.Unlock()
			var got uint64
			for _, e := range evicts {
				// A MemFS file keeps the name it was created under.
				start, ok := parseName(filepath.Base(strings.TrimSuffix(e.name, tmpExt)), dataExt)
				if !ok {
					t.Fatalf("evicted %s: not a data file", e.name)
				}
				if e.off%pageSize != 0 || e.off < 0 || e.n <= 0 || e.off+e.n > tc.seg {
					t.Fatalf("evicted [%d, %d) of %s: not a page-aligned range inside the file", e.off, e.off+e.n, e.name)
				}
				if end := start + uint64(e.off+e.n); end > limit {
					t.Fatalf("evicted up to global offset %d, within CacheKeep of the synced offset %d", end, synced)
				}
				got += uint64(e.n)
			}
			if !tc.wantEvicts && got > 0 {
				t.Fatalf("evicted %d bytes, want none", got)
			}
			if tc.wantEvicts && got < limit-evictChunk-pageSize {
				t.Fatalf("evicted %d bytes of %d synced more than CacheKeep behind", got, limit)
			}
			checkPrefix(t, l, m, m.last())
		})
	}
}

// TestEvictAfterTruncate: a truncation below what was evicted lowers the
// eviction point, so the entries written there again are evicted in turn,
// and a negative CacheKeep never evicts.
func TestEvictAfterTruncate(t *testing.T) {
	fs := NewMemFS()
	o := testOpts(fs)
	o.SegmentSize, o.CacheKeep, o.inlinePrepare, o.NoPrewrite = 1<<20, 1<<20, false, true
	l, err := Open(testDir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := newModel()
	synced := appendSynced(t, l, m, 40000, 1000)
	waitEvicted(t, l, ((synced-1<<20)&^(pageSize-1))-evictChunk)
	if err := l.TruncateSuffix(1000); err != nil {
		t.Fatal(err)
	}
	m.truncate(1000)
	cut := l.next.Offset
	if up := l.ev.upTo.Load(); up > cut {
		t.Fatalf("after the truncation to offset %d the evictor stays at %d", cut, up)
	}
	synced = appendSynced(t, l, m, 40000, 1000)
	waitEvicted(t, l, ((synced-1<<20)&^(pageSize-1))-evictChunk)
	checkPrefix(t, l, m, m.last())

	fs2 := NewMemFS()
	o.FS, o.CacheKeep = fs2, -1
	l2, err := Open(testDir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.ev.quit != nil {
		t.Fatal("CacheKeep -1 started an evictor")
	}
	appendSynced(t, l2, newModel(), 40000, 1000)
	fs2.mu.Lock()
	defer fs2.mu.Unlock()
	for _, e := range fs2.evicts {
		t.Fatalf("CacheKeep -1 evicted [%d, %d) of %s", e.off, e.off+e.n, e.name)
	}
}

// TestPrewrittenZerosEvicted: the zeros written over a file being prepared
// are evicted as they are synced, the whole file in 4 MiB steps.
func TestPrewrittenZerosEvicted(t *testing.T) {
	fs := NewMemFS()
	o := testOpts(fs)
	o.SegmentSize = 16 << 20
	l, err := Open(testDir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.WaitPrepared()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	zeros := map[string]int64{}
	for _, e := range fs.evicts {
		if strings.HasSuffix(e.name, dataExt+tmpExt) {
			zeros[e.name] += e.n
		}
	}
	if len(zeros) == 0 {
		t.Fatal("no prewritten zeros were evicted")
	}
	for name, n := range zeros {
		if n != o.SegmentSize {
			t.Errorf("%s: %d bytes of zeros evicted, want the whole file (%d)", name, n, o.SegmentSize)
		}
	}
}

// writesFS records the end of every WriteAt into a data file.
type writesFS struct {
	FS
	mu   sync.Mutex
	ends []int64
}

func (w *writesFS) Create(name string) (File, error) { return w.wrap(name)(w.FS.Create(name)) }
func (w *writesFS) Open(name string) (File, error)   { return w.wrap(name)(w.FS.Open(name)) }

func (w *writesFS) wrap(name string) func(File, error) (File, error) {
	data := strings.HasSuffix(strings.TrimSuffix(name, tmpExt), dataExt)
	return func(f File, err error) (File, error) {
		if err != nil || !data {
			return f, err
		}
		return &writesFile{File: f, fs: w}, nil
	}
}

type writesFile struct {
	File
	fs *writesFS
}

func (f *writesFile) WriteAt(p []byte, off int64) (int, error) {
	if !bytes.Equal(p, make([]byte, len(p))) { // not the prewrite's zeros
		f.fs.mu.Lock()
		f.fs.ends = append(f.fs.ends, off+int64(len(p)))
		f.fs.mu.Unlock()
	}
	return f.File.WriteAt(p, off)
}

// TestRunsEndOnPages: every batch of entries (up to stageCopyMax each) is
// written with its last page completed by zeros, so the kernel never reads
// a page to complete a partial write (the prewritten zeros are evicted);
// the entries read back, and recovery finds the same log.
func TestRunsEndOnPages(t *testing.T) {
	fs := &writesFS{FS: NewMemFS()}
	o := testOpts(fs)
	o.SegmentSize = 1 << 20
	l, err := Open(testDir, o)
	if err != nil {
		t.Fatal(err)
	}
	m := newModel()
	rng := rand.New(rand.NewPCG(3, 3))
	for _, size := range []int{0, 1, 100, 4064, 4065, 5000, 60000} {
		for batch := 1; batch <= 3; batch++ {
			var es []Entry
			for k := 0; k < batch; k++ {
				es = append(es, Entry{Term: 1, Type: TypeNormal, Payload: payload(rng, m.last()+uint64(k)+1, size)})
			}
			for _, e := range es {
				m.append(e)
			}
			if _, err := l.AppendBatch(es); err != nil {
				t.Fatal(err)
			}
		}
	}
	fs.mu.Lock()
	for _, end := range fs.ends {
		if end%pageSize != 0 {
			t.Errorf("a write ends at file offset %d, inside a page", end)
		}
	}
	fs.mu.Unlock()
	mustSync(t, l)
	checkPrefix(t, l, m, m.last())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err = Open(testDir, o); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	checkPrefix(t, l, m, m.last())
}

// TestEvictDropsPageCache: on a real file system, the evicted range of a
// data file leaves the page cache (mincore) and the kept tail stays.
func TestEvictDropsPageCache(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Type == unix.TMPFS_MAGIC {
		t.Skipf("%s is on tmpfs (or statfs failed: %v): its pages cannot leave memory", dir, err)
	}
	o := Options{SegmentSize: 64 << 20, CacheKeep: 4 << 20, NoPrewrite: true, Logger: testOpts(nil).Logger}
	l, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := newModel()
	synced := appendSynced(t, l, m, 40000, 1000) // ~40 MiB
	limit := (synced - 4<<20) &^ (pageSize - 1)
	waitEvicted(t, l, limit-evictChunk)
	up := l.ev.upTo.Load()
	f := l.data[0]
	vec := make([]byte, len(f.b)/os.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&f.b[0])), uintptr(len(f.b)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Skipf("mincore: %v", e)
	}
	resident := func(lo, hi uint64) (n int) {
		for p := lo / pageSize; p < hi/pageSize; p++ {
			n += int(vec[p] & 1)
		}
		return n
	}
	// A page the kernel holds for a moment (its LRU batches, writeback
	// bookkeeping) may stay: eviction is a hint. Without it all would.
	if n := resident(0, up); n > int(up/pageSize)/20 {
		t.Errorf("%d of %d evicted pages still in the page cache", n, up/pageSize)
	}
	tail := (synced - 1<<20) &^ (pageSize - 1) // the last MiB written: kept
	if n, want := resident(tail, synced&^(pageSize-1)), int((synced&^(pageSize-1)-tail)/pageSize); n < want/2 {
		t.Errorf("only %d of the %d pages of the kept tail are in the page cache", n, want)
	}
	checkPrefix(t, l, m, m.last())
}
