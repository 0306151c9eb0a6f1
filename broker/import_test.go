package broker_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"testing"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
)

// classicStore is the store timestamp of every classic message.
const classicStore = 1_700_000_000_000

// classic builds a classic broker's messages in log order: topic T queue
// 0 with queue offsets 100..139 (retention removed the first 100), queue
// 1 with 0..29, interleaved, bodies up to 100 KiB (entries pack several);
// a prepared transaction message; topic Extra queue 2 (no config); level
// 2's schedule queue with offsets 0..4, of which delayOffset.json says 3
// were delivered. It returns the encoded messages and the T messages by
// "queue/offset".
func classic(t *testing.T) ([][]byte, map[string]commitlog.Message) {
	var out [][]byte
	want := map[string]commitlog.Message{}
	phys := int64(5 << 30) // the classic commit log's own offsets
	add := func(topic string, q int32, qo int64, body []byte, sys commitlog.SysFlag, kv ...string) {
		m := commitlog.Message{Topic: []byte(topic), QueueID: q, QueueOffset: qo, PhysicalOffset: phys, SysFlag: sys,
			BornTimestamp: classicStore - 5, BornHost: netip.MustParseAddrPort("10.0.0.7:50000"),
			StoreTimestamp: classicStore + qo, StoreHost: netip.MustParseAddrPort("10.0.0.1:10911"),
			Body: body, Properties: []byte(props(t, kv...))}
		b, err := commitlog.Encode(nil, &m, 4<<20)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
		phys += int64(len(b))
		if topic == "T" && sys == 0 {
			want[fmt.Sprint(q, "/", qo)] = m
		}
	}
	for i := range 40 {
		size := 10 + i*7
		if i%9 == 4 {
			size = 100 << 10
		}
		add("T", 0, 100+int64(i), bytes.Repeat([]byte{byte('a' + i%26)}, size), 0, "TAGS", "t"+strconv.Itoa(i%3), "UNIQ_KEY", fmt.Sprintf("U0-%d", i))
		if i < 30 {
			add("T", 1, int64(i), fmt.Appendf(nil, "q1 body %d", i), 0, "KEYS", "k"+strconv.Itoa(i))
		}
		if i == 7 {
			add("T", 1, 0, []byte("a half message"), commitlog.TransactionPrepared)
		}
		if i < 5 {
			add(broker.ScheduleTopic, 1, int64(i), fmt.Appendf(nil, "delayed %d", i), 0,
				"DELAY", "2", "REAL_TOPIC", "T", "REAL_QID", "1", "UNIQ_KEY", fmt.Sprintf("D-%d", i))
		}
	}
	add("Extra", 2, 0, []byte("extra"), 0)
	return out, want
}

func classicSource(msgs [][]byte) broker.ImportSource {
	return broker.ImportSource{
		Messages: func(yield func([]byte) error) error {
			for _, m := range msgs {
				if err := yield(m); err != nil {
					return err
				}
			}
			return nil
		},
		Topics:        []namesrv.TopicConfig{{TopicName: "T", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6}},
		Offsets:       map[string][]broker.OffsetUpdate{"G": {{Topic: "T", QueueID: 0, Offset: 120}, {Topic: "T", QueueID: 1, Offset: 30}}},
		DelayProgress: map[int]int64{2: 3},
	}
}

