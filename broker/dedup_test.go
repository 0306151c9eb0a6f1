package broker_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/segment"
)

// sendUniq sends one message of topic T, queue q, with a UNIQ_KEY.
func sendUniq(t *testing.T, addr string, q, uniq string) *remoting.Command {
	t.Helper()
	return invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "T", "queueId": q, "properties": props(t, "UNIQ_KEY", uniq)}, []byte(uniq))
}

func sameResult(t *testing.T, what string, a, b *remoting.Command) {
	t.Helper()
	if a.Code != 0 || b.Code != 0 {
		t.Fatalf("%s: codes %d %q, %d %q", what, a.Code, a.Remark, b.Code, b.Remark)
	}
	for _, k := range []string{"msgId", "queueId", "queueOffset"} {
		if a.ExtFields[k] != b.ExtFields[k] {
			t.Fatalf("%s: %s %q, first send %q", what, k, b.ExtFields[k], a.ExtFields[k])
		}
	}
}

func maxOffset(t *testing.T, addr, topic, q string) string {
	return invoke(t, addr, remoting.GetMaxOffset, map[string]string{"topic": topic, "queueId": q}, nil).ExtFields["offset"]
}

// TestDedupResendAfterCommit: a resend of a committed message (same
// UNIQ_KEY, even to another queue) answers the first append's msgId, queue
// id and queue offset and stores nothing; a batch (no UNIQ_KEY) and other
// keys append.
func TestDedupResendAfterCommit(t *testing.T) {
	_, addr := attached(t, nil)
	first := sendUniq(t, addr, "0", "AAAA")
	sameResult(t, "resend", first, sendUniq(t, addr, "0", "AAAA"))
	if r := sendUniq(t, addr, "0", "BBBB"); r.Code != 0 || r.ExtFields["queueOffset"] != "1" {
		t.Fatalf("another key: %d %v", r.Code, r.ExtFields)
	}
	sameResult(t, "resend after another", first, sendUniq(t, addr, "0", "AAAA"))
	if got := maxOffset(t, addr, "T", "0"); got != "2" {
		t.Fatalf("max offset %s, want 2 (two distinct keys)", got)
	}
	// A retry topic takes the same key once per failed consumption (the
	// Go client's sendMessageBackAsNormal): never suppressed.
	retry := map[string]string{"topic": "%RETRY%G", "queueId": "0", "properties": props(t, "UNIQ_KEY", "AAAA")}
	if r := invoke(t, addr, remoting.UpdateAndCreateTopic, map[string]string{"topic": "%RETRY%G", "readQueueNums": "1", "writeQueueNums": "1", "perm": "6"}, nil); r.Code != 0 {
		t.Fatal(r.Remark)
	}
	for i := range 2 {
		if r := invoke(t, addr, remoting.SendMessage, retry, []byte("again")); r.Code != 0 || r.ExtFields["queueOffset"] != strconv.Itoa(i) {
			t.Fatalf("send %d to the retry topic: %d %v", i, r.Code, r.ExtFields)
		}
	}
}

// TestDedupResendInFlight: a resend that arrives while the first send is
// still being appended (its stamp held 300 ms) waits for it and answers
// its result; one message is stored.
func TestDedupResendInFlight(t *testing.T) {
	entered := make(chan struct{})
	var once atomic.Bool
	_, addr := attached(t, func(stamp stampFunc) stampFunc {
		return func(typ segment.Type, i, off uint64, p []byte) {
			stamp(typ, i, off, p)
			if !broker.IsRecord(p) && once.CompareAndSwap(false, true) {
				close(entered)
				time.Sleep(300 * time.Millisecond)
			}
		}
	})
	var wg sync.WaitGroup
	var first, second *remoting.Command
	wg.Add(2)
	go func() { defer wg.Done(); first = sendUniq(t, addr, "0", "INFLIGHT") }()
	<-entered
	go func() { defer wg.Done(); second = sendUniq(t, addr, "0", "INFLIGHT") }()
	wg.Wait()
	sameResult(t, "resend in flight", first, second)
	if got := maxOffset(t, addr, "T", "0"); got != "1" {
		t.Fatalf("max offset %s, want 1", got)
	}
}

// TestDedupWindowExpiry: after the window (here 200 ms) or once the count
// bound (here 2 keys) pushed a key out, a resend appends again.
func TestDedupWindowExpiry(t *testing.T) {
	_, addr := attached(t, nil, func(c *broker.Config) { c.DedupWindow, c.DedupMaxKeys = 200*time.Millisecond, 2 })
	first := sendUniq(t, addr, "0", "OLD")
	sameResult(t, "within the window", first, sendUniq(t, addr, "0", "OLD"))
	time.Sleep(250 * time.Millisecond) // the window is the point
	if r := sendUniq(t, addr, "0", "OLD"); r.Code != 0 || r.ExtFields["queueOffset"] != "1" {
		t.Fatalf("resend after the window: %d %v, want a new append at 1", r.Code, r.ExtFields)
	}
	for _, k := range []string{"K1", "K2", "K3"} {
		sendUniq(t, addr, "0", k)
	}
	if r := sendUniq(t, addr, "0", "K1"); r.ExtFields["queueOffset"] != "5" {
		t.Fatalf("resend of a key pushed out by 2 newer: %v, want a new append at 5", r.ExtFields)
	}
	if r := sendUniq(t, addr, "0", "K3"); r.ExtFields["queueOffset"] != "4" {
		t.Fatalf("resend of a key within the bound: %v, want the first append's 4", r.ExtFields)
	}
}

// TestDedupAcrossFailover: the new master rebuilds the index from the log,
// so a producer's resend after the master died answers the first append's
// result (the old master's msgId) instead of storing the message twice.
func TestDedupAcrossFailover(t *testing.T) {
	g := startGroup(t, 3)
	m, addr := g.master()
	if err := m.CreateTopic(t.Context(), topicT); err != nil {
		t.Fatal(err)
	}
	first := sendUniq(t, addr, "0", "ACROSS")
	sendUniq(t, addr, "0", "OTHER")
	for i, b := range g.brokers {
		if b == m {
			b.Close()
			g.brokers[i] = nil
		}
	}
	_, addr2 := g.master()
	sameResult(t, "resend to the new master", first, sendUniq(t, addr2, "0", "ACROSS"))
	if got := maxOffset(t, addr2, "T", "0"); got != "2" {
		t.Fatalf("max offset %s, want 2", got)
	}
	if r := sendUniq(t, addr2, "0", "NEW"); r.Code != 0 || r.ExtFields["queueOffset"] != "2" {
		t.Fatalf("a new key after failover: %d %v", r.Code, r.ExtFields)
	}
}

var topicT = namesrv.TopicConfig{TopicName: "T", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6}
