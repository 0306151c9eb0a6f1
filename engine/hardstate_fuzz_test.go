package engine

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeState: the hard state decoder never panics, fails only with
// ErrState, and what it accepts re-encodes to the same bytes (version 2)
// or decodes again identically (version 1).
func FuzzDecodeState(f *testing.F) {
	f.Add(encodeState(HardState{Term: 7, Vote: "n1"}))
	f.Add(encodeState(HardState{Term: 9, Vote: "", RepairTo: 120, RepairTerm: 8}))
	f.Add([]byte("RMQS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, err := decodeState(b)
		if err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("error %v does not wrap ErrState", err)
			}
			return
		}
		again := encodeState(hs)
		if b[4] == stateVersion && !bytes.Equal(again, b) {
			t.Fatalf("re-encoded\n%x\ninput\n%x", again, b)
		}
		if hs2, err := decodeState(again); err != nil || hs2 != hs {
			t.Fatalf("round trip: %+v, %v; want %+v", hs2, err, hs)
		}
	})
}
