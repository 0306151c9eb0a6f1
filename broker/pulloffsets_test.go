package broker_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/remoting"
)

// TestPullCommitsOffset: a pull with FLAG_COMMIT_OFFSET to the master
// commits its commitOffset through the log (every member has it); one to
// a slave commits nothing (RocketMQ commits on the master only).
func TestPullCommitsOffset(t *testing.T) {
	g := startGroup(t, 3)
	m, addr := g.master()
	if err := m.CreateTopic(t.Context(), topicT); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0"}, []byte("m")); r.Code != 0 {
			t.Fatal(r.Remark)
		}
	}
	pull := func(addr string, commit int) {
		r := invoke(t, addr, remoting.PullMessage, map[string]string{"consumerGroup": "G", "topic": "T", "queueId": "0", "queueOffset": "0",
			"maxMsgNums": "32", "sysFlag": "1", "commitOffset": strconv.Itoa(commit)}, nil)
		if r.Code != 0 && r.Code != int32(remoting.PullNotFound) {
			t.Fatalf("pull: %d %s", r.Code, r.Remark)
		}
	}
	pull(addr, 2)
	waitOffset := func(b *broker.Broker, want int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if off, ok := b.ConsumerOffset("G", "T", 0); ok && off == want {
				return
			}
			if time.Now().After(deadline) {
				off, ok := b.ConsumerOffset("G", "T", 0)
				t.Fatalf("consumer offset %d %v, want %d", off, ok, want)
			}
		}
	}
	for _, b := range g.brokers {
		waitOffset(b, 2)
	}
	for i, b := range g.brokers {
		if b != m {
			pull(g.addrs[i], 1) // a slave: not committed
		}
	}
	time.Sleep(300 * time.Millisecond) // three commit ticks: nothing may change
	if off, _ := m.ConsumerOffset("G", "T", 0); off != 2 {
		t.Fatalf("a slave's pull changed the offset to %d", off)
	}
	pull(addr, 3)
	for _, b := range g.brokers {
		waitOffset(b, 3)
	}
}

// TestSuggestSlave: with SlaveReadEnable, a pull answer suggests broker
// id 1 while what is left to read is more than SlaveReadLag bytes, and
// the master (0) once the consumer is close to the end; without it,
// always the master.
func TestSuggestSlave(t *testing.T) {
	for _, enable := range []bool{true, false} {
		_, addr := attached(t, nil, func(c *broker.Config) { c.SlaveReadEnable, c.SlaveReadLag = enable, 1000 })
		for range 10 {
			if r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0"}, make([]byte, 200)); r.Code != 0 {
				t.Fatal(r.Remark)
			}
		}
		for _, tc := range []struct {
			off  int
			want string
		}{{0, "1"}, {9, "0"}} {
			if !enable {
				tc.want = "0"
			}
			r := invoke(t, addr, remoting.PullMessage, map[string]string{"topic": "T", "queueId": "0", "queueOffset": strconv.Itoa(tc.off), "maxMsgNums": "1"}, nil)
			if r.Code != 0 || r.ExtFields["suggestWhichBrokerId"] != tc.want {
				t.Fatalf("slave read %v, pull at %d: %d, suggest %q, want %s", enable, tc.off, r.Code, r.ExtFields["suggestWhichBrokerId"], tc.want)
			}
		}
	}
}
