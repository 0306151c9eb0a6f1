package rocketmq

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqlog/rmqlog/commitlog"
)

// The store hosts and offsets of the client's own message id tests
// (primitive/message_test.go), with the ids those tests decode.
var (
	store4  = netip.MustParseAddrPort("10.175.8.149:30911")
	id4     = "0AAF0895000078BF000000000009BB4A" // at offset 637770
	store6  = netip.MustParseAddrPort("[fdbd:dc41:1:136:c800::24]:30911")
	id6     = "FDBDDC4100010136C800000000000024000078BF0000000000004F45" // at offset 20293
	born4   = netip.MustParseAddrPort("192.168.0.7:51234")
	born6   = netip.MustParseAddrPort("[2001:db8::7]:52000")
	uniqKey = "C0A80007A1B218B4AAC25E2F8D4B0000"
)

// compatCase is one message and what the client must decode it to, where
// that is written out here rather than derived: the hosts as the client
// prints them ("ip:port", IPv6 without brackets), the ids, the body after
// the client's decompression.
type compatCase struct {
	name        string
	m           commitlog.Message
	bornHost    string
	storeHost   string
	offsetMsgID string
	msgID       string
	body        []byte // nil: m.Body
}

func props(t *testing.T, kv ...string) []byte {
	t.Helper()
	var ps []commitlog.Property
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, commitlog.Property{Name: kv[i], Value: kv[i+1]})
	}
	b, err := commitlog.AppendProperties(nil, ps...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func zlibbed(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	w := zlib.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func compatCases(t *testing.T) []compatCase {
	base := commitlog.Message{
		QueueID: 3, Flag: 5, QueueOffset: 42, PhysicalOffset: 637770, BornTimestamp: 1700000000000,
		BornHost: born4, StoreTimestamp: 1700000000123, StoreHost: store4,
		Body: []byte("hello rocketmq"), Topic: []byte("TopicTest"),
		Properties: props(t, primitive.PropertyUniqueClientMessageIdKeyIndex, uniqKey,
			primitive.PropertyTags, "TagA", primitive.PropertyKeys, "order-1 order-2", primitive.PropertyWaitStoreMsgOk, "true"),
	}
	with := func(edit func(m *commitlog.Message)) commitlog.Message {
		m := base
		edit(&m)
		return m
	}
	long := strings.Repeat("t", 127)
	return []compatCase{
		{name: "IPv4 hosts, UNIQ_KEY TAGS KEYS", m: base,
			bornHost: "192.168.0.7:51234", storeHost: "10.175.8.149:30911", offsetMsgID: id4, msgID: uniqKey},
		{name: "IPv6 hosts", m: with(func(m *commitlog.Message) { m.BornHost, m.StoreHost, m.PhysicalOffset = born6, store6, 20293 }),
			bornHost: "2001:db8::7:52000", storeHost: "fdbd:dc41:1:136:c800::24:30911", offsetMsgID: id6, msgID: uniqKey},
		{name: "IPv6 born, IPv4 store", m: with(func(m *commitlog.Message) { m.BornHost = born6 }),
			bornHost: "2001:db8::7:52000", storeHost: "10.175.8.149:30911", offsetMsgID: id4, msgID: uniqKey},
		{name: "IPv4 born, IPv6 store", m: with(func(m *commitlog.Message) { m.StoreHost, m.PhysicalOffset = store6, 20293 }),
			bornHost: "192.168.0.7:51234", storeHost: "fdbd:dc41:1:136:c800::24:30911", offsetMsgID: id6, msgID: uniqKey},
		{name: "no properties: the message id is the offset id", m: with(func(m *commitlog.Message) { m.Properties = nil }),
			bornHost: "192.168.0.7:51234", storeHost: "10.175.8.149:30911", offsetMsgID: id4, msgID: id4},
		{name: "empty body", m: with(func(m *commitlog.Message) { m.Body = nil }),
			bornHost: "192.168.0.7:51234", storeHost: "10.175.8.149:30911", offsetMsgID: id4, msgID: uniqKey},
		{name: "unicode topic and tag", m: with(func(m *commitlog.Message) {
			m.Topic = []byte("主题-テスト")
			m.Properties = props(t, primitive.PropertyTags, "标签", primitive.PropertyKeys, "ключ")
		}), bornHost: "192.168.0.7:51234", storeHost: "10.175.8.149:30911", offsetMsgID: id4, msgID: id4},
		{name: "127-byte topic (the longest v1), retry properties", m: with(func(m *commitlog.Message) {
			m.Topic, m.ReconsumeTimes, m.QueueOffset = []byte(long), 3, 1<<40
			m.Properties = props(t, primitive.PropertyRetryTopic, "TopicTest", primitive.PropertyRealTopic, "TopicTest",
				primitive.PropertyRealQueueId, "3", primitive.PropertyDelayTimeLevel, "4", primitive.PropertyUniqueClientMessageIdKeyIndex, uniqKey)
		}), bornHost: "192.168.0.7:51234", storeHost: "10.175.8.149:30911", offsetMsgID: id4, msgID: uniqKey},
		{name: "zlib-compressed body, flag and reconsume set", m: with(func(m *commitlog.Message) {
			m.Body, m.SysFlag, m.Flag, m.ReconsumeTimes = zlibbed(t, []byte("squeeze me, squeeze me")), commitlog.FlagCompressed, -7, 16
		}), bornHost: "192.168.0.7:51234", storeHost: "10.175.8.149:30911", offsetMsgID: id4, msgID: uniqKey,
			body: []byte("squeeze me, squeeze me")},
	}
}

// check compares what the client decoded with what was encoded, size bytes.
func check(t *testing.T, got *primitive.MessageExt, tc compatCase, size int) {
	t.Helper()
	m := tc.m
	body := tc.body
	if body == nil {
		body = m.Body
	}
	wantProps := commitlog.PropertyMap(m.Properties)
	var bad []string
	f := func(field string, g, w any) {
		if fmt.Sprint(g) != fmt.Sprint(w) {
			bad = append(bad, fmt.Sprintf("%s: client %v, want %v", field, g, w))
		}
	}
	f("Topic", got.Topic, string(m.Topic))
	f("Body", fmt.Sprintf("%q", got.Body), fmt.Sprintf("%q", body))
	f("Tags", got.GetTags(), wantProps["TAGS"])
	f("Keys", got.GetKeys(), wantProps["KEYS"])
	if !maps.Equal(got.GetProperties(), wantProps) {
		bad = append(bad, fmt.Sprintf("properties: client %v, want %v", got.GetProperties(), wantProps))
	}
	f("QueueId", got.Queue.QueueId, m.QueueID)
	f("QueueOffset", got.QueueOffset, m.QueueOffset)
	f("CommitLogOffset", got.CommitLogOffset, m.PhysicalOffset)
	f("BornTimestamp", got.BornTimestamp, m.BornTimestamp)
	f("StoreTimestamp", got.StoreTimestamp, m.StoreTimestamp)
	f("BornHost", got.BornHost, tc.bornHost)
	f("StoreHost", got.StoreHost, tc.storeHost)
	f("ReconsumeTimes", got.ReconsumeTimes, m.ReconsumeTimes)
	f("Flag", got.Flag, m.Flag)
	f("SysFlag", got.SysFlag, m.SysFlag)
	f("BodyCRC", uint32(got.BodyCRC), m.BodyCRC)
	f("StoreSize", got.StoreSize, size)
	f("PreparedTransactionOffset", got.PreparedTransactionOffset, m.PreparedTransactionOffset)
	f("OffsetMsgId", got.OffsetMsgId, tc.offsetMsgID)
	f("OffsetMsgId vs commitlog.MessageID", got.OffsetMsgId, commitlog.MessageID(m.StoreHost, m.PhysicalOffset))
	f("MsgId", got.MsgId, tc.msgID)
	if len(bad) > 0 {
		t.Errorf("%s:\n%s", tc.name, strings.Join(bad, "\n"))
	}
}

// TestClientDecodesOurMessages: each message commitlog.Encode writes,
// alone, decodes with the client's primitive.DecodeMessage to what was
// encoded.
func TestClientDecodesOurMessages(t *testing.T) {
	for _, tc := range compatCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			b, err := commitlog.Encode(nil, &tc.m, commitlog.DefaultMaxBody)
			if err != nil {
				t.Fatal(err)
			}
			got := primitive.DecodeMessage(b)
			if len(got) != 1 {
				t.Fatalf("the client decoded %d messages from one", len(got))
			}
			check(t, got[0], tc, len(b))
		})
	}
}

