package admin_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/admin"
	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// serve runs h on 127.0.0.1 until the test ends and returns its address.
func serve(t *testing.T, h rpc.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := rpc.NewServer(h, rpc.ServerOptions{})
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().String()
}

// fakeBroker answers the operator calls from fixed offsets: queue q's max
// offset is 10+q, its min 5, the group G's committed offset 7 on queue 0
// and none (QUERY_NOT_FOUND) on the others; one consumer of G is online.
type fakeBroker struct {
	mu      sync.Mutex
	created []map[string]string // UPDATE_AND_CREATE_TOPIC headers
}

func (f *fakeBroker) mux() rpc.Mux {
	offset := func(req *remoting.Command, n int64) *remoting.Command {
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.ExtFields = map[string]string{"offset": strconv.FormatInt(n, 10)}
		return resp
	}
	q := func(req *remoting.Command) int64 {
		n, _ := strconv.ParseInt(req.ExtFields["queueId"], 10, 64)
		return n
	}
	return rpc.Mux{
		remoting.UpdateAndCreateTopic: func(_ context.Context, req *remoting.Command) *remoting.Command {
			f.mu.Lock()
			f.created = append(f.created, req.ExtFields)
			f.mu.Unlock()
			return remoting.NewResponse(req, remoting.Success, "")
		},
		remoting.GetMaxOffset: func(_ context.Context, req *remoting.Command) *remoting.Command { return offset(req, 10+q(req)) },
		remoting.GetMinOffset: func(_ context.Context, req *remoting.Command) *remoting.Command { return offset(req, 5) },
		remoting.QueryConsumerOffset: func(_ context.Context, req *remoting.Command) *remoting.Command {
			if req.ExtFields["consumerGroup"] == "G" && q(req) == 0 {
				return offset(req, 7)
			}
			return remoting.NewResponse(req, remoting.QueryNotFound, "not found")
		},
		remoting.GetConsumerListByGroup: func(_ context.Context, req *remoting.Command) *remoting.Command {
			if req.ExtFields["consumerGroup"] != "G" {
				return remoting.NewResponse(req, remoting.SystemError, "no consumer for this group")
			}
			resp := remoting.NewResponse(req, remoting.Success, "")
			resp.Body = []byte(`{"consumerIdList":["10.0.0.1@1"]}`)
			return resp
		},
	}
}

