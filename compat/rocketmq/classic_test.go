package rocketmq

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/commitlog/classic"
)

// stored is a message found in a classic directory by storedMessages:
// its bytes and where they lie.
type stored struct {
	file  string
	start int64 // the file's start offset
	pos   int64 // the message's position in the file
	bytes []byte
}

// storedMessages walks the files of the classic directory dir with
// nothing but the framing of RocketMQ's CommitLog (a total size, then a
// magic code; BlankMagic pads a file's end; a zero total size ends the
// data), not with package commitlog's decoder, and returns every message's
// bytes, per file in offset order.
func storedMessages(t *testing.T, dir string) [][]stored {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files [][]stored
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		start, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil {
			t.Fatalf("file %s: %v", e.Name(), err)
		}
		var msgs []stored
		for pos := 0; pos+8 <= len(data); {
			size := int(binary.BigEndian.Uint32(data[pos:]))
			if size == 0 || binary.BigEndian.Uint32(data[pos+4:]) == 0xCBD43194 {
				break
			}
			if pos+size > len(data) {
				t.Fatalf("%s: a message of %d bytes at %d runs past the file", e.Name(), size, pos)
			}
			msgs = append(msgs, stored{file: e.Name(), start: start, pos: int64(pos), bytes: data[pos : pos+size]})
			pos += size
		}
		files = append(files, msgs)
	}
	return files
}

// classicCase is a message appended to a classic directory and what the
// client must decode it to.
type classicCase struct {
	m     commitlog.Message // as appended: the Writer set its offsets
	tags  string
	keys  string
	props map[string]string
}

// classicMessages makes n messages of varied topics (a unicode one, a
// retry topic), queue ids, tags, keys (one, several, none), properties
// and bodies (empty to 3000 bytes); message 17 (orders, queue 1) is a
// prepared transaction message: queue offset 0, and it takes none.
func classicMessages(t *testing.T, n int) []classicCase {
	topics := []string{"TopicTest", "orders", "主题-テスト", "%RETRY%group-1"}
	var cs []classicCase
	for i := range n {
		tc := classicCase{props: map[string]string{}}
		kv := []string{}
		if i%4 != 3 {
			tc.tags = fmt.Sprintf("Tag%c", 'A'+i%5)
			kv = append(kv, primitive.PropertyTags, tc.tags)
		}
		switch i % 3 {
		case 0:
			tc.keys = fmt.Sprintf("order-%d", i)
		case 1:
			tc.keys = fmt.Sprintf("order-%d user-%d", i, i%7)
		}
		if tc.keys != "" {
			kv = append(kv, primitive.PropertyKeys, tc.keys)
		}
		kv = append(kv, primitive.PropertyUniqueClientMessageIdKeyIndex, fmt.Sprintf("C0A80007A1B218B4AAC25E2F%08X", i))
		if i%5 == 0 {
			kv = append(kv, "color", "blue", "amount", strconv.Itoa(i*100))
		}
		for j := 0; j+1 < len(kv); j += 2 {
			tc.props[kv[j]] = kv[j+1]
		}
		body := bytes.Repeat([]byte{byte('a' + i%26)}, (i*397)%3001)
		tc.m = commitlog.Message{
			QueueID: int32(i % 8), Flag: int32(i), BornTimestamp: 1700000000000 + int64(i), BornHost: born4,
			StoreTimestamp: 1700000000500 + int64(i), StoreHost: store4,
			Body: body, Topic: []byte(topics[i%len(topics)]), Properties: props(t, kv...),
		}
		if i == 17 {
			tc.m.SysFlag = commitlog.TransactionPrepared
		}
		cs = append(cs, tc)
	}
	return cs
}

