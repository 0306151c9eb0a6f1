package remoting_test

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/remoting"
)

// extFieldsHeader is a header of ser with n extFields entries written by
// hand, not by the encoder: keys the numbers 0..n-1 in base 36, values
// empty, the densest a header holds (6 bytes an entry beside the key in
// both forms: "k":"", and key length, key, value length 0). pad adds one
// more entry whose value is pad bytes of 'x'.
func extFieldsHeader(ser byte, n, pad int) []byte {
	var b []byte
	if ser == 0 {
		b = append(b, `{"code":30,"extFields":{`...)
	} else {
		b = rmqHeader(u32(0), u32(0)) // the extFields length is set below
	}
	at := len(b)
	for i := range n + min(pad, 1) {
		k := strconv.FormatInt(int64(i), 36)
		v := ""
		if i == n {
			k, v = "pad", strings.Repeat("x", pad)
		}
		if ser == 0 {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(append(append(append(b, '"'), k...), `":"`...), v...)
			b = append(b, '"')
			continue
		}
		b = append(append(append(append(b, u16(len(k))...), k...), u32(len(v))...), v...)
	}
	if ser == 0 {
		return append(b, "}}"...)
	}
	copy(b[at-4:], u32(len(b)-at))
	return b
}

// sizedHeader is a header of ser with n entries, padded to size bytes.
func sizedHeader(t *testing.T, ser byte, n, size int) []byte {
	pad := size - len(extFieldsHeader(ser, n, 1)) + 1
	h := extFieldsHeader(ser, n, pad)
	if len(h) != size {
		t.Fatalf("a %d-byte header, want %d", len(h), size)
	}
	return h
}

// cutLastEntry cuts the last byte of a ROCKETMQ header's extFields.
func cutLastEntry(h []byte) []byte {
	h = h[:len(h)-1]
	copy(h[17:], u32(len(h)-21)) // the extFields length, after 13 bytes of fields and an empty remark
	return h
}

// densest is about as many entries as a header of MaxHeaderLength holds.
const densest = remoting.MaxHeaderLength / 10

