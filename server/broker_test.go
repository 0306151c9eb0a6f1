package server

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// withBroker runs a broker on every server of a group, on a remoting port
// of its own beside the client port.
func withBroker(t *testing.T) func(*Config) {
	return func(cfg *Config) {
		rl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg.RemotingListener = rl
		cfg.Broker = &broker.Config{BrokerName: "b", BrokerAddr: rl.Addr().String(), MemberID: 1,
			Dir: cfg.Engine.Dir, SyncInterval: 20 * time.Millisecond}
	}
}

func remotingCall(t *testing.T, addr string, code remoting.RequestCode, ext map[string]string, body []byte) (*remoting.Command, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Invoke(ctx, remoting.NewRequest(code, ext, body))
}

// TestBroker: the server opens one node with the broker attached; the
// remoting port takes a topic, a send and a pull while the client port
// keeps serving; status shows the broker; Shutdown closes both ports.
func TestBroker(t *testing.T) {
	g := startGroup(t, 3, withBroker(t))
	l := g.leader()
	poll.Eventually(t, 10*time.Second, "the leader's broker ready", func() bool { return l.Broker().Status().Ready })
	addr := l.RemotingAddr().String()
	r, err := remotingCall(t, addr, remoting.UpdateAndCreateTopic, map[string]string{"topic": "T", "readQueueNums": "1", "writeQueueNums": "1", "perm": "6"}, nil)
	if err != nil || r.Code != 0 {
		t.Fatalf("create topic: %v %+v", err, r)
	}
	r, err = remotingCall(t, addr, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0", "bornTimestamp": "1"}, []byte("hello"))
	if err != nil || r.Code != 0 || r.ExtFields["queueOffset"] != "0" {
		t.Fatalf("send: %v %+v", err, r)
	}
	r, err = remotingCall(t, addr, remoting.PullMessage, map[string]string{"consumerGroup": "G", "topic": "T", "queueId": "0", "queueOffset": "0", "maxMsgNums": "8"}, nil)
	if err != nil || r.Code != 0 || len(r.Body) == 0 {
		t.Fatalf("pull: %v %+v", err, r)
	}
	d := l.StatusDoc()
	if d.Broker == nil || d.Broker.Name != "b" || d.Broker.RemotingAddr != addr || !d.Broker.Ready || d.Broker.Applied == 0 {
		t.Fatalf("status broker %+v", d.Broker)
	}
	if d.ClientAddr == addr {
		t.Fatalf("client and remoting share %s", addr)
	}
	c := dialRaw(t, l) // the native client port still answers
	code, body := c.call(proto.TypeStatus, nil)
	var doc proto.StatusDoc
	if err := json.Unmarshal(body, &doc); err != nil || code != proto.CodeOK || doc.Broker == nil || doc.Broker.Name != "b" {
		t.Fatalf("status over the client port: %v %v %s", code, err, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := remotingCall(t, addr, remoting.GetMaxOffset, map[string]string{"topic": "T", "queueId": "0"}, nil); err == nil {
		t.Fatal("the remoting port answers after Shutdown")
	}
	if _, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
		t.Fatal("the client port accepts after Shutdown")
	}
}