// TestClientDecodesClassicDirectory: every message of a classic directory
// classic.Writer made (files of 16 KiB, so that many end in a blank)
// decodes with the client's primitive.DecodeMessage, alone and with the
// rest of its file's messages back to back, to what was appended: topic,
// queue id, queue offset, commit log offset (its place in the log), body,
// tags, keys, properties; in the order appended.
func TestClientDecodesClassicDirectory(t *testing.T) {
	const fileSize = 16 << 10
	dir := t.TempDir()
	w, err := classic.NewWriter(dir, fileSize)
	if err != nil {
		t.Fatal(err)
	}
	w.SetQueueOffset("orders", 1, 1000)
	cases := classicMessages(t, 90)
	for i := range cases {
		if _, err := w.Append(&cases[i].m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files := storedMessages(t, dir)
	if len(files) < 5 {
		t.Fatalf("the directory has %d files; the test wants several rolls", len(files))
	}
	next := 0 // the next case, in append order
	for _, msgs := range files {
		var run []byte
		for _, s := range msgs {
			got := primitive.DecodeMessage(s.bytes)
			if len(got) != 1 || next >= len(cases) {
				t.Fatalf("%s at %d: the client decoded %d messages from one (case %d of %d)", s.file, s.pos, len(got), next, len(cases))
			}
			checkClassic(t, got[0], cases[next], s)
			run = append(run, s.bytes...)
			next++
		}
		all := primitive.DecodeMessage(run)
		if len(all) != len(msgs) {
			t.Fatalf("%s: the client decoded %d messages from the %d back to back", msgs[0].file, len(all), len(msgs))
		}
		for i, s := range msgs {
			checkClassic(t, all[i], cases[next-len(msgs)+i], s)
		}
	}
	if next != len(cases) {
		t.Fatalf("the directory holds %d messages, %d were appended", next, len(cases))
	}
	// orders/1 holds messages 1, 9, 17 (prepared), 25...: offsets 1000, 1001, 0, 1002.
	if q := []int64{cases[1].m.QueueOffset, cases[9].m.QueueOffset, cases[17].m.QueueOffset, cases[25].m.QueueOffset}; !slices.Equal(q, []int64{1000, 1001, 0, 1002}) {
		t.Fatalf("queue offsets of orders/1: %v, want [1000 1001 0 1002]", q)
	}
	checkQueueOffsets(t, cases)
}

// checkClassic compares what the client decoded from s with what was
// appended.
func checkClassic(t *testing.T, got *primitive.MessageExt, tc classicCase, s stored) {
	t.Helper()
	m := tc.m
	var bad []string
	f := func(field string, g, w any) {
		if fmt.Sprint(g) != fmt.Sprint(w) {
			bad = append(bad, fmt.Sprintf("%s: client %v, want %v", field, g, w))
		}
	}
	f("Topic", got.Topic, string(m.Topic))
	f("QueueId", got.Queue.QueueId, m.QueueID)
	f("QueueOffset", got.QueueOffset, m.QueueOffset)
	f("CommitLogOffset", got.CommitLogOffset, s.start+s.pos)
	f("CommitLogOffset vs Append", got.CommitLogOffset, m.PhysicalOffset)
	f("Body", bytes.Equal(got.Body, m.Body), true)
	f("Tags", got.GetTags(), tc.tags)
	f("Keys", got.GetKeys(), tc.keys)
	f("StoreSize", got.StoreSize, len(s.bytes))
	f("StoreTimestamp", got.StoreTimestamp, m.StoreTimestamp)
	f("SysFlag", got.SysFlag, m.SysFlag)
	f("OffsetMsgId", got.OffsetMsgId, commitlog.MessageID(m.StoreHost, m.PhysicalOffset))
	for k, v := range tc.props {
		f("property "+k, got.GetProperty(k), v)
	}
	if len(bad) > 0 {
		t.Errorf("%s at %d (%s):\n%s", s.file, s.pos, m.Topic, strings.Join(bad, "\n"))
	}
}

// checkQueueOffsets: in append order, each consume queue's offsets count
// up by one from its base (0; 1000 for orders/1), prepared transaction
// messages (offset 0) aside.
func checkQueueOffsets(t *testing.T, cases []classicCase) {
	next := map[string]int64{"orders/1": 1000}
	var offsets []int64
	for _, tc := range cases {
		offsets = append(offsets, tc.m.PhysicalOffset)
		if tc.m.SysFlag.Transaction() == commitlog.TransactionPrepared {
			continue
		}
		q := fmt.Sprintf("%s/%d", tc.m.Topic, tc.m.QueueID)
		if tc.m.QueueOffset != next[q] {
			t.Errorf("%s: queue offset %d, want %d", q, tc.m.QueueOffset, next[q])
		}
		next[q]++
	}
	if !slices.IsSorted(offsets) {
		t.Errorf("commit log offsets out of order: %v", offsets)
	}
}

// TestClientDecodesGoldenDirectory: the client decodes the messages of
// package classic's golden directory (built byte by byte from the
// layout) to the fields that test put there.
func TestClientDecodesGoldenDirectory(t *testing.T) {
	files := storedMessages(t, filepath.Join("..", "..", "commitlog", "classic", "testdata", "golden"))
	var msgs []stored
	for _, f := range files {
		msgs = append(msgs, f...)
	}
	want := []struct {
		topic               string
		queueID             int
		queueOffset, offset int64
		body, tags, keys    string
		bornHost            string
	}{
		{"TopicA", 0, 0, 0, "hello", "TagA", "k1", "192.168.0.7:51234"},
		{"TopicA", 0, 1, 120, strings.Repeat("0123456789", 20), "TagB", "", "192.168.0.7:51234"},
		{"TopicB", 2, 7, 512, "world", "", "order-1", "2001:db8::7:52000"},
	}
	if len(msgs) != len(want) {
		t.Fatalf("%d messages in the golden directory, want %d", len(msgs), len(want))
	}
	for i, w := range want {
		got := primitive.DecodeMessage(msgs[i].bytes)
		if len(got) != 1 {
			t.Fatalf("message %d: the client decoded %d messages", i, len(got))
		}
		g := got[0]
		if g.Topic != w.topic || g.Queue.QueueId != w.queueID || g.QueueOffset != w.queueOffset || g.CommitLogOffset != w.offset ||
			g.CommitLogOffset != msgs[i].start+msgs[i].pos || string(g.Body) != w.body || g.GetTags() != w.tags ||
			g.GetKeys() != w.keys || g.BornHost != w.bornHost || g.StoreHost != "10.175.8.149:10911" {
			t.Errorf("message %d: client %s queue %d offset %d at %d, body %q, tags %q, keys %q, born %s, store %s; want %+v",
				i, g.Topic, g.Queue.QueueId, g.QueueOffset, g.CommitLogOffset, g.Body, g.GetTags(), g.GetKeys(), g.BornHost, g.StoreHost, w)
		}
	}
	if id := commitlog.MessageID(netip.MustParseAddrPort("10.175.8.149:10911"), 512); primitive.DecodeMessage(msgs[2].bytes)[0].OffsetMsgId != id {
		t.Errorf("message 2: offset message id, want %s", id)
	}
}
