// The Go client's orderly consumer races with itself
// (consumer/process_queue.go takeMessages reads msgCache.Empty() without
// its lock while pullMessage puts into it), which the race detector
// reports as a failure of this test; so it runs without -race only
// (`make test` runs compat/rocketmq without it).

//go:build !race

package rocketmq

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// TestOrderlyConsumer: an orderly push consumer (which consumes a queue
// only once the broker granted it the queue's lock, LOCK_BATCH_MQ)
// receives every message, each queue's in queue offset order.
func TestOrderlyConsumer(t *testing.T) {
	_, _, resolver := cluster(t)
	p, err := producer.NewDefaultProducer(producer.WithNsResolver(resolver), producer.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	const n = 40
	for i := range n {
		if _, err := p.SendSync(context.Background(), primitive.NewMessage(compatTopic, []byte(fmt.Sprint(i)))); err != nil {
			t.Fatal(err)
		}
	}
	c, err := consumer.NewPushConsumer(consumer.WithNsResolver(resolver), consumer.WithGroupName("orderly_group"),
		consumer.WithConsumerOrder(true), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	last := map[int]int64{}
	got := 0
	done := make(chan struct{})
	err = c.Subscribe(compatTopic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			q := m.Queue.QueueId
			if prev, ok := last[q]; ok && m.QueueOffset != prev+1 {
				t.Errorf("queue %d: offset %d after %d", q, m.QueueOffset, prev)
			}
			last[q] = m.QueueOffset
			if got++; got == n {
				close(done)
			}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("orderly consumer: %d of %d messages within 20 s", got, n)
	}
	t.Logf("%d messages over %d queues, each queue in order", n, len(last))
}
