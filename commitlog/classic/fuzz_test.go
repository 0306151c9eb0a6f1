package classic_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/commitlog/classic"
)

// fuzzFileSize and fuzzMessages make FuzzScan's directory: 14 messages of
// 100 to 600 bytes in files of 1 KiB, so that files end in blanks, a
// message may outgrow the 256-byte read buffer the fuzz test gives Scan,
// and the last file is partly zero.
const fuzzFileSize = 1024

func fuzzBase(t testing.TB) (map[string][]byte, []written) {
	dir := t.TempDir()
	ws := write(t, dir, fuzzFileSize, messages(14, 10, 120, 450, 0, 300))
	files := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files, ws
}

// mutate applies prog to a copy of the base files laid end to end: each
// 3 bytes (a big-endian position, modulo the total size, and a value) set
// one byte.
func mutate(base map[string][]byte, prog []byte) map[string][]byte {
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range base {
			if !yield(n) {
				return
			}
		}
	})
	all := []byte{}
	for _, n := range names {
		all = append(all, base[n]...)
	}
	for ; len(prog) >= 3; prog = prog[3:] {
		all[(int(prog[0])<<8|int(prog[1]))%len(all)] = prog[2]
	}
	out := map[string][]byte{}
	for i, n := range names {
		out[n] = all[i*fuzzFileSize : (i+1)*fuzzFileSize]
	}
	return out
}

// FuzzScan: Scan of a directory whose bytes are changed anywhere never
// panics, fails only with a *Damage inside the log, returns only valid
// messages in order with a summary that adds them up, finds the same with
// a 256-byte buffer that must grow as with the default one, and allocates
// a bounded amount. Compare of the original with the changed copy agrees
// with Scan. The seed corpus (testdata/fuzz/FuzzScan) runs in go test.
func FuzzScan(f *testing.F) {
	base, ws := fuzzBase(f)
	for _, prog := range fuzzSeeds(ws) {
		f.Add(prog)
	}
	f.Fuzz(func(t *testing.T, prog []byte) {
		dir := t.TempDir()
		for name, b := range mutate(base, prog) {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		d := open(t, dir)
		classic.SetBufSize(d, 256)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		small, sumSmall, errSmall := fuzzScan(t, d)
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Fatalf("Scan of %d files of %d bytes allocated %d bytes", len(d.Files), fuzzFileSize, n)
		}
		big, sumBig, errBig := fuzzScan(t, open(t, dir))
		a, b := fmt.Sprint(small, brief(sumSmall), brief(errSmall)), fmt.Sprint(big, brief(sumBig), brief(errBig))
		if a != b {
			t.Fatalf("a 256-byte buffer and the default one disagree:\n%s\n%s", a, b)
		}
		fuzzCompare(t, dir, sumBig, errBig, len(prog) < 3)
	})
}

// brief describes a summary or an error by what must not depend on the
// read buffer's size: the counts, and of damage its place, what follows
// and its kind. Its wording may: a message larger than the buffer whose
// lengths do not add up is refused before it is read (ErrCorrupt, "the
// lengths of the message do not add up"), one inside the buffer by
// commitlog.Decode, which says which length is wrong.
func brief(v any) string {
	switch v := v.(type) {
	case classic.Summary:
		return fmt.Sprint(v.Messages, v.Bytes, v.First, v.End, brief(v.Torn))
	case *classic.Damage:
		if v == nil {
			return "<nil>"
		}
		for _, kind := range []error{commitlog.ErrShort, commitlog.ErrMagic, commitlog.ErrCorrupt, commitlog.ErrBodyCRC, classic.ErrOffset, classic.ErrHole} {
			if errors.Is(v, kind) {
				return fmt.Sprint(v.File, v.Offset, v.Pos, v.Follows, kind)
			}
		}
		return "damage of no known kind: " + v.Error()
	case error:
		var d *classic.Damage
		if errors.As(v, &d) {
			return brief(d)
		}
		return v.Error()
	}
	return fmt.Sprint(v)
}

