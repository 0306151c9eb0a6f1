package segment

import (
	"bytes"
	"testing"
)

// FuzzCheckpoint feeds arbitrary checkpoint files to readCheckpoint through
// MemFS. It must never panic; an accepted checkpoint must pass valid(),
// have synced at or above durable, come from a slot that re-encodes to the
// bytes read, and use a hint only of its own seq.
func FuzzCheckpoint(f *testing.F) {
	c := checkpoint{seq: 3, base: Position{Index: 1}, segSize: 4096, indexSlots: 512,
		scan: Position{Index: 1}, durable: Position{Index: 5, Offset: 300}, synced: Position{Index: 5, Offset: 300}}
	file := make([]byte, ckptFileSize)
	copy(file, c.encode())
	c2 := c
	c2.seq = 4
	copy(file[ckptSlotGap:], c2.encode())
	copy(file[ckptHintOff:], encodeHint(4, Position{Index: 9, Offset: 700}))
	f.Add(file)
	f.Add(file[:ckptSlotGap+ckptSlotSize])
	f.Add(file[:100])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		fs := NewMemFS()
		if err := fs.MkdirAll("/d"); err != nil {
			t.Fatal(err)
		}
		fl, err := fs.Create("/d/" + ckptName)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fl.WriteAt(b, 0); err != nil && len(b) > 0 {
			t.Fatal(err)
		}
		got, ok, err := readCheckpoint(fs, "/d")
		if err != nil || !ok {
			return
		}
		if verr := got.valid(); verr != nil {
			t.Fatalf("accepted an invalid checkpoint %+v: %v", got, verr)
		}
		if got.synced.Index < got.durable.Index {
			t.Fatalf("synced %+v below durable %+v", got.synced, got.durable)
		}
		var raw []byte
		var dec checkpoint
		for _, off := range []int{0, ckptSlotGap} { // the slot it came from
			if off+ckptSlotSize <= len(b) {
				if d, ok := decodeCheckpoint(b[off : off+ckptSlotSize]); ok && d.seq == got.seq && raw == nil {
					raw, dec = b[off:off+ckptSlotSize], d
				}
			}
		}
		if raw == nil {
			t.Fatalf("accepted seq %d from no slot of the file", got.seq)
		}
		if !bytes.Equal(dec.encode(), raw) {
			t.Fatalf("slot of seq %d does not re-encode to its bytes", got.seq)
		}
		if got.synced != dec.synced {
			seq, p, hok := decodeHint(b[min(len(b), ckptHintOff):])
			if !hok || seq != got.seq || p != got.synced {
				t.Fatalf("synced %+v from neither the slot (%+v) nor a hint of seq %d", got.synced, dec.synced, got.seq)
			}
		}
	})
}
