package commitlog_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/rmqlog/rmqlog/commitlog"
)

// golden builds, field by field from the layout in doc.go and without the
// package's encoder, a v1 message with IPv4 hosts: the bytes a RocketMQ
// broker stores for it. Its message id comes from the Go client's own test
// (primitive/message_test.go: 10.175.8.149:30911 at offset 637770).
func golden() []byte {
	var b []byte
	u32 := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	u64 := func(v uint64) { b = binary.BigEndian.AppendUint64(b, v) }
	body := []byte("123456789")
	topic := []byte("TopicTest")
	props := []byte("TAGS\x01TagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01C0A8000700002A9F00000000000001\x02")
	u32(uint32(91 + len(body) + len(topic) + len(props))) //  0 total size
	u32(0xDAA320A7)                                       //  4 magic v1
	u32(0xCBF43926 & 0x7FFFFFFF)                          //  8 CRC-32/IEEE("123456789") = 0xCBF43926, top bit cleared
	u32(3)                                                // 12 queue id
	u32(7)                                                // 16 flag
	u64(42)                                               // 20 queue offset
	u64(637770)                                           // 28 physical offset
	u32(0)                                                // 36 sys flag: IPv4 hosts, no transaction
	u64(1700000000000)                                    // 40 born timestamp
	b = append(b, 192, 168, 0, 7)                         // 48 born IP
	u32(51234)                                            // 52 born port
	u64(1700000000123)                                    // 56 store timestamp
	b = append(b, 10, 175, 8, 149)                        // 64 store IP
	u32(30911)                                            // 68 store port
	u32(2)                                                // 72 reconsume times
	u64(0)                                                // 76 prepared transaction offset
	u32(uint32(len(body)))                                // 84 body length
	b = append(b, body...)                                // 88 body
	b = append(b, byte(len(topic)))                       // topic length, 1 byte in v1
	b = append(b, topic...)                               // topic
	b = binary.BigEndian.AppendUint16(b, uint16(len(props)))
	return append(b, props...)
}

// goldenMessage is the message golden() holds.
func goldenMessage() commitlog.Message {
	return commitlog.Message{
		QueueID: 3, Flag: 7, QueueOffset: 42, PhysicalOffset: 637770,
		BornTimestamp: 1700000000000, BornHost: netip.MustParseAddrPort("192.168.0.7:51234"),
		StoreTimestamp: 1700000000123, StoreHost: netip.MustParseAddrPort("10.175.8.149:30911"),
		ReconsumeTimes: 2, Body: []byte("123456789"), Topic: []byte("TopicTest"),
		Properties: []byte("TAGS\x01TagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01C0A8000700002A9F00000000000001\x02"),
	}
}

func TestGoldenEncode(t *testing.T) {
	m := goldenMessage()
	got, err := commitlog.Encode(nil, &m, commitlog.DefaultMaxBody)
	if err != nil {
		t.Fatal(err)
	}
	if want := golden(); !bytes.Equal(got, want) {
		t.Fatalf("Encode:\n got %x\nwant %x", got, want)
	}
	if m.Version != commitlog.V1 || m.BodyCRC != 0x4BF43926 || m.SysFlag != 0 {
		t.Fatalf("Encode set version %d, body CRC %08x, sys flag %x; want 1, 4bf43926, 0", m.Version, m.BodyCRC, m.SysFlag)
	}
}

func TestGoldenDecode(t *testing.T) {
	b := append(golden(), 0xEE) // a byte of the next message
	m, n, err := commitlog.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(b)-1 {
		t.Fatalf("Decode consumed %d bytes, the message has %d", n, len(b)-1)
	}
	want := goldenMessage()
	want.Version, want.BodyCRC = commitlog.V1, 0x4BF43926
	if d := diff(m, want); d != "" {
		t.Fatal(d)
	}
	if err := m.VerifyBody(); err != nil {
		t.Fatal(err)
	}
	if id := commitlog.MessageID(m.StoreHost, m.PhysicalOffset); id != "0AAF0895000078BF000000000009BB4A" {
		t.Fatalf("message id %s", id)
	}
	h, err := commitlog.Peek(b)
	if err != nil {
		t.Fatal(err)
	}
	// "TagA".hashCode() in Java: ((84*31+97)*31+103)*31+65.
	if h.Size != n || h.QueueID != 3 || h.QueueOffset != 42 || h.PhysicalOffset != 637770 ||
		h.StoreTimestamp != 1700000000123 || string(h.Topic) != "TopicTest" || h.TagsCode() != 2598919 {
		t.Fatalf("Peek = %+v, tags code %d", h, h.TagsCode())
	}
}

// TestGoldenIPv6 builds a v2 message with IPv6 hosts field by field: the
// born host moves the store timestamp 12 bytes later, the store host the
// reconsume times another 12, and the topic length takes 2 bytes.
func TestGoldenIPv6(t *testing.T) {
	topic := bytes.Repeat([]byte("r"), 200)
	var b []byte
	u32 := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	u64 := func(v uint64) { b = binary.BigEndian.AppendUint64(b, v) }
	u32(uint32(91 + 12 + 12 + 1 + len(topic))) // total: empty body and properties
	u32(0xDAA320AB)                            // magic v2
	u32(0)                                     // CRC-32 of nothing
	u32(0)                                     // queue id
	u32(0)                                     // flag
	u64(1)                                     // queue offset
	u64(2)                                     // physical offset
	u32(0x30 | 0x4)                            // sys flag: both hosts IPv6, transaction prepared
	u64(3)                                     // born timestamp
	b = append(b, netip.MustParseAddr("fdbd:dc41:1:136:c800::24").AsSlice()...)
	u32(30911)
	u64(4) // store timestamp, at 48+20
	b = append(b, netip.MustParseAddr("::1").AsSlice()...)
	u32(10911)
	u32(5)                                    // reconsume times
	u64(6)                                    // prepared transaction offset
	u32(0)                                    // body length
	b = binary.BigEndian.AppendUint16(b, 200) // topic length, 2 bytes in v2
	b = append(b, topic...)                   // topic
	b = binary.BigEndian.AppendUint16(b, 0)   // properties length
	m := commitlog.Message{
		QueueOffset: 1, PhysicalOffset: 2, SysFlag: commitlog.TransactionPrepared, BornTimestamp: 3,
		BornHost:       netip.MustParseAddrPort("[fdbd:dc41:1:136:c800::24]:30911"),
		StoreTimestamp: 4, StoreHost: netip.MustParseAddrPort("[::1]:10911"),
		ReconsumeTimes: 5, PreparedTransactionOffset: 6, Topic: topic,
	}
	got, err := commitlog.Encode(nil, &m, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b) {
		t.Fatalf("Encode:\n got %x\nwant %x", got, b)
	}
	d, _, err := commitlog.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if s := diff(d, m); s != "" {
		t.Fatal(s)
	}
	if id := commitlog.MessageID(d.StoreHost, d.PhysicalOffset); id != "00000000000000000000000000000001"+"00002A9F"+"0000000000000002" {
		t.Fatalf("IPv6 message id %s", id)
	}
}
