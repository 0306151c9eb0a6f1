package classic_test

import (
	"bytes"
	"encoding/binary"
	"flag"
	"hash/crc32"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/commitlog/classic"
)

var update = flag.Bool("update", false,
	"rewrite testdata: the golden directory (testdata/golden) and the FuzzScan seed corpus (testdata/fuzz/FuzzScan)")

// goldenDir is the checked-in classic directory: files of goldenFileSize
// bytes holding three messages and a blank (goldenFiles).
const (
	goldenDir      = "testdata/golden"
	goldenFileSize = 512
)

// goldenFiles builds, field by field from the layout in
// commitlog/doc.go and without package commitlog's encoder, the classic
// directory a broker with 512-byte files writes for three messages:
//
//	00000000000000000000: A (120 bytes at 0), B (349 bytes at 120), the blank (43 bytes at 469)
//	00000000000000000512: C (127 bytes at 512), zeros
//
// C does not fit in the 43 bytes left after B with the 8 of a blank after
// it, so the blank pads file 0 and C starts file 1. C's born host is IPv6.
func goldenFiles() map[string][]byte {
	var b []byte
	u32 := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	u64 := func(v uint64) { b = binary.BigEndian.AppendUint64(b, v) }
	msg := func(queueID uint32, queueOffset, phys uint64, born netip.AddrPort, body, topic, props string) {
		sysFlag, hosts := uint32(0), 0
		if born.Addr().Is6() {
			sysFlag, hosts = 0x10, 12 // FlagBornHostV6: the born host takes 16+4 bytes
		}
		u32(uint32(91 + hosts + len(body) + len(topic) + len(props))) //  0 total size
		u32(0xDAA320A7)                                               //  4 magic v1
		u32(crc32.ChecksumIEEE([]byte(body)) & 0x7FFFFFFF)            //  8 body CRC
		u32(queueID)                                                  // 12 queue id
		u32(0)                                                        // 16 flag
		u64(queueOffset)                                              // 20 queue offset
		u64(phys)                                                     // 28 physical offset
		u32(sysFlag)                                                  // 36 sys flag
		u64(1700000000000 + phys)                                     // 40 born timestamp
		b = append(b, born.Addr().AsSlice()...)                       // 48 born IP, 4 or 16 bytes
		u32(uint32(born.Port()))                                      //    born port
		u64(1700000000100 + phys)                                     //    store timestamp
		b = append(b, 10, 175, 8, 149)                                //    store IP
		u32(10911)                                                    //    store port
		u32(0)                                                        //    reconsume times
		u64(0)                                                        //    prepared transaction offset
		u32(uint32(len(body)))                                        //    body length
		b = append(b, body...)                                        //    body
		b = append(b, byte(len(topic)))                               //    topic length, 1 byte in v1
		b = append(b, topic...)                                       //    topic
		b = binary.BigEndian.AppendUint16(b, uint16(len(props)))      //    properties length
		b = append(b, props...)                                       //    properties
	}
	v4 := netip.MustParseAddrPort("192.168.0.7:51234")
	msg(0, 0, 0, v4, "hello", "TopicA", "TAGS\x01TagA\x02KEYS\x01k1\x02")
	msg(0, 1, 120, v4, string(bytes.Repeat([]byte("0123456789"), 20)), "TopicA",
		"TAGS\x01TagB\x02UNIQ_KEY\x01C0A80007A1B218B4AAC25E2F8D4B0000\x02")
	u32(512 - 469)  // the blank: the rest of the file's size,
	u32(0xCBD43194) // BlankMagic; the rest stays zero
	file0 := append(b, make([]byte, 512-len(b))...)
	b = nil
	msg(2, 7, 512, netip.MustParseAddrPort("[2001:db8::7]:52000"), "world", "TopicB", "KEYS\x01order-1\x02")
	file1 := append(b, make([]byte, 512-len(b))...)
	return map[string][]byte{"00000000000000000000": file0, "00000000000000000512": file1}
}