// TestImport imports a classic broker's data into every member of a new
// group, starts it, and checks on every member: each message of T at its
// classic queue offset, the same bytes but the physical offset (now its
// position here), the consumer offsets, the queues' min and max; then on
// the master: the delayed messages not delivered yet reach T (and only
// those), a new send continues the queue offsets, and the added topic
// takes sends.
func TestImport(t *testing.T) {
	msgs, want := classic(t)
	var mu sync.Mutex
	results := map[string]broker.ImportResult{}
	g := startGroup(t, 3, fastLevels, func(c *broker.Config) {
		res, err := broker.Import(c.Engine, classicSource(msgs))
		if err != nil {
			t.Fatalf("import into %s: %v", c.Engine.ID, err)
		}
		mu.Lock()
		results[c.Engine.ID] = res
		mu.Unlock()
	})
	r := results["n0"]
	if r.SeedResult != results["n1"].SeedResult || r.SeedResult != results["n2"].SeedResult {
		t.Fatalf("imports of the same source differ: %+v", results)
	}
	if r.Messages != 40+30+2+1 || r.HalfOrRollback != 1 || r.Delivered != 3 || r.Groups != 1 || r.Topics != 3 ||
		fmt.Sprint(r.AddedTopics) != "[Extra "+broker.ScheduleTopic+"]" || r.Queues != 4 || r.Entries < 2 {
		t.Fatalf("import result %+v", r)
	}

	_, master := g.master()
	for i, addr := range g.addrs {
		for _, q := range []struct {
			id              string
			min, max, final int // classic messages in [min, max); final: with the delayed deliveries
		}{{"0", 100, 140, 140}, {"1", 0, 30, 32}} {
			waitMax(t, addr, "T", q.id, q.final)
			if r := invoke(t, addr, remoting.GetMinOffset, map[string]string{"topic": "T", "queueId": q.id}, nil); r.ExtFields["offset"] != strconv.Itoa(q.min) {
				t.Fatalf("member %d T/%s: min offset %v, want %d", i, q.id, r.ExtFields, q.min)
			}
			var lastPhys int64 = -1
			for off := q.min; off < q.max; off++ {
				m := pullOne(t, addr, "T", q.id, off)
				w := want[q.id+"/"+strconv.Itoa(off)]
				if m.PhysicalOffset <= lastPhys || m.VerifyBody() != nil {
					t.Fatalf("member %d T/%s@%d: physical offset %d after %d", i, q.id, off, m.PhysicalOffset, lastPhys)
				}
				lastPhys = m.PhysicalOffset
				w.PhysicalOffset = m.PhysicalOffset
				wb, _ := commitlog.Encode(nil, &w, 4<<20)
				gb, _ := commitlog.Encode(nil, &m, 4<<20)
				if !bytes.Equal(wb, gb) {
					t.Fatalf("member %d T/%s@%d: got %+v, want %+v", i, q.id, off, m, w)
				}
			}
		}
		for q, want := range map[string]string{"0": "120", "1": "30"} {
			r := invoke(t, addr, remoting.QueryConsumerOffset, map[string]string{"consumerGroup": "G", "topic": "T", "queueId": q}, nil)
			if r.Code != 0 || r.ExtFields["offset"] != want {
				t.Fatalf("member %d: G's offset of T/%s: %d %v, want %s", i, q, r.Code, r.ExtFields, want)
			}
		}
		if r := invoke(t, addr, remoting.GetMinOffset, map[string]string{"topic": broker.ScheduleTopic, "queueId": "1"}, nil); r.ExtFields["offset"] != "3" {
			t.Fatalf("member %d: schedule queue 1 starts at %v, want 3 (0..2 were delivered by the classic broker)", i, r.ExtFields)
		}
	}

	// The two delayed messages the classic broker had not delivered
	// arrived on T/1 (their store time is long past), after its 30.
	for k, off := range []int{30, 31} {
		if m := pullOne(t, master, "T", "1", off); string(m.Body) != fmt.Sprint("delayed ", 3+k) {
			t.Fatalf("T/1@%d: %q, want delayed %d", off, m.Body, 3+k)
		}
	}
	r2 := invoke(t, master, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0", "properties": props(t, "TAGS", "new")}, []byte("new"))
	if r2.Code != 0 || r2.ExtFields["queueOffset"] != "140" {
		t.Fatalf("a send after the import: %d %s %v, want queue offset 140", r2.Code, r2.Remark, r2.ExtFields)
	}
	r3 := invoke(t, master, remoting.SendMessage, map[string]string{"topic": "Extra", "queueId": "2"}, []byte("more"))
	if r3.Code != 0 || r3.ExtFields["queueOffset"] != "1" {
		t.Fatalf("a send to the added topic: %d %s %v, want queue offset 1", r3.Code, r3.Remark, r3.ExtFields)
	}
}

// TestImportRefuses: what would stop every member's applier is refused
// before the group starts, naming the cause, and the directory stays
// empty (the import can run again).
func TestImportRefuses(t *testing.T) {
	msgs, _ := classic(t)
	gap := append([][]byte{}, msgs[:3]...)
	gap = append(gap, msgs[4:]...) // T/0@101 is msgs[3] (T/0, T/1, schedule for each i)
	big := commitlog.Message{Topic: []byte("T"), Body: make([]byte, 300<<10), BornHost: netip.MustParseAddrPort("10.0.0.7:1"), StoreHost: netip.MustParseAddrPort("10.0.0.1:2")}
	bigB, err := commitlog.Encode(nil, &big, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		msgs [][]byte
		src  func(*broker.ImportSource)
		want string
	}{
		{"a gap in a queue", gap, nil, "expected"},
		{"a message that does not decode", [][]byte{msgs[0][:40]}, nil, "does not decode"},
		{"a message above maxMessageSize", [][]byte{bigB}, nil, "maxMessageSize"},
		{"a repeated topic", msgs, func(s *broker.ImportSource) { s.Topics = append(s.Topics, s.Topics[0]) }, "repeated topic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := engine.Config{ID: "n0", Peers: map[string]string{"n0": "127.0.0.1:1"}, Dir: t.TempDir(), SegmentSize: 1 << 20, MaxEntrySize: 256 << 10, IndexEntries: 4096}
			src := classicSource(tc.msgs)
			if tc.src != nil {
				tc.src(&src)
			}
			_, err := broker.Import(cfg, src)
			if !errors.Is(err, broker.ErrImport) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Fatalf("import: %v, want ErrImport naming %q", err, tc.want)
			}
			if _, err := broker.Import(cfg, classicSource(msgs)); err != nil {
				t.Fatalf("import again after the refusal: %v", err)
			}
		})
	}
}

