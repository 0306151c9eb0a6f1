package broker_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/remoting"
)

// lockQueues sends LOCK_BATCH_MQ for queues qs of T and returns the ids
// locked (nil and the code when refused).
func lockQueues(t *testing.T, addr string, code remoting.RequestCode, client string, qs ...int) ([]int, int32) {
	t.Helper()
	var mqs []broker.MessageQueue
	for _, q := range qs {
		mqs = append(mqs, broker.MessageQueue{Topic: "T", BrokerName: "b", QueueID: q})
	}
	body, _ := json.Marshal(map[string]any{"consumerGroup": "G", "clientId": client, "mqSet": mqs})
	r := invoke(t, addr, code, nil, body)
	if r.Code != 0 || code == remoting.UnlockBatchMQ {
		return nil, r.Code
	}
	var ok struct {
		MQs []broker.MessageQueue `json:"lockOKMQSet"`
	}
	if err := json.Unmarshal(r.Body, &ok); err != nil {
		t.Fatalf("lock answer %s: %v", r.Body, err)
	}
	ids := []int{}
	for _, mq := range ok.MQs {
		ids = append(ids, mq.QueueID)
	}
	return ids, 0
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestQueueLocks: a queue locked by one client is refused to another
// until it is unlocked or its lock expires (here 1 s); its holder
// renews it.
func TestQueueLocks(t *testing.T) {
	_, addr := attached(t, nil, func(c *broker.Config) { c.LockExpiry = time.Second })
	for _, step := range []struct {
		client string
		qs     []int
		want   []int
	}{
		{"A", []int{0, 1}, []int{0, 1}},
		{"B", []int{1, 2}, []int{2}},
		{"A", []int{0, 1, 2}, []int{0, 1}}, // renews its own, not B's
	} {
		if got, _ := lockQueues(t, addr, remoting.LockBatchMQ, step.client, step.qs...); !sameInts(got, step.want) {
			t.Fatalf("%s locks %v: got %v, want %v", step.client, step.qs, got, step.want)
		}
	}
	lockQueues(t, addr, remoting.UnlockBatchMQ, "B", 0, 1) // not B's: nothing happens
	lockQueues(t, addr, remoting.UnlockBatchMQ, "A", 1)
	if got, _ := lockQueues(t, addr, remoting.LockBatchMQ, "B", 0, 1); !sameInts(got, []int{1}) {
		t.Fatalf("B after A unlocked 1: %v", got)
	}
	time.Sleep(1100 * time.Millisecond) // the expiry is the point
	if got, _ := lockQueues(t, addr, remoting.LockBatchMQ, "B", 0); !sameInts(got, []int{0}) {
		t.Fatalf("B after A's lock expired: %v", got)
	}
}

// TestLocksAfterFailover: locks live on the master only; a slave refuses
// LOCK_BATCH_MQ, and a new master starts with none (clients lock again).
func TestLocksAfterFailover(t *testing.T) {
	g := startGroup(t, 3)
	m, addr := g.master()
	if got, _ := lockQueues(t, addr, remoting.LockBatchMQ, "A", 0); !sameInts(got, []int{0}) {
		t.Fatalf("lock: %v", got)
	}
	for i, b := range g.brokers {
		if b == m {
			b.Close()
			g.brokers[i] = nil
			continue
		}
		if b.Status().Ready {
			continue
		}
		if _, code := lockQueues(t, g.addrs[i], remoting.LockBatchMQ, "B", 0); code != int32(remoting.ServiceNotAvailable) {
			t.Fatalf("lock on a slave: code %d", code)
		}
	}
	_, addr2 := g.master()
	if got, _ := lockQueues(t, addr2, remoting.LockBatchMQ, "B", 0); !sameInts(got, []int{0}) {
		t.Fatalf("B on the new master: %v", got)
	}
}
