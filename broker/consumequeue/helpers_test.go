package consumequeue

import (
	"math"
	"testing"

	"github.com/rmqlog/rmqlog/segment"
)

const testDir = "/data"

// msg is one message of a test log: its queue and stamps.
type msg struct {
	topic string
	queue int32
	off   int64 // queue offset
	phys  int64
	size  int32
	tags  int64
	index uint64 // the Raft entry holding it
}

// genLog returns n messages spread over queues round-robin, one per entry,
// with queue offsets from start and physical offsets 1000, 1100, ...
func genLog(n int, queues []string, start int64) []msg { return genLogAt(n, queues, start, 1000) }

// genLogAt is genLog with physical offsets base, base+100, ...
func genLogAt(n int, queues []string, start, base int64) []msg {
	next := map[string]int64{}
	var log []msg
	for i := 0; i < n; i++ {
		q := queues[i%len(queues)]
		if _, ok := next[q]; !ok {
			next[q] = start
		}
		log = append(log, msg{topic: q, queue: int32(i % len(queues)), off: next[q], phys: base + 100*int64(i),
			size: 90, tags: int64(i) * 7, index: uint64(i + 1)})
		next[q]++
	}
	return log
}

// put puts the messages in order.
func put(t *testing.T, s *Store, log []msg) {
	t.Helper()
	for _, m := range log {
		if err := s.Put(m.topic, m.queue, m.off, m.phys, m.size, m.tags); err != nil {
			t.Fatalf("Put(%+v): %v", m, err)
		}
	}
}

// openStore opens (or reopens) the store on fs and recovers it for a log
// whose first entry after the checkpoint is found in log.
func openStore(t testing.TB, fs segment.FS, upf int, log []msg) (*Store, Info) {
	t.Helper()
	s, info, err := Open(testDir, Options{FS: fs, UnitsPerFile: upf})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	bound := int64(math.MaxInt64)
	for _, m := range log {
		if m.index > info.Index {
			bound = m.phys
			break
		}
	}
	if err := s.TruncateFrom(bound); err != nil {
		t.Fatalf("TruncateFrom(%d): %v", bound, err)
	}
	return s, info
}

// replay puts the messages after index.
func replay(t *testing.T, s *Store, log []msg, index uint64) {
	t.Helper()
	for i, m := range log {
		if m.index > index {
			put(t, s, log[i:])
			return
		}
	}
}

// checkQueues compares every queue of s with the messages of log.
func checkQueues(t *testing.T, s *Store, log []msg) {
	t.Helper()
	want := map[string][]msg{}
	for _, m := range log {
		want[m.topic] = append(want[m.topic], m)
	}
	for topic, ms := range want {
		q, ok := s.Queue(topic, ms[0].queue)
		if !ok {
			t.Fatalf("no queue %s/%d", topic, ms[0].queue)
		}
		if got := q.MaxOffset(); got != ms[len(ms)-1].off+1 {
			t.Fatalf("%s: MaxOffset %d, want %d", topic, got, ms[len(ms)-1].off+1)
		}
		units, err := s.Get(topic, ms[0].queue, ms[0].off, len(ms)+5)
		if err != nil {
			t.Fatalf("%s: Get: %v", topic, err)
		}
		if len(units) != len(ms) {
			t.Fatalf("%s: %d units, want %d", topic, len(units), len(ms))
		}
		for i, u := range units {
			if w := (Unit{ms[i].phys, ms[i].size, ms[i].tags}); u != w {
				t.Fatalf("%s offset %d: %v, want %v", topic, ms[i].off, u, w)
			}
		}
	}
}