// setup: a name server knowing broker-a (a master, the fake broker),
// broker-b (a slave alone, so no queues in routes) and broker-c (a master
// nobody answers at), each with topic T of 2 queues.
func setup(t *testing.T) (ns string, master string, fb *fakeBroker) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := namesrv.New(namesrv.Config{})
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	ns = l.Addr().String()
	fb = &fakeBroker{}
	master = serve(t, fb.mux().Handle)
	topics := map[string]namesrv.TopicConfig{"T": {ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, reg := range []namesrv.Registration{
		{ClusterName: "C", BrokerName: "broker-a", BrokerAddr: master, Topics: topics},
		{ClusterName: "C", BrokerName: "broker-b", BrokerAddr: "127.0.0.1:2", BrokerID: 2, Topics: topics},
		{ClusterName: "C", BrokerName: "broker-c", BrokerAddr: "127.0.0.1:1", Topics: topics},
	} {
		if _, err := namesrv.Register(ctx, []string{ns}, reg); err != nil {
			t.Fatal(err)
		}
	}
	return ns, master, fb
}

func TestCreateTopic(t *testing.T) {
	ns, master, fb := setup(t)
	ctx := context.Background()
	res, err := admin.CreateTopic(ctx, []string{"127.0.0.1:1", ns}, admin.TopicSpec{Topic: "N", Queues: 3, Perm: namesrv.PermRead})
	if !errors.Is(err, admin.ErrNoMaster) || len(res) != 3 || res[0].Err != "" || res[0].Master != master || res[1].Err == "" || res[2].Err == "" {
		t.Fatalf("CreateTopic: %+v %v, want broker-a done, broker-b without a master, broker-c unreachable", res, err)
	}
	// The handler runs on the server's goroutine: read what it recorded
	// under its lock (the answer's bytes on the socket are no
	// happens-before edge the race detector sees).
	fb.mu.Lock()
	created := fb.created
	fb.mu.Unlock()
	if len(created) != 1 || created[0]["topic"] != "N" || created[0]["readQueueNums"] != "3" ||
		created[0]["writeQueueNums"] != "3" || created[0]["perm"] != "4" {
		t.Fatalf("UPDATE_AND_CREATE_TOPIC headers %v", created)
	}
	if _, err := admin.CreateTopic(ctx, []string{ns}, admin.TopicSpec{Topic: "N", Queues: 1, Broker: "broker-a"}); err != nil {
		t.Fatalf("--broker broker-a: %v", err)
	}
	if _, err := admin.CreateTopic(ctx, []string{ns}, admin.TopicSpec{Topic: "N", Queues: 1, Broker: "x"}); !errors.Is(err, admin.ErrUnknownBroker) {
		t.Fatalf("unknown broker: %v", err)
	}
	if _, err := admin.CreateTopic(ctx, []string{"127.0.0.1:1"}, admin.TopicSpec{Topic: "N", Queues: 1}); !errors.Is(err, admin.ErrNameServer) {
		t.Fatalf("no name server: %v", err)
	}
}

func TestListTopics(t *testing.T) {
	ns, master, _ := setup(t)
	topics, err := admin.ListTopics(context.Background(), []string{ns})
	if err != nil || len(topics) != 1 || topics[0].Topic != "T" || len(topics[0].Brokers) != 2 {
		t.Fatalf("ListTopics: %+v %v", topics, err)
	}
	a, b := topics[0].Brokers[0], topics[0].Brokers[1]
	if a != (admin.TopicQueue{Broker: "broker-a", ReadQueues: 2, WriteQueues: 2, Perm: "rw", Master: master}) || b.Broker != "broker-c" || b.Master != "127.0.0.1:1" {
		t.Fatalf("brokers %+v", topics[0].Brokers)
	}
}

// TestConsumerProgress: a committed offset gives lag max-committed; none
// gives lag max-min and consumer offset -1; a broker group whose master
// cannot be reached reports the error per queue.
func TestConsumerProgress(t *testing.T) {
	ns, master, _ := setup(t)
	p, err := admin.ConsumerProgress(context.Background(), []string{ns}, "G", "T")
	want := []admin.QueueProgress{
		{Topic: "T", Broker: "broker-a", QueueID: 0, BrokerOffset: 10, ConsumerOffset: 7, Lag: 3, Addr: master},
		{Topic: "T", Broker: "broker-a", QueueID: 1, BrokerOffset: 11, ConsumerOffset: -1, Lag: 6, Addr: master},
	}
	if err == nil || len(p.Queues) != 4 || p.Queues[0] != want[0] || p.Queues[1] != want[1] || p.Queues[2].Err == "" || p.TotalLag != 9 ||
		len(p.Consumers) != 1 || p.Consumers[0] != "10.0.0.1@1" {
		t.Fatalf("ConsumerProgress: %+v %v\nwant first %+v and broker-b unreachable", p, err, want)
	}
	if _, err := admin.ConsumerProgress(context.Background(), []string{ns}, "Other", "T"); !errors.Is(err, admin.ErrUnknownGroup) {
		t.Fatalf("unknown group: %v", err)
	}
	if _, err := admin.ConsumerProgress(context.Background(), []string{ns}, "G", "Nope"); !errors.Is(err, admin.ErrUnknownTopic) {
		t.Fatalf("unknown topic: %v", err)
	}
}

func TestParsePerm(t *testing.T) {
	for _, tc := range []struct {
		in   string
		perm int
		ok   bool
	}{{"rw", 6, true}, {"RW", 6, true}, {"wr", 6, true}, {"r", 4, true}, {"w", 2, true}, {"x", 0, false}, {"", 0, false}} {
		p, err := admin.ParsePerm(tc.in)
		if p != tc.perm || (err == nil) != tc.ok {
			t.Errorf("ParsePerm(%q) = %d, %v", tc.in, p, err)
		}
		if tc.ok && admin.PermString(p) != map[int]string{6: "rw", 4: "r", 2: "w"}[p] {
			t.Errorf("PermString(%d) = %q", p, admin.PermString(p))
		}
	}
}
