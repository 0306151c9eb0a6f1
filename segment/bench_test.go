package segment

import (
	"encoding/binary"
	"github.com/klauspost/crc32"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// benchSizes are the payload sizes of BenchmarkAppend and BenchmarkMemcpy.
var benchSizes = []struct {
	name string
	n    int
}{{"64B", 64}, {"1KiB", 1 << 10}, {"16KiB", 16 << 10}, {"1MiB", 1 << 20}}

// benchSegSize is the data file size of BenchmarkAppend, and the size of
// BenchmarkMemcpy's buffer.
const benchSegSize = 256 << 20

func benchPayload(n int) []byte {
	p := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

var benchLogger = slog.New(slog.DiscardHandler)

// benchOpen opens the log in dir on the OS file system and waits for its
// background file preparation, so nothing runs behind the measured code.
func benchOpen(b *testing.B, dir string, opts Options) *Log {
	b.Helper()
	opts.Logger = benchLogger
	l, err := Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	awaitPrepared(l)
	return l
}

func benchClose(b *testing.B, l *Log) {
	b.Helper()
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAppend measures Log.Append without Sync (ASYNC_FLUSH's append
// path): frame and CRC32C into the staging buffer, one pwrite into the data
// file (Append is a batch of one), set the index slot.
// Preparing data files is kept out of the measured time: when the next
// entry would not fit the current file, the timer stops and the benchmark
// moves to a fresh log in a fresh directory (Open prepares its first file
// synchronously; the next one is awaited). So this is the burst rate; sustained, appends cannot outrun
// file preparation, bounded by the disk's write bandwidth.
func BenchmarkAppend(b *testing.B) {
	for _, s := range benchSizes {
		b.Run("size="+s.name, func(b *testing.B) {
			payload := benchPayload(s.n)
			framed := uint64(HeaderSize + s.n)
			root := b.TempDir()
			var l *Log
			used, logs := uint64(benchSegSize), 0
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				if used+framed > benchSegSize {
					b.StopTimer()
					l = benchFreshLog(b, l, filepath.Join(root, strconv.Itoa(logs)))
					used, logs = 0, logs+1
					b.StartTimer()
				}
				if _, err := l.Append(1, TypeNormal, payload); err != nil {
					b.Fatal(err)
				}
				used += framed
			}
			benchClose(b, l)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// benchFreshLog closes and removes old (if any), dropping its dirty pages
// unwritten, and opens an empty log in dir.
func benchFreshLog(b *testing.B, old *Log, dir string) *Log {
	if old != nil {
		benchClose(b, old)
		if err := os.RemoveAll(old.Dir()); err != nil {
			b.Fatal(err)
		}
	}
	// NoPrewrite: zero-filling only makes later fdatasyncs cheaper, which
	// this benchmark does not measure; skipping it keeps each fresh file to
	// a fallocate, so the run takes minutes, not tens.
	// (1 KiB appends measured 145/148 ns with prewrite and 145/126 ns
	// without, side by side: the same within noise.)
	return benchOpen(b, dir, Options{SegmentSize: benchSegSize, NoPrewrite: true})
}

// benchTouched returns a buffer of n bytes with every page already touched.
func benchTouched(n int) []byte {
	buf := make([]byte, n)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	return buf
}

// BenchmarkMemcpy is the physical limit for BenchmarkAppend: copying the
// same payloads into consecutive positions of a 256 MiB buffer whose pages
// are already mapped, wrapping around. Read the two side by side: the ratio
// of their MB/s at one size is the fraction of memory bandwidth the append
// path reaches; the rest goes to the header, the CRC32C pass over the
// payload, the pwrite (a system call and the kernel's copy), the index slot
// and the lock.
func BenchmarkMemcpy(b *testing.B) {
	buf := benchTouched(benchSegSize)
	for _, s := range benchSizes {
		b.Run("size="+s.name, func(b *testing.B) {
			payload := benchPayload(s.n)
			pos := 0
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				if pos+len(payload) > len(buf) {
					pos = 0
				}
				copy(buf[pos:], payload)
				pos += len(payload)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// benchReadOpts are the options of the logs BenchmarkRead and BenchmarkTerm
// build: smaller files than the default so building is quick.
var benchReadOpts = Options{SegmentSize: 256 << 20}

// benchBuildLog appends n entries of size bytes to a new log in dir, starting a
// new term every termEvery entries (never if 0), and waits for background
// preparation.
func benchBuildLog(b *testing.B, dir string, n, size, termEvery int) *Log {
	b.Helper()
	l := benchOpen(b, dir, benchReadOpts)
	payload := benchPayload(size)
	term := uint64(1)
	for i := range n {
		if termEvery > 0 && i > 0 && i%termEvery == 0 {
			term++
		}
		if _, err := l.Append(term, TypeNormal, payload); err != nil {
			b.Fatal(err)
		}
	}
	awaitPrepared(l)
	return l
}

// benchIndexes returns 1<<16 indexes drawn uniformly from l's entries, so
// the random generator stays out of the measured loop.
func benchIndexes(l *Log) []uint64 {
	r := rand.New(rand.NewPCG(1, 2))
	first, n := l.FirstIndex(), l.LastIndex()-l.FirstIndex()+1
	idx := make([]uint64, 1<<16)
	for i := range idx {
		idx[i] = first + r.Uint64N(n)
	}
	return idx
}

// BenchmarkRead measures Read of a random entry (index lookup, CRC check of
// a 64-byte entry) in logs of 1 Ki, 1 Mi and 8 Mi entries (8 Mi: 768 MiB
// of data, random access well beyond the CPU caches).
func BenchmarkRead(b *testing.B) {
	for _, c := range benchReadSizes {
		b.Run("entries="+c.name, func(b *testing.B) {
			if testing.Short() && c.n > 1<<20 {
				b.Skip("large log skipped in -short")
			}
			l := benchBuildLog(b, b.TempDir(), c.n, 64, 0)
			defer benchClose(b, l)
			idx := benchIndexes(l)
			b.Run("pattern=random", func(b *testing.B) {
				b.ReportAllocs()
				k := 0
				for b.Loop() {
					if _, err := l.Read(idx[k&(len(idx)-1)]); err != nil {
						b.Fatal(err)
					}
					k++
				}
			})
			// sequential is how replication and consumers read: from an
			// index forward.
			b.Run("pattern=sequential", func(b *testing.B) {
				b.ReportAllocs()
				i, first, last := l.FirstIndex(), l.FirstIndex(), l.LastIndex()
				for b.Loop() {
					if _, err := l.Read(i); err != nil {
						b.Fatal(err)
					}
					if i++; i > last {
						i = first
					}
				}
			})
		})
	}
}

var benchReadSizes = []struct {
	name string
	n    int
}{{"1K", 1 << 10}, {"1M", 1 << 20}, {"8M", 8 << 20}}

// BenchmarkRandomLoads is the physical limit for BenchmarkRead's random
// pattern: for a random entry, load its 8-byte offset from an index-sized
// mapped file, then the first byte at that offset in a data-sized mapped
// file (the same two dependent accesses and the same 4 KiB pages as a read
// by index, without the CRC check).
func BenchmarkRandomLoads(b *testing.B) {
	const entry = HeaderSize + 64
	for _, c := range benchReadSizes {
		b.Run("entries="+c.name, func(b *testing.B) {
			if testing.Short() && c.n > 1<<20 {
				b.Skip("large log skipped in -short")
			}
			index := benchMapped(b, c.n*8)
			data := benchMapped(b, c.n*entry)
			for i := 0; i < c.n; i++ {
				binary.LittleEndian.PutUint64(index[i*8:], uint64(i*entry))
				data[i*entry] = 1
			}
			r := rand.New(rand.NewPCG(1, 2))
			idx := make([]uint64, 1<<16)
			for i := range idx {
				idx[i] = r.Uint64N(uint64(c.n))
			}
			// Each access depends on the one before (k moves by the byte
			// loaded, always 1), so misses do not overlap across
			// iterations: a Read is too long for the CPU to overlap two.
			k := 0
			for b.Loop() {
				k += int(data[binary.LittleEndian.Uint64(index[idx[k&(len(idx)-1)]*8:])])
			}
		})
	}
}

// benchMapped maps a new file of n bytes with every page touched.
func benchMapped(b *testing.B, n int) []byte {
	b.Helper()
	f, err := OSFS{}.Create(filepath.Join(b.TempDir(), "mapped"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	if err := f.Allocate(int64(n)); err != nil {
		b.Fatal(err)
	}
	m, err := f.Map(n)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += 4096 {
		m[i] = 1
	}
	return m
}

// BenchmarkCRC is the checksum every append computes (and every read
// verifies) over header tail and payload; with BenchmarkMemcpy it bounds
// what an append can reach: memcpy/(memcpy+crc) of memory bandwidth.
func BenchmarkCRC(b *testing.B) {
	for _, s := range benchSizes {
		b.Run("size="+s.name, func(b *testing.B) {
			p := benchPayload(s.n + HeaderSize - 4)
			b.SetBytes(int64(s.n))
			for b.Loop() {
				_ = crc32.Checksum(p, castagnoli)
			}
		})
	}
}

// BenchmarkTerm measures Term of a random entry of a 1 Mi-entry log whose
// term changes never, or every 1 Ki entries (1 Ki term runs to search).
func BenchmarkTerm(b *testing.B) {
	for _, c := range []struct {
		name  string
		every int
	}{{"1", 0}, {"1K", 1 << 10}} {
		b.Run("runs="+c.name, func(b *testing.B) {
			l := benchBuildLog(b, b.TempDir(), 1<<20, 64, c.every)
			defer benchClose(b, l)
			idx := benchIndexes(l)
			b.ReportAllocs()
			k := 0
			for b.Loop() {
				if _, err := l.Term(idx[k&(len(idx)-1)]); err != nil {
					b.Fatal(err)
				}
				k++
			}
		})
	}
}

// benchRecoverBytes is how much BenchmarkRecover's log holds: 200 MiB of
// 1 KiB payloads.
const (
	benchRecoverBytes   = 200 << 20
	benchRecoverPayload = 1 << 10
)

// BenchmarkRecover measures Open of a closed log of 200 MiB of 1 KiB
// entries (page cache warm). scan=all: one checkpoint, taken at the end, so
// recovery verifies every entry (the first restart after the first
// checkpoint). scan=tail: checkpoints after 199 MiB and 200 MiB, so it
// verifies the last MiB, as on any later restart. MB/s is over the bytes
// scanned. Each Open also removes the next data and index files the
// previous run prepared (recovery drops every file after the log's end) and
// syncs the directory: that is measured, as on a real restart. Closing,
// which waits for Open's background preparation of them again, is not.
// verify=all is the engine's Open (Options.VerifyAll): the whole log is read
// whatever the checkpoints say. RMQLOG_BENCH_COLD=1 (root) drops the page
// cache before each Open, so the log comes from the disk.
func BenchmarkRecover(b *testing.B) {
	for _, c := range []struct {
		name      string
		segSize   int64
		tail      int  // bytes appended after the first checkpoint; 0: one checkpoint
		verifyAll bool // Options.VerifyAll, as the engine opens its log
	}{
		{"segment=64MiB/scan=all", 64 << 20, 0, false},
		{"segment=64MiB/scan=tail", 64 << 20, 1 << 20, false},
		{"segment=64MiB/scan=tail/verify=all", 64 << 20, 1 << 20, true},
		{"segment=1GiB/scan=all", 1 << 30, 0, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			if testing.Short() && c.segSize > 64<<20 {
				b.Skip("1 GiB segments skipped in -short")
			}
			opts := Options{SegmentSize: c.segSize, Logger: benchLogger}
			dir := b.TempDir()
			last, scanned := benchBuildRecoverLog(b, dir, opts, c.tail)
			if c.verifyAll {
				opts.VerifyAll = true
				scanned = int(last) // every entry, whatever the checkpoints say
			}
			cold := os.Getenv("RMQLOG_BENCH_COLD") != "" // root only: each Open reads from the disk
			b.SetBytes(int64(scanned * (HeaderSize + benchRecoverPayload)))
			b.ReportAllocs()
			for b.Loop() {
				if cold {
					b.StopTimer()
					if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
						b.Fatalf("RMQLOG_BENCH_COLD: dropping the page cache: %v", err)
					}
					b.StartTimer()
				}
				l, err := Open(dir, opts)
				b.StopTimer()
				if err != nil || l.LastIndex() != last {
					b.Fatalf("Open = %v, last %d, want %d", err, l.LastIndex(), last)
				}
				benchClose(b, l)
				b.StartTimer()
			}
			b.ReportMetric(float64(scanned), "entries-scanned/op")
		})
	}
}

// benchBuildRecoverLog writes BenchmarkRecover's log and closes it; with tail >
// 0 it checkpoints tail bytes before the end as well as at the end. It
// returns the last index and the number of entries recovery will verify.
func benchBuildRecoverLog(b *testing.B, dir string, opts Options, tail int) (last uint64, scanned int) {
	b.Helper()
	l := benchOpen(b, dir, opts)
	payload := benchPayload(benchRecoverPayload)
	n := benchRecoverBytes / (HeaderSize + benchRecoverPayload)
	ckptAt := n - tail/(HeaderSize+benchRecoverPayload)
	for i := range n {
		if i == ckptAt && tail > 0 {
			benchSyncCheckpoint(b, l)
		}
		var err error
		if last, err = l.Append(1, TypeNormal, payload); err != nil {
			b.Fatal(err)
		}
	}
	benchSyncCheckpoint(b, l)
	benchClose(b, l)
	if tail > 0 {
		return last, n - ckptAt
	}
	return last, n
}

func benchSyncCheckpoint(b *testing.B, l *Log) {
	b.Helper()
	if _, err := l.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := l.Checkpoint(); err != nil {
		b.Fatal(err)
	}
}
