package segment

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Limits that keep one FuzzRecover input fast.
const (
	fuzzSegSize    = 4096
	fuzzMaxOps     = 64
	fuzzMaxEntries = 400
	fuzzMaxDamage  = 4
)

// FuzzRecover builds a small log on a MemFS from a fuzz-chosen program of
// appends, syncs and checkpoints, crashes it with torn sectors, overwrites
// fuzz-chosen bytes of its data files, and reopens it. Open must either
// fail with ErrCorrupt, and only if an entry recovery has to verify below
// the durable checkpoint was damaged, or succeed with every synced entry
// before the first damaged one, every entry intact and readable, and a log
// that takes appends and recovers them again.
//
// Inputs: seed drives the torn crash; crossIndex starts the log 5 entries
// before an index-file boundary; prog is read two bytes (op, arg) at a time:
//
//	op&3 == 0 or 1: append 1+(op>>2)&7 entries of (arg<<2 | (op>>5)&3)
//	                bytes, first raising the term if op&0x80 != 0
//	op&3 == 2:      Sync
//	op&3 == 3:      Sync, then Checkpoint
//
// damage is read as up to 4 chunks (file, offLo, offHi, n, bytes...):
// overwrite the file-th data file (mod their count) at offset
// offHi<<8|offLo (mod the segment size) with the 1+n%16 bytes that follow.
// Only the bytes that change count as damage.
func FuzzRecover(f *testing.F) {
	appendOp := func(count int, size int, bump bool) []byte {
		op := byte(count-1)<<2 | byte(size&3)<<5
		if bump {
			op |= 0x80
		}
		return []byte{op, byte(size >> 2)}
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	syncOp, ckpt := []byte{2, 0}, []byte{3, 0}
	f.Add(uint64(1), false, cat(appendOp(8, 100, false), syncOp, appendOp(3, 500, false)), []byte(nil))
	f.Add(uint64(2), false, cat(appendOp(8, 1000, false), ckpt, appendOp(8, 30, true), ckpt,
		appendOp(4, 700, false), syncOp, appendOp(8, 1021, true)), []byte(nil))
	f.Add(uint64(3), true, cat(appendOp(8, 0, false), appendOp(8, 3, true), ckpt, appendOp(8, 9, false)),
		[]byte{0, 40, 0, 3, 0xff, 0xff, 0xff, 0xff})
	f.Add(uint64(4), false, cat(appendOp(3, 1023, false), ckpt, appendOp(3, 1023, false), ckpt,
		appendOp(5, 1023, true)), []byte{1, 0, 1, 0, 0x55})
	f.Add(uint64(5), false, cat(appendOp(4, 992, false), appendOp(1, 0, false), syncOp), []byte(nil))
	f.Fuzz(func(t *testing.T, seed uint64, crossIndex bool, prog, damage []byte) {
		rc := newFuzzRecoverCase(t, crossIndex)
		rc.run(prog)
		rc.crash(seed)
		rc.damage(damage)
		rc.check()
	})
}

// fuzzRecoverCase is one FuzzRecover input: the log it writes, a model of
// what it wrote, and the crashed file system.
type fuzzRecoverCase struct {
	t     *testing.T
	opts  Options
	fs    *MemFS
	l     *Log
	first uint64
	term  uint64
	// The model: entries[i] is entry first+i as written.
	entries []fuzzEntry
	off     uint64 // global offset where the next entry goes
	fileEnd uint64 // end of the data file off is in
	// Entries below synced were covered by a Sync; a checkpoint recorded
	// scan and durable (see doc.go).
	synced, scan, durable uint64
	crashed               *MemFS
	damaged               map[uint64]bool // entries whose bytes were overwritten
}

type fuzzEntry struct {
	off  uint64
	term uint64
	typ  Type
	data []byte
}

func newFuzzRecoverCase(t *testing.T, crossIndex bool) *fuzzRecoverCase {
	first := uint64(1)
	if crossIndex {
		first = 512 - 5
	}
	fs := NewMemFS()
	opts := Options{FS: fs, SegmentSize: fuzzSegSize, IndexEntries: 512, FirstIndex: first,
		Logger: slog.New(slog.DiscardHandler)}
	l, err := Open("/log", opts)
	if err != nil {
		t.Fatalf("Open of an empty MemFS: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return &fuzzRecoverCase{t: t, opts: opts, fs: fs, l: l, first: first, term: 1,
		fileEnd: fuzzSegSize, synced: first, scan: first, durable: first, damaged: map[uint64]bool{}}
}

// run executes prog (see FuzzRecover) on the log and the model.
func (rc *fuzzRecoverCase) run(prog []byte) {
	for k := 0; k+1 < len(prog) && k < 2*fuzzMaxOps; k += 2 {
		op, arg := prog[k], prog[k+1]
		switch op & 3 {
		case 0, 1:
			if op&0x80 != 0 {
				rc.term++
			}
			size := int(arg)<<2 | int(op>>5)&3
			for range 1 + int(op>>2)&7 {
				rc.append(size)
			}
		case 2:
			rc.sync()
		case 3:
			rc.sync()
			rc.checkpoint()
		}
	}
	// Background file preparation is waited for so the crash image does not
	// depend on goroutine scheduling: a failing input replays exactly.
	awaitPrepared(rc.l)
}

func (rc *fuzzRecoverCase) next() uint64 { return rc.first + uint64(len(rc.entries)) }

func (rc *fuzzRecoverCase) append(size int) {
	if len(rc.entries) >= fuzzMaxEntries {
		return
	}
	i := rc.next()
	e := fuzzEntry{term: rc.term, typ: Type(1 + i%3), data: fuzzPayload(i, size)}
	got, err := rc.l.Append(e.term, e.typ, e.data)
	if err != nil || got != i {
		rc.t.Fatalf("Append of entry %d (%d bytes) = %d, %v", i, size, got, err)
	}
	n := uint64(HeaderSize + size)
	if rc.off+n > rc.fileEnd { // the entry starts the next file (doc.go)
		rc.off, rc.fileEnd = rc.fileEnd, rc.fileEnd+fuzzSegSize
	}
	e.off, rc.off = rc.off, rc.off+n
	rc.entries = append(rc.entries, e)
}

func (rc *fuzzRecoverCase) sync() {
	got, err := rc.l.Sync()
	if err != nil || got != rc.next()-1 {
		rc.t.Fatalf("Sync = %d, %v; want %d", got, err, rc.next()-1)
	}
	rc.synced = rc.next()
}

// checkpoint models Log.Checkpoint: the old durable position becomes scan.
func (rc *fuzzRecoverCase) checkpoint() {
	if err := rc.l.Checkpoint(); err != nil {
		rc.t.Fatalf("Checkpoint: %v", err)
	}
	if rc.synced != rc.durable {
		rc.scan, rc.durable = rc.durable, rc.synced
	}
}

// fuzzPayload is entry i's payload: never all zeros, different per entry.
func fuzzPayload(i uint64, size int) []byte {
	b := make([]byte, size)
	for j := range b {
		b[j] = byte(i*31 + uint64(j)*7 + 1)
	}
	return b
}

func (rc *fuzzRecoverCase) crash(seed uint64) {
	rc.crashed = rc.fs.CrashTorn(rand.New(rand.NewPCG(seed, 0)))
}

// damage overwrites data file bytes of the crashed file system as chosen
// by spec (see FuzzRecover) and records which entries changed.
func (rc *fuzzRecoverCase) damage(spec []byte) {
	files := rc.dataFiles()
	for c := 0; c < fuzzMaxDamage && len(spec) > 4 && len(files) > 0; c++ {
		name := files[int(spec[0])%len(files)]
		start := fuzzDataFileStart(rc.t, name)
		off := (int(spec[2])<<8 | int(spec[1])) % fuzzSegSize
		n := min(1+int(spec[3])%16, len(spec)-4, fuzzSegSize-off)
		p := spec[4 : 4+n]
		spec = spec[4+n:]
		old, err := rc.crashed.ReadFile(name)
		if err != nil {
			rc.t.Fatal(err)
		}
		if err := rc.crashed.WriteFile(name, int64(off), p); err != nil {
			rc.t.Fatal(err)
		}
		for j := range p {
			if old[off+j] != p[j] {
				rc.markDamaged(start + uint64(off+j))
			}
		}
	}
}

func (rc *fuzzRecoverCase) dataFiles() []string {
	var files []string
	for _, name := range rc.crashed.Files() {
		if strings.HasSuffix(name, ".log") {
			files = append(files, name)
		}
	}
	return files
}

// fuzzDataFileStart parses the global offset a data file is named by.
func fuzzDataFileStart(t *testing.T, name string) uint64 {
	s, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), ".log"), 10, 64)
	if err != nil {
		t.Fatalf("data file name %s: %v", name, err)
	}
	return s
}

