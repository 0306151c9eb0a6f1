package commitlog_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/rmqlog/rmqlog/commitlog"
)

var writeCorpus = flag.Bool("commitlog.write-corpus", false,
	"write fuzzSeeds() to testdata/fuzz/FuzzDecode (the committed seed corpus) and exit the test")

// FuzzDecode feeds arbitrary bytes to Decode and Peek. They must never
// panic, must agree, and must fail only with the package's decode errors.
// A message they accept must encode to exactly the bytes it was decoded
// from (the body CRC aside, which Decode does not verify and Encode
// computes). Each input is also tried with its total size fixed up to the
// length its fields add to, so the accepting path is explored beyond the
// seeds.
func FuzzDecode(f *testing.F) {
	for _, b := range fuzzSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzCheck(t, b)
		if fixed, ok := fixTotalSize(b); ok {
			fuzzCheck(t, fixed)
		}
	})
}

func fuzzCheck(t *testing.T, b []byte) {
	m, n, err := commitlog.Decode(b)
	h, perr := commitlog.Peek(b)
	if (err == nil) != (perr == nil) || err != nil && err.Error() != perr.Error() {
		t.Fatalf("Decode error %v, Peek error %v", err, perr)
	}
	if err != nil {
		for _, known := range []error{commitlog.ErrShort, commitlog.ErrMagic, commitlog.ErrCorrupt, commitlog.ErrEndOfFile} {
			if errors.Is(err, known) {
				return
			}
		}
		t.Fatalf("Decode(%x): an error of no known kind: %v", b, err)
	}
	if n < commitlog.MinSize || n > len(b) || h.Size != n || h.QueueOffset != m.QueueOffset ||
		h.PhysicalOffset != m.PhysicalOffset || h.StoreTimestamp != m.StoreTimestamp ||
		!bytes.Equal(h.Topic, m.Topic) || !bytes.Equal(h.Properties, m.Properties) {
		t.Fatalf("Decode(%x): size %d, Peek %+v disagrees with %+v", b, n, h, m)
	}
	stored := m.BodyCRC
	out, err := commitlog.Encode(nil, &m, math.MaxInt32)
	if err != nil {
		t.Fatalf("Decode accepted %x, Encode refuses it: %v", b[:n], err)
	}
	binary.BigEndian.PutUint32(out[8:], stored)
	if !bytes.Equal(out, b[:n]) {
		t.Fatalf("Decode(%x) = %+v, encodes as %x", b[:n], m, out)
	}
}

// fixTotalSize returns b with its total size set to the length its fields
// add up to, when b holds the length fields to compute it.
func fixTotalSize(b []byte) ([]byte, bool) {
	be := binary.BigEndian
	if len(b) < 40 {
		return nil, false
	}
	p := 48 + 8 + 8 + 8 + 4 + 8 // the body length, after two IPv4 hosts
	if be.Uint32(b[36:])&0x10 != 0 {
		p += 12 // an IPv6 born host
	}
	if be.Uint32(b[36:])&0x20 != 0 {
		p += 12 // an IPv6 store host
	}
	if p+4 > len(b) {
		return nil, false
	}
	p += 4 + int(int32(be.Uint32(b[p:])))
	tls := 1
	if be.Uint32(b[4:]) == commitlog.MagicV2 {
		tls = 2
	}
	if p < 0 || p+tls > len(b) {
		return nil, false
	}
	if tls == 1 {
		p += 1 + int(b[p])
	} else {
		p += 2 + int(be.Uint16(b[p:]))
	}
	if p+2 > len(b) {
		return nil, false
	}
	p += 2 + int(be.Uint16(b[p:]))
	if p > len(b) || p > math.MaxInt32 {
		return nil, false
	}
	c := bytes.Clone(b)
	be.PutUint32(c, uint32(p))
	return c, true
}

// fuzzSeeds: messages of each host size, version and property shape, each
// also truncated, bit-flipped and followed by more bytes; two back to
// back; the blank; bytes that are no message.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	hosts := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:10911"), netip.MustParseAddrPort("[2001:db8::1]:10911")}
	for i, born := range hosts {
		for j, store := range hosts {
			for _, topic := range []string{"", "T", string(bytes.Repeat([]byte("t"), 130))} {
				m := commitlog.Message{QueueID: int32(i), QueueOffset: int64(j), BornHost: born, StoreHost: store,
					Body: bytes.Repeat([]byte{byte(i + j)}, 3*i+j), Topic: []byte(topic),
					Properties: []byte("TAGS\x01a\x02KEYS\x01k\x02")}
				b, err := commitlog.Encode(nil, &m, 100)
				if err != nil {
					panic(err)
				}
				flip := bytes.Clone(b)
				flip[len(flip)/2] ^= 0x20
				seeds = append(seeds, b, b[:len(b)-1], flip, append(bytes.Clone(b), b...))
			}
		}
	}
	g := golden()
	return append(seeds, g, g[:commitlog.MinSize], commitlog.AppendBlank(nil, 1024), nil, make([]byte, 100))
}

// TestWriteCorpus writes the seed corpus when asked
// (go test -run TestWriteCorpus ./commitlog/ -args -commitlog.write-corpus).
func TestWriteCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("-commitlog.write-corpus not set")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, b := range fuzzSeeds() {
		text := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", i)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
