package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/klauspost/crc32"
)

// FuzzDecode feeds arbitrary bytes to Decode. It must never panic; an
// accepted entry must re-encode to exactly the bytes it consumed. Each input
// is also tried with its CRC fixed up (when its length field fits), so the
// accepting path is explored beyond the seeds: with a valid CRC, Decode must
// accept exactly the headers with a known type and zero reserved bytes.
func FuzzDecode(f *testing.F) {
	for _, b := range fuzzDecodeSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzCheckDecode(t, b)
		if fixed, ok := fuzzFixCRC(b); ok {
			_, hdrOK := decodeHeader(fixed)
			if _, _, err := fuzzCheckDecode(t, fixed); (err == nil) != hdrOK {
				t.Fatalf("CRC fixed, plausible header %v: Decode error %v", hdrOK, err)
			}
		}
	})
}

// fuzzDecodeSeeds returns framed entries of every type and a few payload sizes,
// truncated, bit-flipped and followed by trailing bytes.
func fuzzDecodeSeeds() [][]byte {
	var seeds [][]byte
	for _, typ := range []Type{TypeNormal, TypeNoop, TypeConfig, TypeBroker} {
		for _, n := range []int{0, 1, 100} {
			e := Entry{Index: uint64(n) + 7, Term: 3, Type: typ, PrevCRC: 0xdeadbeef,
				Payload: bytes.Repeat([]byte{byte(n) | 0x80}, n)}
			b := Encode(nil, &e)
			flip := bytes.Clone(b)
			flip[len(flip)/2] ^= 0x10
			seeds = append(seeds, b, b[:len(b)-1], b[:HeaderSize-1], flip,
				append(bytes.Clone(b), 0xff, 0, 1))
		}
	}
	return append(seeds, nil, make([]byte, HeaderSize))
}

// fuzzCheckDecode decodes b and checks the result against Encode.
func fuzzCheckDecode(t *testing.T, b []byte) (Entry, int, error) {
	t.Helper()
	pi, pt, pn, perr := Peek(b)
	e, n, err := Decode(b)
	if err == nil && (perr != nil || pi != e.Index || pt != e.Term || pn != n) {
		t.Fatalf("Peek(%x) = %d, %d, %d, %v; Decode found entry %d term %d size %d", b, pi, pt, pn, perr, e.Index, e.Term, n)
	}
	if err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrShortEntry) {
			t.Fatalf("Decode(%x): error of an unknown kind: %v", b, err)
		}
		return e, n, err
	}
	if n < HeaderSize || n > len(b) || n != e.Size() {
		t.Fatalf("Decode(%x): n = %d, entry size %d, input %d bytes", b, n, e.Size(), len(b))
	}
	if len(e.Payload) > 0 && cap(e.Payload) != len(e.Payload) {
		t.Fatalf("Decode: payload capacity %d > length %d: an append would overwrite the input",
			cap(e.Payload), len(e.Payload))
	}
	re := Entry{Index: e.Index, Term: e.Term, Type: e.Type, Payload: e.Payload, PrevCRC: e.PrevCRC}
	if out := Encode(nil, &re); !bytes.Equal(out, b[:n]) || re.CRC != e.CRC {
		t.Fatalf("Decode(%x) = %+v, re-encoded as %x (crc %08x)", b[:n], e, out, re.CRC)
	}
	return e, n, nil
}

// fuzzFixCRC returns a copy of b whose CRC field is right for the entry its
// length field describes, if b holds that much.
func fuzzFixCRC(b []byte) ([]byte, bool) {
	if len(b) < HeaderSize {
		return nil, false
	}
	n := uint64(binary.LittleEndian.Uint32(b[4:8])) + HeaderSize
	if n > uint64(len(b)) {
		return nil, false
	}
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint32(c[0:4], crc32.Checksum(c[4:n], castagnoli))
	return c, true
}
