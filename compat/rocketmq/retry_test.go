package rocketmq

import (
	"context"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqlog/rmqlog/namesrv"
)

// waitRoute waits until the name server routes topic.
func waitRoute(t *testing.T, ns *namesrv.Server, topic string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if r, ok := ns.Route(topic); ok && len(r.BrokerDatas) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no route of %s within 10 s", topic)
		}
	}
}

// TestRetryAndDLQ: a push consumer that returns ConsumeRetryLater for a
// message sees it again through %RETRY%<group> (the broker's send-back,
// delay level 3 + reconsume times, here 100 ms each), with its topic, body
// and message id as sent and its reconsume times counting up; after
// maxReconsumeTimes (2) the message is in %DLQ%<group>, which another
// group consumes. The retry topic is created by the broker on the group's
// first heartbeat (as the Java broker's heartbeat does); the Go client
// learns a topic's route when it starts or at its 30 s poll, so a first
// consumer instance starts and stops before the one under test.
func TestRetryAndDLQ(t *testing.T) {
	_, ns, resolver := cluster(t)
	const group = "retry_group"
	newConsumer := func(instance string, fn func(*primitive.MessageExt) consumer.ConsumeResult) rocketmq.PushConsumer {
		c, err := consumer.NewPushConsumer(consumer.WithNsResolver(resolver), consumer.WithGroupName(group),
			consumer.WithInstance(instance), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
			consumer.WithMaxReconsumeTimes(2))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Subscribe(compatTopic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			res := consumer.ConsumeSuccess
			for _, m := range msgs {
				if fn(m) == consumer.ConsumeRetryLater {
					res = consumer.ConsumeRetryLater
				}
			}
			return res, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	warm := newConsumer("warm", func(*primitive.MessageExt) consumer.ConsumeResult { return consumer.ConsumeSuccess })
	waitRoute(t, ns, "%RETRY%"+group)
	warm.Shutdown()

	var mu sync.Mutex
	var seen []*primitive.MessageExt
	c := newConsumer("failing", func(m *primitive.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, m)
		return consumer.ConsumeRetryLater
	})
	defer c.Shutdown()

	p, err := producer.NewDefaultProducer(producer.WithNsResolver(resolver), producer.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	msg := primitive.NewMessage(compatTopic, []byte("always fails")).WithTag("TagF").WithKeys([]string{"kf"})
	r, err := p.SendSync(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}

	waitRoute(t, ns, "%DLQ%"+group)
	dead := consumeTopic(t, resolver, "%DLQ%"+group, "dlq_reader", "dlq", 1)
	for _, m := range dead {
		if string(m.Body) != "always fails" || m.MsgId != r.MsgID || m.ReconsumeTimes != 3 || m.GetProperty("RETRY_TOPIC") != compatTopic || m.GetTags() != "TagF" {
			t.Fatalf("dead letter: body %q id %s (sent %s) reconsume %d retry topic %q tags %q", m.Body, m.MsgId, r.MsgID, m.ReconsumeTimes, m.GetProperty("RETRY_TOPIC"), m.GetTags())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("the failing consumer saw the message %d times, want 3 (first delivery and 2 retries)", len(seen))
	}
	for i, m := range seen {
		if m.Topic != compatTopic || string(m.Body) != "always fails" || m.MsgId != r.MsgID || int(m.ReconsumeTimes) != i {
			t.Fatalf("delivery %d: topic %s body %q id %s (sent %s) reconsume %d", i, m.Topic, m.Body, m.MsgId, r.MsgID, m.ReconsumeTimes)
		}
	}
	t.Logf("consumed 3 times (reconsume 0, 1, 2), then in %%DLQ%%%s with reconsume times 3", group)
}

// TestDelayedSend: a producer's message with a delay level
// (WithDelayTimeLevel; 100 ms here) is consumed from its topic, as sent,
// once its delay passed, and once.
func TestDelayedSend(t *testing.T) {
	_, _, resolver := cluster(t)
	p, err := producer.NewDefaultProducer(producer.WithNsResolver(resolver), producer.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	msg := primitive.NewMessage(compatTopic, []byte("later")).WithTag("TagD").WithDelayTimeLevel(3)
	sentAt := time.Now()
	r, err := p.SendSync(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	got := consumeTopic(t, resolver, compatTopic, "delay_group", "d", 1)
	for _, m := range got {
		if string(m.Body) != "later" || m.MsgId != r.MsgID || m.GetTags() != "TagD" || m.Topic != compatTopic {
			t.Fatalf("delayed message: body %q id %s (sent %s) tags %q topic %s", m.Body, m.MsgId, r.MsgID, m.GetTags(), m.Topic)
		}
		if stored := time.UnixMilli(m.StoreTimestamp); stored.Before(sentAt.Add(100 * time.Millisecond)) {
			t.Fatalf("delivered %v after the send, level 3 is 100 ms here", stored.Sub(sentAt))
		}
	}
}
