package chaos

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/rmqlog/rmqlog/segment"
)

// TestDamageHitsEntries: the damage fault must damage entries. The log keeps
// the next data file prepared (zero-filled) under its real name; the first
// version of the fault picked that file and damaged nothing (found in
// review).
func TestDamageHitsEntries(t *testing.T) {
	dir := t.TempDir()
	l, err := segment.Open(dir, segment.Options{SegmentSize: 1 << 20, IndexEntries: 512})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := l.Append(1, segment.TypeNormal, make([]byte, 500)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	l.WaitPrepared()
	l.Close() // as if the node were stopped
	p, _ := activeFile(dir)
	for _, kind := range []string{"flip", "truncate"} {
		what, err := damage(dir, kind, snapshot{}, rand.New(rand.NewPCG(1, 2)))
		t.Logf("%s: activeFile=%s -> %q %v", kind, filepath.Base(p), what, err)
	}
	opts := segment.Options{SegmentSize: 1 << 20, VerifyAll: true, OnDamage: func(d segment.Damage) error {
		t.Logf("damage found: %v", d)
		return nil
	}}
	found := false
	opts.OnDamage = func(segment.Damage) error { found = true; return nil }
	l2, err := segment.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if !found {
		t.Fatalf("the damage fault damaged nothing: the newest file %s is the prepared, empty next file; log still ends at %d",
			filepath.Base(p), l2.LastIndex())
	}
}