// goldenWant is what Scan must find in the golden directory: offset,
// file, size, queue id, queue offset, topic.
var goldenWant = []struct {
	phys        int64
	file        string
	size        int
	queueID     int32
	queueOffset int64
	topic       string
}{
	{0, "00000000000000000000", 120, 0, 0, "TopicA"},
	{120, "00000000000000000000", 349, 0, 1, "TopicA"},
	{512, "00000000000000000512", 127, 2, 7, "TopicB"},
}

// TestGoldenFiles: the checked-in directory holds exactly the bytes
// goldenFiles builds (go test -run TestGoldenFiles -update rewrites it).
func TestGoldenFiles(t *testing.T) {
	files := goldenFiles()
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(goldenDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(goldenDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s/%s differs from what goldenFiles builds:\n got %x\nwant %x", goldenDir, name, got, want)
		}
	}
}

// TestGoldenScan: Scan reads the golden directory's messages with the
// fields the layout put there.
func TestGoldenScan(t *testing.T) {
	for _, fileSize := range []int64{0, goldenFileSize} {
		d, err := classic.Open(goldenDir, fileSize)
		if err != nil {
			t.Fatal(err)
		}
		got, sum, err := scanAll(t, d)
		if err != nil {
			t.Fatal(err)
		}
		if want := (classic.Summary{Messages: 3, Bytes: 120 + 349 + 127, First: 0, End: 512 + 127}); sum != want || d.FileSize != goldenFileSize {
			t.Fatalf("Summary %+v, file size %d; want %+v, %d", sum, d.FileSize, want, goldenFileSize)
		}
		for i, w := range goldenWant {
			g := got[i]
			h := g.Header
			if g.Phys != w.phys || g.File != w.file || len(g.Bytes) != w.size || h.Size != w.size || h.QueueID != w.queueID ||
				h.QueueOffset != w.queueOffset || string(h.Topic) != w.topic || h.PhysicalOffset != w.phys || h.StoreTimestamp != 1700000000100+w.phys {
				t.Errorf("message %d: %+v at %d in %s, want %+v", i, h, g.Phys, g.File, w)
			}
		}
		m, _, err := commitlog.Decode(got[2].Bytes)
		if err != nil || m.BornHost != netip.MustParseAddrPort("[2001:db8::7]:52000") || string(m.Body) != "world" {
			t.Fatalf("message 2: born %v, body %q, %v", m.BornHost, m.Body, err)
		}
	}
}

// TestGoldenWriter: the Writer, given the same messages, writes the
// golden directory byte for byte.
func TestGoldenWriter(t *testing.T) {
	dir := t.TempDir()
	w, err := classic.NewWriter(dir, goldenFileSize)
	if err != nil {
		t.Fatal(err)
	}
	w.SetQueueOffset("TopicB", 2, 7)
	msgs := []struct {
		queueID           int32
		phys              int64
		born              string
		body, topic, prop string
	}{
		{0, 0, "192.168.0.7:51234", "hello", "TopicA", "TAGS\x01TagA\x02KEYS\x01k1\x02"},
		{0, 120, "192.168.0.7:51234", string(bytes.Repeat([]byte("0123456789"), 20)), "TopicA",
			"TAGS\x01TagB\x02UNIQ_KEY\x01C0A80007A1B218B4AAC25E2F8D4B0000\x02"},
		{2, 512, "[2001:db8::7]:52000", "world", "TopicB", "KEYS\x01order-1\x02"},
	}
	for _, m := range msgs {
		cm := commitlog.Message{QueueID: m.queueID, BornTimestamp: 1700000000000 + m.phys, BornHost: netip.MustParseAddrPort(m.born),
			StoreTimestamp: 1700000000100 + m.phys, StoreHost: netip.MustParseAddrPort("10.175.8.149:10911"),
			Body: []byte(m.body), Topic: []byte(m.topic), Properties: []byte(m.prop)}
		if phys, err := w.Append(&cm); err != nil || phys != m.phys {
			t.Fatalf("Append: %d, %v; want %d", phys, err, m.phys)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for name, want := range goldenFiles() {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("the Writer's %s:\n got %x\nwant %x", name, got, want)
		}
	}
}