// TestHeaderLimits: a header at MaxHeaderLength and MaxExtFields decodes;
// one over either is refused with its error, in both forms, on the fast
// JSON path and on encoding/json's.
func TestHeaderLimits(t *testing.T) {
	const max = remoting.MaxExtFields
	json := func(s string) []byte { return []byte(s) }
	members := func(n int) string { return strings.Repeat(`"k":"v",`, n-1) + `"k":"v"` }
	for _, tc := range []struct {
		name    string
		ser     byte
		header  []byte
		want    error
		entries int // of the command decoded
	}{
		{"JSON: MaxExtFields entries", 0, extFieldsHeader(0, max, 0), nil, max},
		{"ROCKETMQ: MaxExtFields entries", 1, extFieldsHeader(1, max, 0), nil, max},
		{"JSON: MaxHeaderLength bytes", 0, sizedHeader(t, 0, max-1, remoting.MaxHeaderLength), nil, max},
		{"ROCKETMQ: MaxHeaderLength bytes", 1, sizedHeader(t, 1, max-1, remoting.MaxHeaderLength), nil, max},
		{"JSON: encoding/json's path, MaxExtFields entries", 0,
			json(`{"language":null,"extFields":{` + members(max) + `}}`), nil, 1},

		{"JSON: one entry over", 0, extFieldsHeader(0, max+1, 0), remoting.ErrTooManyExtFields, 0},
		{"ROCKETMQ: one entry over", 1, extFieldsHeader(1, max+1, 0), remoting.ErrTooManyExtFields, 0},
		{"JSON: as many as MaxHeaderLength holds", 0, extFieldsHeader(0, densest, 0), remoting.ErrTooManyExtFields, 0},
		{"ROCKETMQ: as many as MaxHeaderLength holds", 1, extFieldsHeader(1, densest, 0), remoting.ErrTooManyExtFields, 0},
		{"JSON: encoding/json's path, one over", 0,
			json(`{"language":null,"extFields":{` + members(max+1) + `}}`), remoting.ErrTooManyExtFields, 0},
		{"JSON: repeated extFields, counted together", 0,
			json(`{"extFields":{` + members(max/2+1) + `},"EXTFIELDS":{` + members(max/2) + `}}`),
			remoting.ErrTooManyExtFields, 0},
		{"JSON: nested values count once", 0,
			json(`{"language":null,"extFields":{"k":{` + members(max+1) + `},"l":"v"}}`), remoting.ErrBadJSON, 0},
		{"ROCKETMQ: an entry over, cut short", 1, cutLastEntry(extFieldsHeader(1, max+1, 0)), remoting.ErrTooManyExtFields, 0},

		{"JSON: one byte over MaxHeaderLength", 0, sizedHeader(t, 0, 1, remoting.MaxHeaderLength+1),
			remoting.ErrHeaderTooLarge, 0},
		{"ROCKETMQ: one byte over MaxHeaderLength", 1, sizedHeader(t, 1, 1, remoting.MaxHeaderLength+1),
			remoting.ErrHeaderTooLarge, 0},
		{"JSON: 10^6 entries", 0, extFieldsHeader(0, 1_000_000, 0), remoting.ErrHeaderTooLarge, 0},
		{"ROCKETMQ: 10^6 entries", 1, extFieldsHeader(1, 1_000_000, 0), remoting.ErrHeaderTooLarge, 0},
	} {
		cmd, _, err := remoting.Decode(frame(tc.ser, tc.header, []byte("body")))
		if tc.want == nil {
			if err != nil || len(cmd.ExtFields) != tc.entries {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, tc.want) || cmd != nil {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			continue
		}
		for _, other := range decodeErrors {
			if other != tc.want && errors.Is(err, other) {
				t.Errorf("%s: %v is also %v", tc.name, err, other)
			}
		}
	}
}

// TestHeaderLimitErrorsSay: a refusal names the limit and where it was
// passed.
func TestHeaderLimitErrorsSay(t *testing.T) {
	for _, tc := range []struct {
		frame []byte
		want  string
	}{
		// 21 bytes before the extFields, 36 entries of one-letter keys, 220 of two
		{frame(1, extFieldsHeader(1, 300, 0), nil), "remoting: too many extFields: entry 256 at offset 2033 " +
			"of the ROCKETMQ header, the limit is 256 entries (remoting.MaxExtFields)"},
		{frame(0, extFieldsHeader(0, 300, 0), nil),
			"remoting: too many extFields: more than 256 entries in the JSON header's extFields (remoting.MaxExtFields)"},
		{frame(0, sizedHeader(t, 0, 0, 2<<20), nil),
			"remoting: header too large: a 2097152-byte JSON header, the limit is 1048576 bytes (remoting.MaxHeaderLength)"},
	} {
		if _, _, err := remoting.Decode(tc.frame); err == nil || err.Error() != tc.want {
			t.Errorf("error\n%v\nwant\n%s", err, tc.want)
		}
	}
}

// TestHeaderLimitsBoundAllocation: refusing a header of as many entries as
// MaxHeaderLength holds costs a few KiB, not the tens of MB its entries
// would take as a map (10.8 MB for 10^5 before the limits,
// BenchmarkDecodeExtFields). Bytes, not time: the machine may be busy.
func TestHeaderLimitsBoundAllocation(t *testing.T) {
	for _, ser := range []byte{0, 1} {
		f := frame(ser, extFieldsHeader(ser, densest, 0), nil)
		var err error
		n := allocated(func() { _, _, err = remoting.Decode(f) })
		t.Logf("%v: %d entries in %d bytes: %d bytes allocated", remoting.SerializeType(ser), densest, len(f), n)
		// The fast JSON path holds up to MaxExtFields entries before it
		// declines: about 40 KiB.
		if bound := uint64(64 << 10); n > bound {
			t.Errorf("%v: refusing %d entries allocated %d bytes, more than %d", remoting.SerializeType(ser), densest, n, bound)
		}
		if !errors.Is(err, remoting.ErrTooManyExtFields) {
			t.Errorf("%v: %v", remoting.SerializeType(ser), err)
		}
	}
}

// allocated returns the bytes f allocates, the least of a few runs (a
// runtime goroutine may allocate meanwhile).
func allocated(f func()) uint64 {
	var least uint64
	for i := range 5 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; i == 0 || n < least {
			least = n
		}
	}
	return least
}

