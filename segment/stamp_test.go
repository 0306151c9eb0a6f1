package segment

import (
	"encoding/binary"
	"testing"
)

// TestStamp: Options.Stamp sees every TypeNormal entry appended through
// Append and AppendBatch with the global offset of its payload, before the
// entry is framed: what it writes is stored, covered by the CRC, and the
// offset is where the payload lies, across file boundaries (the unused
// tail of a file included). AppendFramed and no-ops are never stamped.
func TestStamp(t *testing.T) {
	fs := NewMemFS()
	opts := testOpts(fs)
	var calls []uint64 // index of each call
	opts.Stamp = func(typ Type, index, offset uint64, payload []byte) {
		if typ != TypeNormal {
			t.Errorf("entry %d stamped with type %v", index, typ)
		}
		calls = append(calls, index)
		binary.LittleEndian.PutUint64(payload, offset)
	}
	l, err := Open("log", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append(1, TypeNoop, nil); err != nil {
		t.Fatal(err)
	}
	// Entries of 3,000 bytes in 4 KiB files (testOpts): one a file, so
	// every batch crosses file boundaries and leaves unused tails.
	for k := range 8 {
		es := make([]Entry, 3)
		for i := range es {
			es[i] = Entry{Term: 1, Type: TypeNormal, Payload: make([]byte, 3000-HeaderSize)}
		}
		if k%2 == 0 {
			if _, err := l.AppendBatch(es); err != nil {
				t.Fatal(err)
			}
			continue
		}
		for _, e := range es {
			if _, err := l.Append(e.Term, e.Type, e.Payload); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(calls) != 24 || calls[0] != 2 || calls[23] != 25 {
		t.Fatalf("stamp calls for indexes %v; want 2..25 (1 is the no-op)", calls)
	}
	for i := uint64(2); i <= l.LastIndex(); i++ {
		e, err := l.Read(i) // checks the CRC
		if err != nil {
			t.Fatal(err)
		}
		off, err := l.Offset(i)
		if err != nil {
			t.Fatal(err)
		}
		if got := binary.LittleEndian.Uint64(e.Payload); got != off+HeaderSize {
			t.Fatalf("entry %d: stamped payload offset %d, its payload lies at %d", i, got, off+HeaderSize)
		}
	}

	// A replica stores the stamped bytes as they are, without stamping.
	ropts := testOpts(fs)
	ropts.Stamp = func(Type, uint64, uint64, []byte) { t.Fatal("AppendFramed stamped an entry") }
	r, err := Open("replica", ropts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	bufs, _, err := l.Framed(1, 1<<20, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bufs {
		if _, err := r.AppendFramed(b); err != nil {
			t.Fatal(err)
		}
	}
	if r.LastIndex() != l.LastIndex() {
		t.Fatalf("replica holds up to %d, the log %d", r.LastIndex(), l.LastIndex())
	}
	for i := uint64(2); i <= r.LastIndex(); i++ {
		a, _ := l.Read(i)
		b, _ := r.Read(i)
		if a.CRC != b.CRC {
			t.Fatalf("entry %d differs on the replica", i)
		}
		lo, _ := l.Offset(i)
		if ro, err := r.Offset(i); err != nil || ro != lo {
			t.Fatalf("entry %d: at %d on the replica, %d in the log (%v)", i, ro, lo, err)
		}
	}
}
