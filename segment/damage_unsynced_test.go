package segment

import (
	"math/rand/v2"
	"testing"
)

// With CheckUnsynced (ASYNC_FLUSH: entries are acknowledged before they are
// synced), a bad entry followed by valid ones: the log held every valid
// entry after it, so Damage.Had must cover the whole chain (the engine's
// RepairTo = Had; from the review, where Had was only the successor).
func TestCheckUnsyncedHadCoversChain(t *testing.T) {
	fs := NewMemFS()
	_, offs := buildLog(t, fs, 40, 10, 30)
	fs = fs.Crash() // lose the hint: 31..40 are unsynced (acked under ASYNC_FLUSH)
	flipBits(t, fs, offs[33]+HeaderSize+1, 1)
	l, got := openUnsynced(t, fs)
	defer l.Close()
	if len(got) != 1 || got[0].Had < 40 {
		t.Fatalf("damage %+v: the log held (and may have acked) entries up to 40", got)
	}
}

// A flipped bit in the length or type field of an unsynced entry that valid
// entries follow (CheckUnsynced) must be damage, not a torn tail, although
// the damaged header cannot say where the next entry starts: its index slot
// does. (From the review of the damage detection.)
func TestCheckUnsyncedHeaderFlip(t *testing.T) {
	for _, field := range []struct {
		name string
		at   uint64
		mask byte
	}{{"length", 6, 0x01}, {"type", 24, 0x40}} {
		t.Run(field.name, func(t *testing.T) {
			// Entries 31..40 written and not synced; the process dies (no
			// power cut: the index slots in the page cache survive).
			fs := NewMemFS()
			m, offs := buildLog(t, fs, 30, 10, 30)
			l0 := mustOpen(t, fs)
			if err := appendRandom(t, l0, m, rand.New(rand.NewPCG(9, 9)), 10, 150); err != nil {
				t.Fatal(err)
			}
			for i := uint64(31); i <= 40; i++ {
				off, _ := l0.offsetIn(l0.view.Load(), i)
				offs = append(offs, off)
			}
			_ = l0.Close()
			flipBits(t, fs, offs[33]+field.at, field.mask)
			l, got := openUnsynced(t, fs)
			defer l.Close()
			if len(got) == 0 {
				t.Fatalf("bit flip in the %s field of entry 33 (entries 34..40 valid after it) dropped as a torn tail; log ends at %d",
					field.name, l.LastIndex())
			}
		})
	}
}
