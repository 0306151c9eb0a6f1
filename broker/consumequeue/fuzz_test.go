package consumequeue

import (
	"bytes"
	"math"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the unit decoder, the checkpoint
// slot decoder and the recovery scan: none may panic, a decoded unit or
// slot re-encodes to the same bytes, and the scan keeps only units below
// its bound that increase.
func FuzzDecode(f *testing.F) {
	var seed [2 * ckptFileSize]byte
	checkpoint{seq: 7, index: 42}.encode(seed[:])
	f.Add(seed[:ckptSlotSize])
	unit := make([]byte, 3*UnitSize)
	Unit{Phys: 1000, Size: 90, TagsCode: -5}.Encode(unit)
	blankUnit.Encode(unit[UnitSize:])
	f.Add(unit)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= UnitSize {
			u := DecodeUnit(b)
			var re [UnitSize]byte
			u.Encode(re[:])
			if !bytes.Equal(re[:], b[:UnitSize]) {
				t.Fatalf("unit %v re-encodes to %x, was %x", u, re, b[:UnitSize])
			}
		}
		if c, ok := decodeCheckpoint(b); ok {
			var re [ckptSlotSize]byte
			c.encode(re[:])
			if !bytes.Equal(re[:], b[:ckptSlotSize]) {
				t.Fatalf("slot %+v re-encodes to %x, was %x", c, re, b[:ckptSlotSize])
			}
		}
		pickCheckpoint(b)
		units := b[:len(b)/UnitSize*UnitSize]
		bound := int64(math.MaxInt64)
		if len(b) > 0 {
			bound = int64(b[0]) << 8
		}
		start, k, err := scanUnits(units, -1, bound, true, &qfile{path: "fuzz"})
		if err != nil {
			return
		}
		prev := int64(-1)
		for i := start; i < k; i++ {
			u := DecodeUnit(units[i*UnitSize:])
			if !u.valid() || u.Phys <= prev || u.Phys >= bound {
				t.Fatalf("scan kept unit %d %v (prev %d, bound %d)", i, u, prev, bound)
			}
			prev = u.Phys
		}
	})
}

func TestTornHead(t *testing.T) {
	b := make([]byte, 40*UnitSize)
	for i := range 40 {
		Unit{Phys: 0x0100_0000_0000 + int64(i), Size: 9}.Encode(b[i*UnitSize:])
	}
	for _, tc := range []struct {
		name string
		unit int
		zero [2]int // bytes cleared
		want bool
	}{
		{"straddling, head lost", 25, [2]int{500, 512}, true},
		{"straddling, intact", 25, [2]int{0, 0}, false},
		{"straddling, head partly lost", 25, [2]int{504, 512}, false},
		{"inside a sector, zeroed", 3, [2]int{60, 68}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := append([]byte(nil), b...)
			clear(c[tc.zero[0]:tc.zero[1]])
			if got := tornHead(c, tc.unit); got != tc.want {
				t.Fatalf("tornHead = %v, want %v", got, tc.want)
			}
		})
	}
}
