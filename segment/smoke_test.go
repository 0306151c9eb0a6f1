package segment

import (
	"bytes"
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
