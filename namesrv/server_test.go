package namesrv_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// clock is a settable time for the name server's expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// start runs a name server on 127.0.0.1 and returns its address.
func start(t *testing.T, cfg namesrv.Config) (*namesrv.Server, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := namesrv.New(cfg)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, rpc.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, l.Addr().String()
}

func call(t *testing.T, addr string, req *remoting.Command) *remoting.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

var master = namesrv.Registration{ClusterName: "DefaultCluster", BrokerName: "broker-a",
	BrokerAddr: "127.0.0.1:10911", HAServerAddr: "127.0.0.1:10912",
	Topics: map[string]namesrv.TopicConfig{"TopicTest": {ReadQueueNums: 4, WriteQueueNums: 4,
		Perm: namesrv.PermRead | namesrv.PermWrite}}}

func register(t *testing.T, addrs []string, reg namesrv.Registration) []namesrv.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := namesrv.Register(ctx, addrs, reg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func routeRequest(topic string, version int16) *remoting.Command {
	req := remoting.NewRequest(remoting.GetRouteInfoByTopic, map[string]string{"topic": topic}, nil)
	req.Version = version
	return req
}

// TestRoute: a registered master and slave make a route, in fastjson's
// form for a pre-4.9.4 client (the Go client sends 317) and standard JSON
// for a later one; an unknown topic is TOPIC_NOT_EXIST.
func TestRoute(t *testing.T) {
	_, addr := start(t, namesrv.Config{})
	register(t, []string{addr}, master)
	slave := master
	slave.BrokerID, slave.BrokerAddr = 1, "127.0.0.1:10921"
	res := register(t, []string{addr}, slave)
	if res[0].MasterAddr != master.BrokerAddr || res[0].HAServerAddr != master.HAServerAddr {
		t.Fatalf("slave's result %+v", res[0])
	}
	const brokers = `{"brokerDatas":[{"brokerAddrs":{%s},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],` +
		`"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	for _, tc := range []struct {
		version int16
		addrs   string
	}{
		{317, `0:"127.0.0.1:10911",1:"127.0.0.1:10921"`},
		{401, `"0":"127.0.0.1:10911","1":"127.0.0.1:10921"`},
	} {
		resp := call(t, addr, routeRequest("TopicTest", tc.version))
		want := strings.Replace(brokers, "%s", tc.addrs, 1)
		if resp.Code != 0 || string(resp.Body) != want {
			t.Fatalf("version %d: %d %s\nwant %s", tc.version, resp.Code, resp.Body, want)
		}
		r, err := namesrv.ParseRoute(resp.Body)
		if err != nil || r.BrokerDatas[0].Addrs[1] != "127.0.0.1:10921" || r.QueueDatas[0].WriteQueueNums != 4 {
			t.Fatalf("ParseRoute: %+v %v", r, err)
		}
	}
	resp := call(t, addr, routeRequest("Nope", 317))
	if resp.Code != int32(remoting.TopicNotExist) || !strings.Contains(resp.Remark, "Nope") {
		t.Fatalf("unknown topic: %d %q", resp.Code, resp.Remark)
	}
}

// TestClusterInfoAndTopics: the cluster info and the topic list as
// RocketMQ writes them.
func TestClusterInfoAndTopics(t *testing.T) {
	_, addr := start(t, namesrv.Config{})
	register(t, []string{addr}, master)
	resp := call(t, addr, remoting.NewRequest(remoting.GetBrokerClusterInfo, nil, nil))
	want := `{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"broker-a",` +
		`"cluster":"DefaultCluster","enableActingMaster":false}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}`
	if string(resp.Body) != want {
		t.Fatalf("cluster info %s\nwant %s", resp.Body, want)
	}
	ci, err := namesrv.ParseClusterInfo(resp.Body)
	if err != nil || ci.Brokers["broker-a"].Addrs[0] != "127.0.0.1:10911" || !reflect.DeepEqual(ci.Clusters["DefaultCluster"], []string{"broker-a"}) {
		t.Fatalf("ParseClusterInfo: %+v %v", ci, err)
	}
	resp = call(t, addr, remoting.NewRequest(remoting.GetAllTopicListFromNameServer, nil, nil))
	if string(resp.Body) != `{"topicList":["TopicTest"]}` {
		t.Fatalf("topic list %s", resp.Body)
	}
	if topics, err := namesrv.ParseTopicList(resp.Body); err != nil || !reflect.DeepEqual(topics, []string{"TopicTest"}) {
		t.Fatalf("ParseTopicList: %v %v", topics, err)
	}
}

// TestUnregisterAndUnsupported: UNREGISTER_BROKER removes the route; an
// unknown code is REQUEST_CODE_NOT_SUPPORTED.
func TestUnregisterAndUnsupported(t *testing.T) {
	s, addr := start(t, namesrv.Config{})
	register(t, []string{addr}, master)
	if _, err := namesrv.Unregister(context.Background(), []string{addr}, master); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Route("TopicTest"); ok {
		t.Fatal("route after unregistering")
	}
	resp := call(t, addr, remoting.NewRequest(remoting.SendMessage, nil, nil))
	if resp.Code != int32(remoting.RequestCodeNotSupported) {
		t.Fatalf("SEND_MESSAGE answered %d", resp.Code)
	}
}

// TestBadRegistration: a body whose CRC does not match, or a header
// without a required field, is SYSTEM_ERROR and registers nothing.
func TestBadRegistration(t *testing.T) {
	_, addr := start(t, namesrv.Config{})
	ext := map[string]string{"brokerName": "b", "brokerAddr": "a:1", "clusterName": "c",
		"haServerAddr": "", "brokerId": "0", "bodyCrc32": "12345"}
	resp := call(t, addr, remoting.NewRequest(remoting.RegisterBroker, ext, []byte(`{}`)))
	if resp.Code != int32(remoting.SystemError) || resp.Remark != "crc32 not match" {
		t.Fatalf("bad CRC answered %d %q", resp.Code, resp.Remark)
	}
	// A bodyCrc32 that is no number is refused, not read as 0 (no check):
	// the hostile campaign's register-garbage case found it accepted.
	ext["bodyCrc32"] = "x"
	resp = call(t, addr, remoting.NewRequest(remoting.RegisterBroker, ext, []byte(`{}`)))
	if resp.Code != int32(remoting.SystemError) || !strings.Contains(resp.Remark, "bodyCrc32") {
		t.Fatalf("bodyCrc32=x answered %d %q", resp.Code, resp.Remark)
	}
	delete(ext, "brokerId")
	delete(ext, "bodyCrc32")
	resp = call(t, addr, remoting.NewRequest(remoting.RegisterBroker, ext, nil))
	if resp.Code != int32(remoting.SystemError) || !strings.Contains(resp.Remark, "brokerId") {
		t.Fatalf("missing brokerId answered %d %q", resp.Code, resp.Remark)
	}
	if ci := call(t, addr, remoting.NewRequest(remoting.GetAllTopicListFromNameServer, nil, nil)); string(ci.Body) != `{"topicList":[]}` {
		t.Fatalf("topics after bad registrations: %s", ci.Body)
	}
}

// TestExpiry: a broker not heard from for BrokerExpiry is forgotten by the
// scan; registering again brings it back.
func TestExpiry(t *testing.T) {
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	s, addr := start(t, namesrv.Config{BrokerExpiry: 10 * time.Second, ScanInterval: time.Millisecond, Now: clk.Now})
	register(t, []string{addr}, master)
	clk.Add(10 * time.Second)
	if _, ok := s.Route("TopicTest"); !ok {
		t.Fatal("expired at the expiry")
	}
	clk.Add(time.Millisecond)
	poll.Eventually(t, 5*time.Second, "the broker expires", func() bool { _, ok := s.Route("TopicTest"); return !ok })
	register(t, []string{addr}, master)
	if _, ok := s.Route("TopicTest"); !ok {
		t.Fatal("no route after registering again")
	}
}

// TestRegisterEvery: Register reaches every name server of a
// namesrvAddr list, and reports the one that is down.
func TestRegisterEvery(t *testing.T) {
	s1, a1 := start(t, namesrv.Config{})
	s2, a2 := start(t, namesrv.Config{})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	down := l.Addr().String()
	l.Close()
	addrs := namesrv.ParseAddrs(a1 + "; " + a2 + ";" + down + ";")
	if !reflect.DeepEqual(addrs, []string{a1, a2, down}) {
		t.Fatalf("ParseAddrs: %v", addrs)
	}
	res, err := namesrv.Register(context.Background(), addrs, master)
	if err == nil || res[2].Err == nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("Register: %v %+v", err, res)
	}
	for _, s := range []*namesrv.Server{s1, s2} {
		if _, ok := s.Route("TopicTest"); !ok {
			t.Fatal("a name server has no route")
		}
	}
}

// TestOldBrokerBody: a registration of a version before V3_0_11 carries
// the topic wrapper alone as its body, as RocketMQ reads it.
func TestOldBrokerBody(t *testing.T) {
	s, addr := start(t, namesrv.Config{})
	ext := map[string]string{"brokerName": "b", "brokerAddr": "a:1", "clusterName": "c", "haServerAddr": "", "brokerId": "0"}
	req := remoting.NewRequest(remoting.RegisterBroker, ext,
		[]byte(`{"dataVersion":{"counter":1,"timestamp":2},"topicConfigTable":{"Old":{"topicName":"Old","readQueueNums":2,"writeQueueNums":2,"perm":6}}}`))
	req.Version = 36
	if resp := call(t, addr, req); resp.Code != 0 {
		t.Fatalf("old registration answered %d %q", resp.Code, resp.Remark)
	}
	if r, ok := s.Route("Old"); !ok || r.QueueDatas[0].WriteQueueNums != 2 {
		t.Fatalf("route %+v %v", r, ok)
	}
}