// fuzzScan scans d, checks what it returns, and returns the offsets of
// the messages, the summary and the error.
func fuzzScan(t *testing.T, d *classic.Dir) ([]int64, classic.Summary, error) {
	var offsets []int64
	var bytesSum int64
	sum, err := d.Scan(func(m classic.Msg) error {
		dm, n, err := commitlog.Decode(m.Bytes)
		if err != nil || n != len(m.Bytes) || n != m.Header.Size || dm.VerifyBody() != nil || m.Phys != m.Header.PhysicalOffset ||
			m.Phys%fuzzFileSize+int64(n) > fuzzFileSize || m.File != classic.FileName(m.Phys-m.Phys%fuzzFileSize) {
			t.Fatalf("Scan returned an invalid message at %d in %s: %v", m.Phys, m.File, err)
		}
		if len(offsets) > 0 && m.Phys <= offsets[len(offsets)-1] {
			t.Fatalf("message at %d after one at %d", m.Phys, offsets[len(offsets)-1])
		}
		offsets = append(offsets, m.Phys)
		bytesSum += int64(n)
		return nil
	})
	var dmg *classic.Damage
	if err != nil && (!errors.As(err, &dmg) || dmg.Torn()) {
		t.Fatalf("Scan: %v, want nil or damage inside the log", err)
	}
	if sum.Torn != nil && (!sum.Torn.Torn() || err != nil) {
		t.Fatalf("Torn %v with error %v", sum.Torn, err)
	}
	if sum.Messages != int64(len(offsets)) || sum.Bytes != bytesSum {
		t.Fatalf("Summary %+v for %d messages of %d bytes", sum, len(offsets), bytesSum)
	}
	return offsets, sum, err
}

// fuzzCompare compares the unchanged directory with the changed one dir,
// whose Scan found sum and err.
func fuzzCompare(t *testing.T, dir string, sum classic.Summary, err error, unchanged bool) {
	ref := t.TempDir()
	write(t, ref, fuzzFileSize, messages(14, 10, 120, 450, 0, 300))
	rep, cerr := classic.Compare([]*classic.Dir{open(t, ref), open(t, dir)}, classic.CompareOptions{})
	if cerr != nil {
		t.Fatal(cerr)
	}
	c := rep.Copies[1]
	if brief(c.Summary) != brief(sum) || (c.Damage == nil) != (err == nil) {
		t.Fatalf("Compare walked %+v (damage %v), Scan %+v (%v)", c.Summary, c.Damage, sum, err)
	}
	if unchanged && !rep.OK() {
		t.Fatalf("Compare of two equal copies:\n%s", rep.String())
	}
	for _, a := range rep.Pairs[0].Copy {
		if _, err := os.Stat(filepath.Join(a.From, a.File)); err != nil {
			t.Fatalf("Compare says to copy %s from %s: %v", a.File, a.From, err)
		}
	}
	_ = rep.String()
}

// fuzzSeeds: no change; for several messages, a flipped body byte, a
// zeroed total size, a total size past the file, a bad magic code, a wrong
// physical offset; the blank's magic broken; junk after the end of data.
func fuzzSeeds(ws []written) [][]byte {
	at := func(pos int64, v byte) []byte { return []byte{byte(pos >> 8), byte(pos), v} }
	seeds := [][]byte{nil}
	for _, i := range []int{0, 3, 7, len(ws) - 1} {
		p := ws[i].phys
		seeds = append(seeds,
			at(p+88, ws[i].bytes[88]^0x01),                                          // body CRC
			bytes.Join([][]byte{at(p, 0), at(p+1, 0), at(p+2, 0), at(p+3, 0)}, nil), // zero total size
			at(p+1, 0x7F),                         // total size past the file
			at(p+4, 0x00),                         // magic
			at(p+35, 0x55),                        // physical offset
			at(p+int64(len(ws[i].bytes))-1, 0xFF), // the last property byte
		)
	}
	last := ws[len(ws)-1]
	end := last.phys + int64(len(last.bytes))
	blank := ws[lastIn(ws, ws[0].file)]
	return append(seeds,
		at(blank.phys+int64(len(blank.bytes))+4, 0), // the blank's magic code
		at(end+40, 0x33), // junk after the end of the data
		bytes.Join([][]byte{at(end, 0), at(end+1, 0), at(end+2, 1)}, nil), // a total size after the end
	)
}

// TestWriteFuzzCorpus writes fuzzSeeds into testdata/fuzz/FuzzScan
// (go test -run TestWriteFuzzCorpus -update).
func TestWriteFuzzCorpus(t *testing.T) {
	if !*update {
		t.Skip("-update not set")
	}
	_, ws := fuzzBase(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzScan")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, prog := range fuzzSeeds(ws) {
		text := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", prog)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", i)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
