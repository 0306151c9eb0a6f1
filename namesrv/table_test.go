package namesrv

import (
	"reflect"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func reg(name, addr string, id int64, topics map[string]TopicConfig) registration {
	return registration{cluster: "c", name: name, addr: addr, id: id, haServerAddr: addr + "0", topics: topics}
}

var testTopics = map[string]TopicConfig{"T": {ReadQueueNums: 4, WriteQueueNums: 4, Perm: PermRead | PermWrite}}

// TestTableRoute: a master's topics become queues, its slaves join its
// broker name, and a slave learns its master.
func TestTableRoute(t *testing.T) {
	tb := newTable()
	if got := tb.register(reg("a", "m:1", 1, testTopics), t0, time.Minute); got != (registered{}) {
		t.Fatalf("slave before its master: %+v", got)
	}
	if _, ok := tb.route("T"); ok {
		t.Fatal("a slave's topics made a route")
	}
	tb.register(reg("a", "m:0", 0, testTopics), t0, time.Minute)
	got := tb.register(reg("a", "m:1", 1, testTopics), t0, time.Minute)
	if got != (registered{masterAddr: "m:0", haServerAddr: "m:00"}) {
		t.Fatalf("slave registered: %+v", got)
	}
	r, ok := tb.route("T")
	want := Route{
		QueueDatas:  []QueueData{{BrokerName: "a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}},
		BrokerDatas: []BrokerData{{Cluster: "c", BrokerName: "a", Addrs: map[int64]string{0: "m:0", 1: "m:1"}}},
	}
	if !ok || !reflect.DeepEqual(r, want) {
		t.Fatalf("route %+v, %v; want %+v", r, ok, want)
	}
	if got := tb.topicList(); !reflect.DeepEqual(got, []string{"T"}) {
		t.Fatalf("topics %v", got)
	}
}

// TestTableMove: an address registering under another id leaves its old
// one (a slave promoted to master).
func TestTableMove(t *testing.T) {
	tb := newTable()
	tb.register(reg("a", "m:0", 0, testTopics), t0, time.Minute)
	tb.register(reg("a", "m:1", 1, nil), t0, time.Minute)
	tb.unregister("c", "a", "m:0", 0)
	tb.register(reg("a", "m:1", 0, testTopics), t0, time.Minute)
	r, _ := tb.route("T")
	if want := map[int64]string{0: "m:1"}; !reflect.DeepEqual(r.BrokerDatas[0].Addrs, want) {
		t.Fatalf("addrs %v, want %v", r.BrokerDatas[0].Addrs, want)
	}
}

// TestTableUnregister: the last member of a broker name takes its queues
// and its cluster entry with it.
func TestTableUnregister(t *testing.T) {
	tb := newTable()
	tb.register(reg("a", "m:0", 0, testTopics), t0, time.Minute)
	tb.register(reg("a", "m:1", 1, nil), t0, time.Minute)
	tb.unregister("c", "a", "m:0", 0)
	if r, ok := tb.route("T"); !ok || len(r.BrokerDatas[0].Addrs) != 1 {
		t.Fatalf("after the master left: %+v %v", r, ok)
	}
	tb.unregister("c", "a", "m:1", 1)
	if _, ok := tb.route("T"); ok {
		t.Fatal("route after every member left")
	}
	if ci := tb.clusterInfo(); len(ci.Brokers) != 0 || len(ci.Clusters) != 0 {
		t.Fatalf("cluster info after every member left: %+v", ci)
	}
}

// TestTableExpire: a broker not heard from for longer than its timeout
// is forgotten; one that asked for a longer timeout stays.
func TestTableExpire(t *testing.T) {
	tb := newTable()
	tb.register(reg("a", "m:0", 0, testTopics), t0, time.Minute)
	long := reg("b", "n:0", 0, testTopics)
	long.timeout = time.Hour
	tb.register(long, t0, time.Minute)
	if gone := tb.expire(t0.Add(time.Minute)); len(gone) != 0 {
		t.Fatalf("expired at the timeout: %v", gone)
	}
	gone := tb.expire(t0.Add(time.Minute + time.Millisecond))
	if !reflect.DeepEqual(gone, []liveKey{{"c", "m:0"}}) {
		t.Fatalf("expired %v", gone)
	}
	r, ok := tb.route("T")
	if !ok || len(r.QueueDatas) != 1 || r.QueueDatas[0].BrokerName != "b" {
		t.Fatalf("route after expiry %+v", r)
	}
}

// TestTableActingMaster: with enableActingMaster, the prime slave's topics
// count, without the write permission.
func TestTableActingMaster(t *testing.T) {
	tb := newTable()
	r := reg("a", "m:1", 1, testTopics)
	r.actingMaster = true
	tb.register(r, t0, time.Minute)
	rt, ok := tb.route("T")
	if !ok || rt.QueueDatas[0].Perm != PermRead {
		t.Fatalf("route %+v %v", rt, ok)
	}
}
