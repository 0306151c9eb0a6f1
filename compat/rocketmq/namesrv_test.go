package rocketmq

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// serveOn runs h on a fresh 127.0.0.1 port until the test ends.
func serveOn(t *testing.T, h rpc.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := rpc.NewServer(h, rpc.ServerOptions{})
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, rpc.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

// fakeBroker records the SEND_MESSAGE requests that reach it and refuses
// them: it stands at the master address the route names, so a send that
// arrives there proves the client read that address from the route.
type fakeBroker struct {
	mu    sync.Mutex
	sends []map[string]string
}

func (b *fakeBroker) handle(_ context.Context, req *remoting.Command) *remoting.Command {
	if remoting.RequestCode(req.Code) == remoting.SendMessage {
		b.mu.Lock()
		b.sends = append(b.sends, req.ExtFields)
		b.mu.Unlock()
		return remoting.NewResponse(req, remoting.SystemError, "fake broker: sends are not stored")
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

func (b *fakeBroker) sent() []map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sends)
}

// TestNameServerRoutes: a broker registered with our name server through
// namesrv.Register is what the official Go client sees: the admin API
// lists the topic and its four queues on the broker's name, and a
// producer sends to the master address the route names (the client reads
// brokerAddrs, with fastjson's unquoted keys, by hand: internal/route.go).
func TestNameServerRoutes(t *testing.T) {
	rlog.SetLogLevel("error")
	broker := &fakeBroker{}
	brokerAddr := serveOn(t, broker.handle)
	nsAddr := startNameServer(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := namesrv.Registration{ClusterName: "DefaultCluster", BrokerName: "broker-a", BrokerAddr: brokerAddr,
		Topics: map[string]namesrv.TopicConfig{"TopicTest": {ReadQueueNums: 4, WriteQueueNums: 4,
			Perm: namesrv.PermRead | namesrv.PermWrite}}}
	if _, err := namesrv.Register(ctx, namesrv.ParseAddrs(nsAddr), reg); err != nil {
		t.Fatal(err)
	}

	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{nsAddr})))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	mqs, err := adm.FetchPublishMessageQueues(ctx, "TopicTest")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, mq := range mqs {
		if mq.Topic != "TopicTest" || mq.BrokerName != "broker-a" {
			t.Fatalf("queue %+v, want TopicTest on broker-a", mq)
		}
		ids = append(ids, mq.QueueId)
	}
	if slices.Sort(ids); !slices.Equal(ids, []int{0, 1, 2, 3}) {
		t.Fatalf("queue ids %v, want 0..3", ids)
	}
	topics, err := adm.FetchAllTopicList(ctx)
	if err != nil || !slices.Contains(topics.TopicList, "TopicTest") {
		t.Fatalf("topic list %+v, %v", topics, err)
	}
	if _, err := adm.FetchPublishMessageQueues(ctx, "NoSuchTopic"); err == nil {
		t.Fatal("queues of a topic nobody registered")
	}

	p, err := producer.NewDefaultProducer(producer.WithNsResolver(primitive.NewPassthroughResolver([]string{nsAddr})),
		producer.WithGroupName("compat_namesrv"), producer.WithRetry(0), producer.WithSendMsgTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	_, err = p.SendSync(ctx, primitive.NewMessage("TopicTest", []byte("hello")))
	if err == nil {
		t.Fatal("the fake broker's refusal reached the producer as a success")
	}
	sends := broker.sent()
	if len(sends) != 1 || sends[0]["topic"] != "TopicTest" {
		t.Fatalf("sends at the master address %s: %v (producer: %v)", brokerAddr, sends, err)
	}
}

// startNameServer runs our name server in process until the test ends.
func startNameServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ns := namesrv.New(namesrv.Config{})
	done := make(chan error, 1)
	go func() { done <- ns.Serve(l) }()
	t.Cleanup(func() {
		ns.Close()
		<-done
	})
	return l.Addr().String()
}
