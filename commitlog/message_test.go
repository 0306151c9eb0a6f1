package commitlog_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/commitlog"
)

// diff describes how two messages differ, field by field ("" if equal).
func diff(got, want commitlog.Message) string {
	var d []string
	f := func(name string, g, w any) {
		if fmt.Sprint(g) != fmt.Sprint(w) {
			d = append(d, fmt.Sprintf("%s: got %v, want %v", name, g, w))
		}
	}
	f("Version", got.Version, want.Version)
	f("BodyCRC", got.BodyCRC, want.BodyCRC)
	f("QueueID", got.QueueID, want.QueueID)
	f("Flag", got.Flag, want.Flag)
	f("QueueOffset", got.QueueOffset, want.QueueOffset)
	f("PhysicalOffset", got.PhysicalOffset, want.PhysicalOffset)
	f("SysFlag", got.SysFlag, want.SysFlag)
	f("BornTimestamp", got.BornTimestamp, want.BornTimestamp)
	f("BornHost", got.BornHost, want.BornHost)
	f("StoreTimestamp", got.StoreTimestamp, want.StoreTimestamp)
	f("StoreHost", got.StoreHost, want.StoreHost)
	f("ReconsumeTimes", got.ReconsumeTimes, want.ReconsumeTimes)
	f("PreparedTransactionOffset", got.PreparedTransactionOffset, want.PreparedTransactionOffset)
	f("Body", fmt.Sprintf("%q", got.Body), fmt.Sprintf("%q", want.Body))
	f("Topic", fmt.Sprintf("%q", got.Topic), fmt.Sprintf("%q", want.Topic))
	f("Properties", fmt.Sprintf("%q", got.Properties), fmt.Sprintf("%q", want.Properties))
	return strings.Join(d, "\n")
}

var (
	v4a = netip.MustParseAddrPort("10.0.0.1:51000")
	v4b = netip.MustParseAddrPort("192.168.1.20:10911")
	v6a = netip.MustParseAddrPort("[2001:db8::7]:52000")
	v6b = netip.MustParseAddrPort("[fe80::1:2:3:4]:10911")
	// v4in6 is an IPv4-mapped IPv6 address: stored as 16 bytes, and so
	// decoded as IPv6 again.
	v4in6 = netip.MustParseAddrPort("[::ffff:10.0.0.9]:1")
)

