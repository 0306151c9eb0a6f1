package broker

import "testing"

func TestPhysIndex(t *testing.T) {
	var p physIndex
	if _, ok := p.lookup(0); ok {
		t.Fatal("empty index found an entry")
	}
	// Entries i = 1.. start at 100*i.
	for i := uint64(1); i <= physIndexSize+10; i++ {
		p.add(i, int64(100*i))
	}
	for _, tc := range []struct {
		phys int64
		want uint64
		ok   bool
	}{
		{100 * 11, 11, true},      // the oldest held (1..10 pushed out)
		{100*11 - 1, 0, false},    // before it
		{100*500 + 99, 500, true}, // inside an entry
		{100 * (physIndexSize + 10), physIndexSize + 10, true},
		{1 << 40, physIndexSize + 10, true}, // past the last start: the last entry (the caller checks its end)
	} {
		got, ok := p.lookup(tc.phys)
		if got != tc.want || ok != tc.ok {
			t.Errorf("lookup(%d) = %d, %v; want %d, %v", tc.phys, got, ok, tc.want, tc.ok)
		}
	}
	p.add(7, 50) // not after the last one: a replay from an older checkpoint
	if got, ok := p.lookup(60); !ok || got != 7 {
		t.Fatalf("after a replay: lookup(60) = %d, %v", got, ok)
	}
	if _, ok := p.lookup(100 * 500); !ok {
		t.Fatal("lookup past the only entry must give it")
	}
}