// TestParseClassicJSON reads the three config files as a classic broker
// writes them (fastjson: unquoted integer keys).
func TestParseClassicJSON(t *testing.T) {
	topics, err := broker.ParseTopicsJSON([]byte(`{"dataVersion":{"counter":3,"timestamp":1},"topicConfigTable":{` +
		`"T":{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":4},` +
		`"%RETRY%G":{"perm":6,"readQueueNums":1,"topicName":"%RETRY%G","writeQueueNums":1}}}`))
	if err != nil || len(topics) != 2 || topics[0].TopicName != "%RETRY%G" || topics[1].ReadQueueNums != 4 || topics[1].Perm != 6 {
		t.Fatalf("topics.json: %+v %v", topics, err)
	}
	offs, err := broker.ParseConsumerOffsetJSON([]byte(`{"offsetTable":{"T@G":{0:250,1:251},"%RETRY%G@G":{0:3}}}`))
	if err != nil || fmt.Sprint(offs) != "map[G:[{%RETRY%G 0 3} {T 0 250} {T 1 251}]]" {
		t.Fatalf("consumerOffset.json: %v %v", offs, err)
	}
	delay, err := broker.ParseDelayOffsetJSON([]byte(`{"offsetTable":{1:10,2:0}}`))
	if err != nil || delay[1] != 10 || len(delay) != 2 {
		t.Fatalf("delayOffset.json: %v %v", delay, err)
	}
	for _, bad := range []string{`{"offsetTable":{"nogroup":{0:1}}}`, `{"offsetTable":`} {
		if _, err := broker.ParseConsumerOffsetJSON([]byte(bad)); !errors.Is(err, broker.ErrImport) {
			t.Fatalf("%s: %v, want ErrImport", bad, err)
		}
	}
}

// FuzzParseClassicJSON: the classic config files' parsers (fastjson's
// unquoted keys quoted by namesrv.QuoteIntKeys, then encoding/json) never
// panic, and what they accept is well formed.
func FuzzParseClassicJSON(f *testing.F) {
	for _, s := range []string{
		`{"offsetTable":{"T@G":{0:250,1:251},"%RETRY%G@G":{0:3}}}`,
		`{"offsetTable":{1:10,2:0}}`,
		`{"dataVersion":{"counter":3},"topicConfigTable":{"T":{"perm":6,"readQueueNums":4,"topicName":"T","writeQueueNums":4}}}`,
		`{"offsetTable":{"a\"@b":{-1:2}}}`, `{`, `{"offsetTable":{"x":{0:1}},}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if offs, err := broker.ParseConsumerOffsetJSON(b); err == nil {
			for g, ups := range offs {
				for _, u := range ups {
					if g == "" || u.Topic == "" {
						t.Fatalf("accepted an empty group or topic: %q %+v", g, u)
					}
				}
			}
		}
		if tcs, err := broker.ParseTopicsJSON(b); err == nil {
			for _, tc := range tcs {
				if tc.TopicName == "" {
					t.Fatalf("accepted a topic without a name: %+v", tc)
				}
			}
		}
		_, _ = broker.ParseDelayOffsetJSON(b)
	})
}