// TestClientDecodesBackToBack: the same messages laid back to back, as a
// pull answer and a batch entry hold them, each with the offsets a broker
// writes in place at commit time (commitlog.SetOffsets).
func TestClientDecodesBackToBack(t *testing.T) {
	cases := compatCases(t)
	var b []byte
	var sizes []int
	for i := range cases {
		tc := &cases[i]
		start := len(b)
		var err error
		if b, err = commitlog.Encode(b, &tc.m, commitlog.DefaultMaxBody); err != nil {
			t.Fatal(err)
		}
		tc.m.QueueOffset = 100 + int64(i)
		commitlog.SetOffsets(b[start:], tc.m.QueueOffset, tc.m.PhysicalOffset)
		sizes = append(sizes, len(b)-start)
	}
	got := primitive.DecodeMessage(b)
	if len(got) != len(cases) {
		t.Fatalf("the client decoded %d messages from %d", len(got), len(cases))
	}
	for i, tc := range cases {
		check(t, got[i], tc, sizes[i])
	}
}

// TestClientHasNoCommitLogEncoder pins what the client's only message
// encoder, Message.Marshal (used by producer.MarshalMessageBatch), writes:
// the inner layout of a batch send (MessageDecoder.encodeMessage: total
// size, magic 0, body CRC 0, flag, body, properties), not a stored
// message. So there is no client-encoded CommitLog message to decode; this
// layout is what the broker will read from a batch send (issue 16).
func TestClientHasNoCommitLogEncoder(t *testing.T) {
	msg := primitive.NewMessage("TopicTest", []byte("body"))
	msg.WithTag("TagA")
	b := msg.Marshal()
	if _, _, err := commitlog.Decode(b); !errors.Is(err, commitlog.ErrMagic) {
		t.Fatalf("commitlog.Decode of the client's Marshal: %v, want ErrMagic", err)
	}
	want := []byte{0, 0, 0, 36, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 'b', 'o', 'd', 'y', 0, 10}
	want = append(want, "TAGS\x01TagA\x02"...)
	if !bytes.Equal(b, want) {
		t.Fatalf("Marshal = %q, want the batch inner layout %q", b, want)
	}
}

// TestClientReadsOnlyV1 pins a limit of the client: it ignores the magic
// code and reads a 1-byte topic length, so a v2 message (a topic over 127
// bytes, which only retry and DLQ topics can have) comes back with the
// wrong topic. commitlog writes v1 for every shorter topic.
func TestClientReadsOnlyV1(t *testing.T) {
	m := commitlog.Message{BornHost: born4, StoreHost: store4, Body: []byte("x"),
		Topic: []byte("%RETRY%" + strings.Repeat("g", 130))}
	b, err := commitlog.Encode(nil, &m, 10)
	if err != nil || m.Version != commitlog.V2 {
		t.Fatalf("Encode: version %d, %v", m.Version, err)
	}
	if got := primitive.DecodeMessage(b); len(got) > 0 && got[0].Topic == string(m.Topic) {
		t.Fatal("the client read a v2 topic: the limit is gone, see commitlog/doc.go")
	}
}
