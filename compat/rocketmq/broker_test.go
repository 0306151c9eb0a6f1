package rocketmq

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/namesrv"
)

const compatTopic = "CompatTopic"

// startBrokers runs a 3-member rmqlog broker group (one Raft group, one
// brokerName) on 127.0.0.1, registered with the name server at nsAddr,
// and returns its ready master once the name server routes compatTopic
// (4 queues) to it.
func startBrokers(t *testing.T, nsAddr string, ns func(string) (namesrv.Route, bool)) *broker.Broker {
	t.Helper()
	const n = 3
	peers := map[string]string{}
	var peerLs, ls []net.Listener
	for i := range n {
		pl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		peers[fmt.Sprintf("n%d", i)] = pl.Addr().String()
		peerLs, ls = append(peerLs, pl), append(ls, l)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var bs []*broker.Broker
	for i := range n {
		dir := t.TempDir()
		b, err := broker.Open(broker.Config{
			BrokerName: "broker-a", BrokerAddr: ls[i].Addr().String(), MemberID: int64(i + 1),
			NamesrvAddr: nsAddr, Dir: dir, Logger: quiet, DelayLevels: fastLevels,
			Engine: engine.Config{
				Group: "broker-a", ID: fmt.Sprintf("n%d", i), Peers: peers, Listener: peerLs[i], Dir: dir,
				FlushMode: flush.SyncFlush, SegmentSize: 8 << 20, IndexEntries: 4096, Logger: quiet,
			},
		}, ls[i])
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
		t.Cleanup(func() { b.Close() })
	}
	deadline := time.Now().Add(15 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, b := range bs {
			if !b.Status().Ready {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := b.CreateTopic(ctx, namesrv.TopicConfig{TopicName: compatTopic, ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6})
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			for ; time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if r, ok := ns(compatTopic); ok && len(r.BrokerDatas) == 1 && r.BrokerDatas[0].Addrs[0] != "" {
					return b
				}
			}
		}
	}
	t.Fatal("no master with the topic routed within 15 s")
	return nil
}

// fastLevels replaces RocketMQ's delay levels (1 s to 2 h) so that
// retries take 100 ms each and the suite stays short.
var fastLevels = func() []time.Duration {
	l := make([]time.Duration, 18)
	for i := range l {
		l[i] = 100 * time.Millisecond
	}
	return l
}()

// cluster starts a name server and a 3-member broker group; it returns
// the ready master, the name server and a resolver for the client.
func cluster(t *testing.T) (*broker.Broker, *namesrv.Server, primitive.NsResolver) {
	t.Helper()
	rlog.SetLogLevel("error")
	ns := namesrv.New(namesrv.Config{})
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ns.Serve(nl)
	t.Cleanup(func() { ns.Close() })
	master := startBrokers(t, nl.Addr().String(), ns.Route)
	return master, ns, primitive.NewPassthroughResolver([]string{nl.Addr().String()})
}

// sent is what the producer sent and the broker answered.
type sent struct {
	msg      *primitive.Message
	offsetID string
	queueID  int
	queueOff int64 // -1: a batch member after the first (no offset in the answer)
}

// TestBrokerEndToEnd: the official Go client, unmodified, against our
// name server and a 3-member rmqlog broker group. A producer sends with
// SendSync, SendAsync and a batch, with tags, keys and a user property
// (and resends one message: the same UNIQ_KEY answers the first append's
// result and is consumed once); a
// push consumer (clustering) receives every message equal to what was
// sent (body, topic, tags, keys, properties, queue id, queue offset,
// commit log offset, both message ids); after a consumer restart the
// committed offsets hold: the new consumer receives only what was sent
// after.
func TestBrokerEndToEnd(t *testing.T) {
	master, _, resolver := cluster(t)
	p, err := producer.NewDefaultProducer(producer.WithNsResolver(resolver), producer.WithGroupName("compat_producer"),
		producer.WithRetry(2), producer.WithSendMsgTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var mu sync.Mutex
	var all []sent
	newMsg := func(kind string, i int) *primitive.Message {
		m := primitive.NewMessage(compatTopic, []byte(fmt.Sprintf("%s-%d", kind, i)))
		m.WithTag("Tag" + kind).WithKeys([]string{fmt.Sprintf("k-%s-%d", kind, i), "shared"})
		m.WithProperty("origin", kind)
		return m
	}
	record := func(r *primitive.SendResult, msgs ...*primitive.Message) {
		ids := strings.Split(r.OffsetMsgID, ",")
		if len(ids) != len(msgs) {
			t.Errorf("%d offset ids for %d messages: %q", len(ids), len(msgs), r.OffsetMsgID)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for i, m := range msgs {
			off := r.QueueOffset + int64(i)
			all = append(all, sent{m, ids[i], r.MessageQueue.QueueId, off})
		}
	}
	const nSync, nAsync, nBatch = 12, 12, 6
	for i := range nSync {
		m := newMsg("sync", i)
		r, err := p.SendSync(ctx, m)
		if err != nil || r.Status != primitive.SendOK {
			t.Fatalf("SendSync %d: %v %v", i, r, err)
		}
		record(r, m)
		if i == 0 { // a producer's resend of the same message (same UNIQ_KEY): stored once
			r2, err := p.SendSync(ctx, m)
			if err != nil || r2.OffsetMsgID != r.OffsetMsgID || r2.QueueOffset != r.QueueOffset || r2.MsgID != r.MsgID {
				t.Fatalf("resend: %v %v, first send %v", r2, err, r)
			}
		}
	}
	var wg sync.WaitGroup
	for i := range nAsync {
		m := newMsg("async", i)
		wg.Add(1)
		err := p.SendAsync(ctx, func(_ context.Context, r *primitive.SendResult, err error) {
			defer wg.Done()
			if err != nil || r.Status != primitive.SendOK {
				t.Errorf("SendAsync %d: %v %v", i, r, err)
				return
			}
			record(r, m)
		}, m)
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	var batch []*primitive.Message
	for i := range nBatch {
		batch = append(batch, newMsg("batch", i))
	}
	r, err := p.SendSync(ctx, batch...)
	if err != nil || r.Status != primitive.SendOK {
		t.Fatalf("batch: %v %v", r, err)
	}
	record(r, batch...)
	if t.Failed() {
		t.FailNow()
	}

	got := consume(t, resolver, "compat_group", "c1", len(all))
	if len(got) != len(all) {
		t.Fatalf("consumed %d distinct messages, sent %d", len(got), len(all))
	}
	for _, s := range all {
		m, ok := got[s.offsetID]
		if !ok {
			t.Fatalf("message %s (%s) never consumed", s.offsetID, s.msg.Body)
		}
		checkReceived(t, s, m)
	}

	// Committed offsets: the consumer's shutdown sent them; once the
	// master applied them, a restarted consumer of the group receives
	// only the messages sent after.
	waitOffsets(t, master, "compat_group", all)
	var after []sent
	for i := range 4 {
		m := newMsg("after", i)
		r, err := p.SendSync(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		after = append(after, sent{m, r.OffsetMsgID, r.MessageQueue.QueueId, r.QueueOffset})
	}
	got = consume(t, resolver, "compat_group", "c2", len(after))
	if len(got) != len(after) {
		t.Fatalf("restarted consumer got %d messages, want the %d sent after the restart", len(got), len(after))
	}
	for _, s := range after {
		m, ok := got[s.offsetID]
		if !ok {
			t.Fatalf("message %s never consumed after the restart", s.msg.Body)
		}
		checkReceived(t, s, m)
	}
	t.Logf("sync %d, async %d, batch %d (one entry), after restart %d: all consumed once, equal to what was sent", nSync, nAsync, nBatch, len(after))
}

// consume runs a clustering push consumer of group until it has want
// distinct messages (and a short quiet time for duplicates), then shuts it
// down. It returns the messages by offset message id; a duplicate fails.
func consume(t *testing.T, resolver primitive.NsResolver, group, instance string, want int) map[string]*primitive.MessageExt {
	return consumeTopic(t, resolver, compatTopic, group, instance, want)
}

// consumeTopic is consume for any topic.
func consumeTopic(t *testing.T, resolver primitive.NsResolver, topic, group, instance string, want int) map[string]*primitive.MessageExt {
	t.Helper()
	c, err := consumer.NewPushConsumer(consumer.WithNsResolver(resolver), consumer.WithGroupName(group),
		consumer.WithInstance(instance), consumer.WithConsumerModel(consumer.Clustering),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]*primitive.MessageExt{}
	done := make(chan struct{})
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if _, dup := got[m.OffsetMsgId]; dup {
				t.Errorf("duplicate %s", m.OffsetMsgId)
			}
			got[m.OffsetMsgId] = m
		}
		if len(got) == want {
			close(done)
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		mu.Lock()
		n := len(got)
		mu.Unlock()
		c.Shutdown()
		t.Fatalf("consumer %s: %d of %d messages within 30 s", instance, n, want)
	}
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return maps.Clone(got)
}

func checkReceived(t *testing.T, s sent, m *primitive.MessageExt) {
	t.Helper()
	what := string(s.msg.Body)
	if string(m.Body) != what || m.Topic != compatTopic || m.GetTags() != s.msg.GetTags() || m.GetKeys() != s.msg.GetKeys() {
		t.Fatalf("%s: received body %q topic %q tags %q keys %q", what, m.Body, m.Topic, m.GetTags(), m.GetKeys())
	}
	for k, v := range s.msg.GetProperties() {
		if m.GetProperty(k) != v {
			t.Fatalf("%s: property %s = %q, sent %q", what, k, m.GetProperty(k), v)
		}
	}
	if m.Queue.QueueId != s.queueID || m.QueueOffset != s.queueOff {
		t.Fatalf("%s: received queue %d offset %d, the send answered queue %d offset %d", what, m.Queue.QueueId, m.QueueOffset, s.queueID, s.queueOff)
	}
	_, phys, err := commitlog.ParseMessageID(s.offsetID)
	if err != nil || m.CommitLogOffset != phys || m.OffsetMsgId != s.offsetID {
		t.Fatalf("%s: commit log offset %d, offset id %s; the send answered %s (%v)", what, m.CommitLogOffset, m.OffsetMsgId, s.offsetID, err)
	}
	if !strings.HasPrefix(m.BornHost, "127.0.0.1:") || m.StoreTimestamp < m.BornTimestamp || m.BornTimestamp == 0 {
		t.Fatalf("%s: born host %q, born %d, stored %d", what, m.BornHost, m.BornTimestamp, m.StoreTimestamp)
	}
	if uniq := s.msg.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex); uniq != "" && m.MsgId != uniq {
		t.Fatalf("%s: msg id %s, sent with UNIQ_KEY %s", what, m.MsgId, uniq)
	}
}

// waitOffsets waits until the master has applied a committed offset of
// group past every sent message.
func waitOffsets(t *testing.T, b *broker.Broker, group string, all []sent) {
	t.Helper()
	want := map[int]int64{}
	for _, s := range all {
		want[s.queueID] = max(want[s.queueID], s.queueOff+1)
	}
	deadline := time.Now().Add(10 * time.Second)
	for q, w := range want {
		for {
			off, ok := b.ConsumerOffset(group, compatTopic, int32(q))
			if ok && off >= w {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("queue %d: committed offset %d (%v), want %d", q, off, ok, w)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
