package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// TestNamesrv: the real binary serves as a name server; a broker
// registers, its route reads back, and SIGTERM stops it cleanly.
func TestNamesrv(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	p := start(t, "namesrv", "--listen", addr)
	poll.Eventually(t, 10*time.Second, "the name server runs", func() bool {
		return strings.Contains(p.output(), "rmqlog name server running")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reg := namesrv.Registration{ClusterName: "DefaultCluster", BrokerName: "broker-a", BrokerAddr: "127.0.0.1:30911",
		Topics: map[string]namesrv.TopicConfig{"TopicTest": {ReadQueueNums: 4, WriteQueueNums: 4, Perm: namesrv.PermRead | namesrv.PermWrite}}}
	if _, err := namesrv.Register(ctx, namesrv.ParseAddrs(addr), reg); err != nil {
		t.Fatal(err)
	}
	c, err := rpc.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Invoke(ctx, remoting.NewRequest(remoting.GetRouteInfoByTopic, map[string]string{"topic": "TopicTest"}, nil))
	if err != nil || resp.Code != 0 {
		t.Fatalf("route: %+v %v", resp, err)
	}
	r, err := namesrv.ParseRoute(resp.Body)
	if err != nil || r.BrokerDatas[0].Addrs[namesrv.MasterID] != reg.BrokerAddr || r.QueueDatas[0].WriteQueueNums != 4 {
		t.Fatalf("route %s: %+v %v", resp.Body, r, err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != 0 || !strings.Contains(p.output(), "stopped cleanly") {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
}
