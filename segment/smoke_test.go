package segment

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestSmoke(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentSize: 8192, IndexEntries: 512})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		term := uint64(1 + i/300)
		if _, err := l.Append(term, TypeNormal, []byte(fmt.Sprintf("payload-%d", i))); err != nil {
			t.Fatal(i, err)
		}
	}
	if _, err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = Open(dir, Options{SegmentSize: 8192, IndexEntries: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.LastIndex() != 1000 {
		t.Fatalf("last %d", l.LastIndex())
	}
	for i := uint64(1); i <= 1000; i++ {
		e, err := l.Read(i)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.Payload, []byte(fmt.Sprintf("payload-%d", i-1))) {
			t.Fatalf("%d: %q", i, e.Payload)
		}
		tm, _ := l.Term(i)
		if tm != 1+(i-1)/300 || e.Term != tm {
			t.Fatalf("term %d: %d %d", i, tm, e.Term)
		}
	}
}

// firstUnknownType is the lowest entry type above the known ones.
func firstUnknownType() Type {
	t := TypeNormal
	for t.Known() {
		t++
	}
	return t
}

// TestAppendRejects: arguments that would write an entry recovery cannot
// read back are refused before anything is written.
func TestAppendRejects(t *testing.T) {
	fs := NewMemFS()
	l := mustOpen(t, fs)
	defer l.Close()
	if _, err := l.Append(2, TypeNormal, []byte("a")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		term    uint64
		typ     Type
		payload []byte
		want    error
	}{
		{"type 0", 2, 0, nil, nil},
		{"unknown type", 2, firstUnknownType(), nil, nil},
		{"term goes back", 1, TypeNormal, nil, ErrNotContiguous},
		{"larger than a segment", 2, TypeNormal, make([]byte, 4096), ErrTooLarge},
	}
	for _, tc := range tests {
		_, err := l.Append(tc.term, tc.typ, tc.payload)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if l.LastIndex() != 1 || l.Err() != nil {
		t.Fatalf("last %d, err %v: a refused append changed the log", l.LastIndex(), l.Err())
	}
}

// TestSpanMatchesFramed: Span picks the batch Framed returns, for every
// start and limit, across file boundaries.
func TestSpanMatchesFramed(t *testing.T) {
	l, err := Open(t.TempDir(), Options{SegmentSize: 4 << 10, IndexEntries: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for k := range 60 {
		if _, err := l.Append(1, TypeNormal, make([]byte, 50+k*7%300)); err != nil {
			t.Fatal(err)
		}
	}
	for from := l.FirstIndex(); from <= l.LastIndex(); from++ {
		for _, maxBytes := range []int{1, 100, 500, 2000, 1 << 20} {
			for _, maxCount := range []int{1, 3, 17, 1000} {
				bufs, next, err := l.Framed(from, maxBytes, maxCount, nil)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, b := range bufs {
					n += len(b)
				}
				hi, size, err := l.Span(from, maxBytes, maxCount)
				if err != nil {
					t.Fatal(err)
				}
				// Span may count a file's tail padding, so it can stop earlier
				// than Framed near a file boundary, never later.
				if hi > next-1 || size < n && hi == next-1 {
					t.Fatalf("Span(%d, %d, %d) = %d, %d bytes; Framed ends at %d with %d bytes", from, maxBytes, maxCount, hi, size, next-1, n)
				}
				if len(bufs) == 1 && hi != next-1 {
					t.Fatalf("Span(%d, %d, %d) = %d within one file; Framed ends at %d", from, maxBytes, maxCount, hi, next-1)
				}
			}
		}
	}
}
