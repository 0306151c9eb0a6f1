package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/rmqlog/rmqlog/commitlog"
)

func TestRecordRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group string
		ups   []OffsetUpdate
	}{
		{"none", "g", nil},
		{"one", "group-1", []OffsetUpdate{{"TopicA", 3, 42}}},
		{"many", "%RETRY%g", []OffsetUpdate{{"a", 0, 0}, {"b", -1, -1}, {"", 7, 1 << 40}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodeOffsets(tc.group, tc.ups)
			if err != nil {
				t.Fatal(err)
			}
			if !IsRecord(b) {
				t.Fatal("not a record")
			}
			stampRecord(b, 12345)
			r, err := DecodeRecord(b)
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind != KindConsumerOffsets || r.Group != tc.group || r.Phys != 12345 || !reflect.DeepEqual(r.Offsets, tc.ups) {
				t.Fatalf("got %+v", r)
			}
		})
	}
	js := []byte(`{"topicName":"T","readQueueNums":4,"writeQueueNums":4,"perm":6}`)
	r, err := DecodeRecord(EncodeTopic(js))
	if err != nil || r.Kind != KindTopicConfig || !bytes.Equal(r.Topic, js) {
		t.Fatalf("topic record: %+v %v", r, err)
	}
}

// TestRecordMagicIsNoMessage: a record is never read as a message, nor a
// message as a record.
func TestRecordMagicIsNoMessage(t *testing.T) {
	for _, m := range []uint32{commitlog.MagicV1, commitlog.MagicV2, commitlog.BlankMagic} {
		if m == RecordMagic {
			t.Fatalf("RecordMagic %#x is a commitlog magic", m)
		}
	}
	b, _ := EncodeOffsets("g", nil)
	if _, err := commitlog.Peek(b); !errors.Is(err, commitlog.ErrMagic) {
		t.Fatalf("commitlog.Peek of a record: %v", err)
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	good, _ := EncodeOffsets("g", []OffsetUpdate{{"t", 1, 2}})
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for name, b := range map[string][]byte{
		"short":        good[:10],
		"size lies":    mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b, 999); return b }),
		"reserved":     mut(func(b []byte) []byte { b[18] = 1; return b }),
		"kind":         mut(func(b []byte) []byte { b[16] = 9; return b }),
		"count lies":   mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[23:], 1<<30); return b }),
		"trailing":     mut(func(b []byte) []byte { b = append(b, 0); binary.BigEndian.PutUint32(b, uint32(len(b))); return b }),
		"cut in entry": mut(func(b []byte) []byte { b = b[:len(b)-3]; binary.BigEndian.PutUint32(b, uint32(len(b))); return b }),
	} {
		if _, err := DecodeRecord(b); !errors.Is(err, ErrRecord) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	a, _ := EncodeOffsets("g", []OffsetUpdate{{"t", 1, 2}, {"u", 0, 9}})
	f.Add(a)
	f.Add(EncodeTopic([]byte(`{"topicName":"T"}`)))
	f.Add([]byte{})
	f.Add(EncodeSegmentSize(1<<30, "n0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err == nil && r.Kind == KindSegmentSize {
			again := EncodeSegmentSize(r.SegmentSize, r.Member)
			stampRecord(again, r.Phys)
			if !bytes.Equal(again, b) {
				t.Fatalf("segment size: decode/encode differ:\n%x\n%x", b, again)
			}
			return
		}
		if err != nil || r.Kind != KindConsumerOffsets {
			return
		}
		again, err := EncodeOffsets(r.Group, r.Offsets)
		if err != nil {
			t.Fatal(err)
		}
		stampRecord(again, r.Phys)
		if !bytes.Equal(again, b) {
			t.Fatalf("decode/encode differ:\n%x\n%x", b, again)
		}
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	tb := newTables()
	tb.delivered(2, 5)
	tb.segSize, tb.segBy = 1<<30, "n0"
	s := snapshot{Index: 7, NextPhys: 99}
	tb.snapshot(&s)
	raw, _ := encodeSnapshot(&s)
	f.Add(raw)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSnapshot(b)
		if err != nil {
			return
		}
		newTables().restore(&s)
	})
}

func TestEncodeBatch(t *testing.T) {
	item := func(flag uint32, body, props string) []byte {
		n := 22 + len(body) + len(props)
		b := binary.BigEndian.AppendUint32(nil, uint32(n))
		b = binary.BigEndian.AppendUint32(b, 0)
		b = binary.BigEndian.AppendUint32(b, 0)
		b = binary.BigEndian.AppendUint32(b, flag)
		b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
		b = append(b, body...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(props)))
		return append(b, props...)
	}
	tmpl := commitlog.Message{Topic: []byte("T"), QueueID: 2, BornHost: bornHost, StoreHost: bornHost}
	body := append(item(1, "hello", "TAGS\x01a\x02"), item(2, "", "")...)
	out, err := encodeBatch(tmpl, body, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	_ = Messages(out, func(off int, h commitlog.Header) error {
		m, _, err := commitlog.Decode(out[off:])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(m.Body)+"|"+string(m.Properties)+"|"+string(m.Topic))
		return nil
	})
	if want := []string{"hello|TAGS\x01a\x02|T", "||T"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
	for name, bad := range map[string][]byte{
		"empty": nil, "short": body[:10], "cut": body[:len(body)-1],
		"lying body": func() []byte { b := append([]byte(nil), body...); binary.BigEndian.PutUint32(b[16:], 1000); return b }(),
	} {
		if _, err := encodeBatch(tmpl, bad, 1<<20); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSubscription(t *testing.T) {
	msg := func(tags string) []byte {
		m := commitlog.Message{Topic: []byte("T"), BornHost: bornHost, StoreHost: bornHost}
		if tags != "" {
			m.Properties, _ = commitlog.AppendProperties(nil, commitlog.Property{Name: "TAGS", Value: tags})
		}
		b, err := commitlog.Encode(nil, &m, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		sub, tags string
		want      bool
	}{
		{"*", "a", true}, {"", "", true}, {"a || b", "b", true}, {"a||b", "c", false},
		{"a", "", false}, {"é", "é", true}, {"a || *", "z", true},
	} {
		f := parseSubscription(tc.sub)
		h, _ := commitlog.Peek(msg(tc.tags))
		if got := f.codeMatches(h.TagsCode()) && f.tagsMatch(msg(tc.tags)); got != tc.want {
			t.Errorf("sub %q tags %q: %v", tc.sub, tc.tags, got)
		}
	}
}

// TestSegmentSizeRecord: the segment size record round-trips, and one
// with bytes after the member id is refused.
func TestSegmentSizeRecord(t *testing.T) {
	b := EncodeSegmentSize(1<<30, "n1")
	r, err := DecodeRecord(b)
	if err != nil || r.Kind != KindSegmentSize || r.SegmentSize != 1<<30 || r.Member != "n1" {
		t.Fatalf("%+v %v", r, err)
	}
	bad := append(append([]byte(nil), b...), 0)
	bad[3]++ // the size word covers the extra byte
	if _, err := DecodeRecord(bad); err == nil {
		t.Fatal("trailing byte accepted")
	}
}