// markDamaged records the entry holding global offset off, if any.
func (rc *fuzzRecoverCase) markDamaged(off uint64) {
	for k, e := range rc.entries {
		if off >= e.off && off < e.off+uint64(HeaderSize+len(e.data)) {
			rc.damaged[rc.first+uint64(k)] = true
		}
	}
}

// firstDamaged returns the lowest damaged entry at or after from, or
// next() if none.
func (rc *fuzzRecoverCase) firstDamaged(from uint64) uint64 {
	for i := from; i < rc.next(); i++ {
		if rc.damaged[i] {
			return i
		}
	}
	return rc.next()
}

// check reopens the crashed log and checks the outcome; see FuzzRecover.
func (rc *fuzzRecoverCase) check() {
	// Recovery verifies entries from scan on, and the one before scan (its
	// CRC and term continue the chain); a bad one below durable is
	// corruption, a bad one at or after it a torn tail.
	verifyFrom := rc.scan
	if rc.scan > rc.first {
		verifyFrom--
	}
	corrupt := rc.firstDamaged(verifyFrom) < rc.durable
	// Rebuilding the term runs reads (and verifies) a few entries anywhere
	// in the log, so damage below scan may also stop Open. Below the synced
	// position damage is corruption if the unsynced hint survived the crash.
	mayFail := corrupt || rc.firstDamaged(rc.first) < rc.scan || rc.firstDamaged(verifyFrom) < rc.synced
	l, err := Open("/log", rc.reopenOpts())
	if err != nil {
		if !errors.Is(err, ErrCorrupt) || !mayFail {
			rc.t.Fatalf("Open after the crash: %v (damaged %v, verify %d..%d durable)",
				err, rc.sortedDamage(), verifyFrom, rc.durable)
		}
		return
	}
	defer l.Close()
	if corrupt {
		rc.t.Fatalf("Open succeeded (last %d) but entry %d below the durable checkpoint %d was damaged",
			l.LastIndex(), rc.firstDamaged(verifyFrom), rc.durable)
	}
	rc.checkRecovered(l)
	rc.checkContinues(l)
}