func mustProps(t testing.TB, props ...commitlog.Property) []byte {
	t.Helper()
	b, err := commitlog.AppendProperties(nil, props...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	const maxBody = 1 << 16
	props := mustProps(t, commitlog.Property{Name: "TAGS", Value: "TagA"},
		commitlog.Property{Name: "KEYS", Value: "k1 k2"}, commitlog.Property{Name: "UNIQ_KEY", Value: "AC11000100002A9F0000000000000001"})
	full := commitlog.Message{QueueID: 15, Flag: -1, QueueOffset: 1 << 40, PhysicalOffset: 1<<62 + 3,
		SysFlag: commitlog.FlagMultiTags | commitlog.TransactionCommit, BornTimestamp: -1, StoreTimestamp: 1 << 50,
		ReconsumeTimes: 16, PreparedTransactionOffset: 77, Body: []byte("hello"), Topic: []byte("T"), Properties: props}
	with := func(edit func(m *commitlog.Message)) commitlog.Message {
		m := full
		m.BornHost, m.StoreHost = v4a, v4b
		edit(&m)
		return m
	}
	for _, tc := range []struct {
		name    string
		m       commitlog.Message
		version commitlog.Version
	}{
		{"IPv4 hosts", with(func(m *commitlog.Message) {}), commitlog.V1},
		{"IPv6 hosts", with(func(m *commitlog.Message) { m.BornHost, m.StoreHost = v6a, v6b }), commitlog.V1},
		{"IPv6 born, IPv4 store", with(func(m *commitlog.Message) { m.BornHost = v6a }), commitlog.V1},
		{"IPv4 born, IPv6 store", with(func(m *commitlog.Message) { m.StoreHost = v6b }), commitlog.V1},
		{"IPv4-mapped IPv6 host", with(func(m *commitlog.Message) { m.StoreHost = v4in6 }), commitlog.V1},
		{"empty body", with(func(m *commitlog.Message) { m.Body = nil }), commitlog.V1},
		{"empty properties", with(func(m *commitlog.Message) { m.Properties = nil }), commitlog.V1},
		{"empty topic", with(func(m *commitlog.Message) { m.Topic = nil }), commitlog.V1},
		{"all empty", with(func(m *commitlog.Message) { m.Body, m.Topic, m.Properties = nil, nil, nil }), commitlog.V1},
		{"unicode topic", with(func(m *commitlog.Message) { m.Topic = []byte("主题-テスト-😀") }), commitlog.V1},
		{"unicode properties", with(func(m *commitlog.Message) {
			m.Properties = mustProps(t, commitlog.Property{Name: "TAGS", Value: "标签"}, commitlog.Property{Name: "ключ", Value: "😀"})
		}), commitlog.V1},
		{"topic 127 bytes, v1", with(func(m *commitlog.Message) { m.Topic = bytes.Repeat([]byte("a"), 127) }), commitlog.V1},
		{"topic 128 bytes, v2", with(func(m *commitlog.Message) { m.Topic = bytes.Repeat([]byte("a"), 128) }), commitlog.V2},
		{"unicode topic 130 bytes in 44 runes, v2", with(func(m *commitlog.Message) {
			m.Topic = []byte(strings.Repeat("題", 43) + "x")
		}), commitlog.V2},
		{"topic 32767 bytes", with(func(m *commitlog.Message) { m.Topic = bytes.Repeat([]byte("b"), 32767) }), commitlog.V2},
		{"short topic, v2 asked", with(func(m *commitlog.Message) { m.Version = commitlog.V2 }), commitlog.V2},
		{"properties 32767 bytes", with(func(m *commitlog.Message) { m.Properties = bytes.Repeat([]byte("p"), 32767) }), commitlog.V1},
		{"body at the limit", with(func(m *commitlog.Message) { m.Body = bytes.Repeat([]byte{0xA5}, maxBody) }), commitlog.V1},
		{"compressed, prepared", with(func(m *commitlog.Message) {
			m.SysFlag = commitlog.FlagCompressed | commitlog.CompressionZstd | commitlog.TransactionPrepared
		}), commitlog.V1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m
			b, err := commitlog.Encode([]byte("prefix"), &m, maxBody)
			if err != nil {
				t.Fatal(err)
			}
			if string(b[:6]) != "prefix" || len(b)-6 != m.Size() {
				t.Fatalf("Encode appended %d bytes after the prefix, Size says %d", len(b)-6, m.Size())
			}
			if m.Version != tc.version {
				t.Fatalf("Encode wrote version %d, want %d", m.Version, tc.version)
			}
			got, n, err := commitlog.Decode(b[6:])
			if err != nil {
				t.Fatal(err)
			}
			if n != len(b)-6 {
				t.Fatalf("Decode consumed %d of %d bytes", n, len(b)-6)
			}
			if d := diff(got, m); d != "" {
				t.Fatal(d)
			}
			if err := got.VerifyBody(); err != nil {
				t.Fatal(err)
			}
			wantV6 := commitlog.SysFlag(0)
			if !tc.m.BornHost.Addr().Is4() {
				wantV6 |= commitlog.FlagBornHostV6
			}
			if !tc.m.StoreHost.Addr().Is4() {
				wantV6 |= commitlog.FlagStoreHostV6
			}
			if got.SysFlag&^(commitlog.FlagBornHostV6|commitlog.FlagStoreHostV6) != tc.m.SysFlag || got.SysFlag&0x30 != wantV6 {
				t.Fatalf("sys flag %x for %x with hosts %v, %v", got.SysFlag, tc.m.SysFlag, tc.m.BornHost, tc.m.StoreHost)
			}
			again, err := commitlog.Encode(nil, &got, maxBody)
			if err != nil || !bytes.Equal(again, b[6:]) {
				t.Fatalf("the decoded message encodes differently (%v)", err)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	ok := commitlog.Message{BornHost: v4a, StoreHost: v4b, Topic: []byte("T")}
	for _, tc := range []struct {
		name string
		edit func(m *commitlog.Message)
		want error
	}{
		{"topic over 127 bytes in v1", func(m *commitlog.Message) { m.Version, m.Topic = commitlog.V1, bytes.Repeat([]byte("t"), 128) }, commitlog.ErrTopicTooLong},
		{"topic over 32767 bytes", func(m *commitlog.Message) { m.Topic = bytes.Repeat([]byte("t"), 32768) }, commitlog.ErrTopicTooLong},
		{"properties over 32767 bytes", func(m *commitlog.Message) { m.Properties = bytes.Repeat([]byte("p"), 32768) }, commitlog.ErrPropertiesTooLong},
		{"body over the limit", func(m *commitlog.Message) { m.Body = make([]byte, 1001) }, commitlog.ErrBodyTooLarge},
		{"born host unset", func(m *commitlog.Message) { m.BornHost = netip.AddrPort{} }, commitlog.ErrHost},
		{"store host unset", func(m *commitlog.Message) { m.StoreHost = netip.AddrPort{} }, commitlog.ErrHost},
		{"store host with a zone", func(m *commitlog.Message) { m.StoreHost = netip.MustParseAddrPort("[fe80::1%eth0]:1") }, commitlog.ErrHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ok
			tc.edit(&m)
			dst := []byte("keep")
			out, err := commitlog.Encode(dst, &m, 1000)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Encode error %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "commitlog: ") || string(out) != "keep" {
				t.Fatalf("error %q, dst %q", err, out)
			}
		})
	}
}

// TestSetInPlace writes the offsets and the store timestamp into encoded
// bytes, as a broker does at commit time, for each born host size.
func TestSetInPlace(t *testing.T) {
	for _, born := range []netip.AddrPort{v4a, v6a} {
		m := commitlog.Message{BornHost: born, StoreHost: v6b, BornTimestamp: 11, StoreTimestamp: 22,
			ReconsumeTimes: 33, Body: []byte("x"), Topic: []byte("T")}
		b, err := commitlog.Encode(nil, &m, 10)
		if err != nil {
			t.Fatal(err)
		}
		commitlog.SetOffsets(b, 1234, 5678)
		commitlog.SetStoreTimestamp(b, 999)
		got, _, err := commitlog.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		m.QueueOffset, m.PhysicalOffset, m.StoreTimestamp = 1234, 5678, 999
		if d := diff(got, m); d != "" {
			t.Fatalf("born host %v: %s", born, d)
		}
	}
}

// TestBatch decodes messages laid back to back, as a batch entry or a pull
// answer holds them, walking by the sizes Decode returns.
func TestBatch(t *testing.T) {
	var b []byte
	var want []commitlog.Message
	for i, host := range []netip.AddrPort{v4a, v6a, v4b, v6b} {
		m := commitlog.Message{QueueID: int32(i), QueueOffset: int64(i), BornHost: host, StoreHost: v4b,
			Body: bytes.Repeat([]byte{byte(i)}, i*10), Topic: []byte(fmt.Sprintf("topic-%d", i))}
		var err error
		if b, err = commitlog.Encode(b, &m, 100); err != nil {
			t.Fatal(err)
		}
		commitlog.SetOffsets(b[len(b)-m.Size():], m.QueueOffset, int64(len(b)-m.Size()))
		m.PhysicalOffset = int64(len(b) - m.Size())
		want = append(want, m)
	}
	for i, off := 0, 0; off < len(b); i++ {
		m, n, err := commitlog.Decode(b[off:])
		if err != nil {
			t.Fatalf("message %d at %d: %v", i, off, err)
		}
		if d := diff(m, want[i]); d != "" {
			t.Fatalf("message %d: %s", i, d)
		}
		off += n
	}
}

func TestBodyAliases(t *testing.T) {
	m := goldenMessage()
	b, _ := commitlog.Encode(nil, &m, 100)
	d, _, _ := commitlog.Decode(b)
	if &d.Body[0] != &b[88] || cap(d.Body) != len(d.Body) || cap(d.Topic) != len(d.Topic) || cap(d.Properties) != len(d.Properties) {
		t.Fatal("Decode copied the body, or left capacity an append could overwrite")
	}
	if a := testing.AllocsPerRun(100, func() { _, _, _ = commitlog.Decode(b); _, _ = commitlog.Peek(b) }); a != 0 {
		t.Fatalf("Decode and Peek allocate %.0f times", a)
	}
}