// TestLimitsFitClients: the largest requests rocketmq-client-go sends
// (internal/request.go, with the ACL hook's three entries), and a message
// with the most properties and the longest topic a broker stores, all
// escaped in JSON, fit the limits with a wide margin: at most an eighth
// of MaxExtFields, at most half of MaxHeaderLength.
func TestLimitsFitClients(t *testing.T) {
	acl := []string{"AccessKey", "rocketmq2", "Signature", "6nI0DoPqtVSV1FLIrnhydeV1sDE=", "SecurityToken", ""}
	props := "UNIQ_KEY\x01AC110001000018B4AAC2A4D7F10000\x02WAIT\x01true\x02TAGS\x01TagA\x02KEYS\x01order-42\x02"
	maxProps := strings.Repeat("\x01", 32767) // commitlog.MaxProperties, each byte a \u0001 in JSON
	maxTopic := strings.Repeat("\x02", 32767) // commitlog.MaxTopicV2
	send := func(topic, props string) []string {
		return []string{"producerGroup", "please_rename_unique_group_name", "topic", topic, "queueId", "3",
			"sysFlag", "0", "bornTimestamp", "1700000000000", "flag", "0", "reconsumeTimes", "0", "unitMode", "false",
			"maxReconsumeTimes", "16", "defaultTopic", "TBW102", "defaultTopicQueueNums", "4", "batch", "false",
			"properties", props, "bname", "broker-a"}
	}
	v2 := func(topic, props string) []string {
		return []string{"a", "please_rename_unique_group_name", "b", topic, "c", "TBW102", "d", "4", "e", "3",
			"f", "0", "g", "1700000000000", "h", "0", "i", props, "j", "0", "k", "false", "l", "16", "m", "false",
			"n", "broker-a"}
	}
	pull := []string{"consumerGroup", "please_rename_unique_group_name", "topic", "TopicTest", "queueId", "3",
		"queueOffset", "1234567", "maxMsgNums", "32", "sysFlag", "6", "commitOffset", "1234500",
		"suspendTimeoutMillis", "20000", "subscription", "TagA || TagB", "subVersion", "1700000000000",
		"expressionType", "TAG", "bname", "broker-a"}
	for _, tc := range []struct {
		name string
		code remoting.RequestCode
		kv   []string
	}{
		{"SEND_MESSAGE_V2", remoting.SendMessageV2, append(v2("TopicTest", props), acl...)},
		{"SEND_MESSAGE", remoting.SendMessage, append(send("TopicTest", props), acl...)},
		{"PULL_MESSAGE", remoting.PullMessage, append(pull, acl...)},
		{"SEND_MESSAGE_V2, the most a broker stores", remoting.SendMessageV2, append(v2(maxTopic, maxProps), acl...)},
		{"SEND_MESSAGE, the most a broker stores", remoting.SendMessage, append(send(maxTopic, maxProps), acl...)},
	} {
		for _, ser := range []remoting.SerializeType{remoting.SerializeJSON, remoting.SerializeRocketMQ} {
			ext := map[string]string{}
			for i := 0; i < len(tc.kv); i += 2 {
				ext[tc.kv[i]] = tc.kv[i+1]
			}
			c := remoting.NewRequest(tc.code, ext, nil)
			c.Serialize = ser
			hdr, err := c.AppendHeader(nil)
			if err != nil {
				t.Fatal(err)
			}
			hlen := len(hdr) - 8
			t.Logf("%s, %v: %d entries, a %d-byte header", tc.name, ser, len(ext), hlen)
			if len(ext) > remoting.MaxExtFields/8 || hlen > remoting.MaxHeaderLength/2 {
				t.Errorf("%s, %v: %d entries, a %d-byte header: too near the limits", tc.name, ser, len(ext), hlen)
			}
			if _, _, err := remoting.Decode(hdr); err != nil {
				t.Errorf("%s, %v: %v", tc.name, ser, err)
			}
		}
	}
}