func (rc *fuzzRecoverCase) reopenOpts() Options {
	o := rc.opts
	o.FS = rc.crashed
	return o
}

// checkRecovered checks a recovered log's bounds and every entry in it.
func (rc *fuzzRecoverCase) checkRecovered(l *Log) {
	d := rc.firstDamaged(rc.scan)
	last := l.LastIndex()
	if l.FirstIndex() != rc.first || last+1 < min(rc.synced, d) || last >= d {
		rc.t.Fatalf("recovered [%d, %d]; wrote [%d, %d], synced to %d, first damaged at or after scan %d: %d",
			l.FirstIndex(), last, rc.first, rc.next()-1, rc.synced-1, rc.scan, d)
	}
	// Damage below scan is not seen by the scan (it reads only since the
	// last two checkpoints), but term runs are rebuilt from verified
	// entries only, so Term must be right for every intact entry.
	if tm, err := l.Term(rc.first - 1); err != nil || tm != 0 {
		rc.t.Fatalf("Term(%d), before the first entry, = %d, %v; want 0", rc.first-1, tm, err)
	}
	for i := rc.first; i <= last; i++ {
		want := rc.entries[i-rc.first]
		e, err := l.Read(i)
		if rc.damaged[i] {
			if !errors.Is(err, ErrCorrupt) {
				rc.t.Fatalf("Read(%d) of a damaged entry: %v, want ErrCorrupt", i, err)
			}
			continue
		}
		if err != nil || e.Term != want.term || e.Type != want.typ || !bytes.Equal(e.Payload, want.data) {
			rc.t.Fatalf("Read(%d) = term %d type %v %d bytes, %v; wrote term %d type %v %d bytes",
				i, e.Term, e.Type, len(e.Payload), err, want.term, want.typ, len(want.data))
		}
		if tm, err := l.Term(i); err != nil || tm != want.term {
			rc.t.Fatalf("Term(%d) = %d, %v; wrote %d", i, tm, err, want.term)
		}
	}
}

// checkContinues appends to the recovered log, syncs, crashes without
// tearing and recovers again: the new entry must be there.
func (rc *fuzzRecoverCase) checkContinues(l *Log) {
	last := l.LastIndex()
	term := rc.term + 1
	payload := []byte(fmt.Sprintf("after recovery of %d entries", last+1-rc.first))
	if i, err := l.Append(term, TypeNormal, payload); err != nil || i != last+1 {
		rc.t.Fatalf("Append after recovery = %d, %v; want %d", i, err, last+1)
	}
	if _, err := l.Sync(); err != nil {
		rc.t.Fatalf("Sync after recovery: %v", err)
	}
	awaitPrepared(l)
	o := rc.reopenOpts()
	o.FS = rc.crashed.Crash()
	l2, err := Open("/log", o)
	if err != nil {
		// Rebuilding the term runs may probe a damaged entry below scan
		// that the first Open did not (other bisection points).
		if errors.Is(err, ErrCorrupt) && rc.firstDamaged(rc.first) < rc.scan {
			return
		}
		rc.t.Fatalf("second Open: %v", err)
	}
	defer l2.Close()
	e, err := l2.Read(last + 1)
	if l2.LastIndex() != last+1 || err != nil || e.Term != term || !bytes.Equal(e.Payload, payload) {
		rc.t.Fatalf("second recovery: last %d (want %d), Read = %+v, %v", l2.LastIndex(), last+1, e, err)
	}
}

func (rc *fuzzRecoverCase) sortedDamage() []uint64 {
	var ds []uint64
	for i := rc.first; i < rc.next(); i++ {
		if rc.damaged[i] {
			ds = append(ds, i)
		}
	}
	return ds
}

// awaitPrepared waits for l's background file preparations. Only the
// goroutine that appends may call it (no preparation can start meanwhile).
func awaitPrepared(l *Log) { l.WaitPrepared() }
