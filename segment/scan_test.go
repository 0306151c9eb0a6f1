package segment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScan: Scan reads back exactly what was appended across several
// files, after DeletePrefix and TruncateSuffix, and stops with a reason at
// a flipped byte.
func TestScan(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentSize: 64 << 10, IndexEntries: 1024})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if _, err := l.Append(1+uint64(i/100), TypeNormal, fmt.Appendf(nil, "entry %d %s", i, strings.Repeat("x", i*3))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.TruncateSuffix(291); err != nil {
		t.Fatal(err)
	}
	syncAndCheckpoint(t, l)
	if _, err := l.DeletePrefix(250); err != nil {
		t.Fatal(err)
	}
	syncAndCheckpoint(t, l)
	first, last := l.FirstIndex(), l.LastIndex()
	want := map[uint64]string{}
	for i := first; i <= last; i++ {
		e, err := l.Read(i)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = string(e.Payload)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	end, err := Scan(dir, func(s Scanned) error {
		if want[s.Index] != string(s.Payload) {
			t.Fatalf("entry %d: %q, want %q", s.Index, s.Payload, want[s.Index])
		}
		return nil
	})
	if err != nil || end.First != first || end.Last != last || end.Entries != last-first+1 || end.Reason != "end of log" {
		t.Fatalf("Scan = %+v, %v; want entries %d..%d to the end of the log", end, err, first, last)
	}
	if first <= 1 || end.Files < 2 {
		t.Fatalf("the test wants a deleted prefix and several files: first %d, files %d", first, end.Files)
	}

	// Flip a payload byte of entry 280: the scan stops there, naming it.
	var at Scanned
	Scan(dir, func(s Scanned) error {
		if s.Index == 280 {
			at = s
			return ErrScanStopped
		}
		return nil
	})
	path := at.File
	b, _ := os.ReadFile(path)
	start := at.Offset / end.SegmentSize * end.SegmentSize
	b[at.Offset-start+HeaderSize] ^= 1
	os.WriteFile(path, b, 0o644)
	end, err = Scan(dir, func(Scanned) error { return nil })
	if err != nil || end.Last != 279 || !strings.Contains(end.Reason, "crc") || end.File != path || end.Offset != at.Offset {
		t.Fatalf("Scan after a flipped byte = %+v, %v; want a stop after 279 naming the CRC at %s:%d", end, err, filepath.Base(path), at.Offset)
	}

	if _, err := Scan(t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "no checkpoint") {
		t.Fatalf("Scan of an empty directory: %v", err)
	}
	stop := errors.New("stop")
	if _, err := Scan(dir, func(Scanned) error { return stop }); err != stop {
		t.Fatalf("callback error: %v", err)
	}
}

func syncAndCheckpoint(t *testing.T, l *Log) {
	t.Helper()
	if _, err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
}
