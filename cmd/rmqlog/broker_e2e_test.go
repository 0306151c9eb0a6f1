package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// remote sends one remoting request to addr over a connection of its own.
func remote(ctx context.Context, addr string, code remoting.RequestCode, ext map[string]string, body []byte) (*remoting.Command, error) {
	c, err := rpc.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Invoke(ctx, remoting.NewRequest(code, ext, body))
}

// TestBrokerEndToEnd: `rmqlog namesrv` and three `rmqlog serve` from the
// sample configs (free ports). Through the remoting protocol only: a topic
// created with UPDATE_AND_CREATE_TOPIC on the master is routed by the name
// server to that master's listenPort, a SEND_MESSAGE there is answered
// SUCCESS, and PULL_MESSAGE returns the message from every member. The
// native client port keeps answering beside it.
func TestBrokerEndToEnd(t *testing.T) {
	ns := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	np := start(t, "namesrv", "--listen", ns)
	poll.Eventually(t, 10*time.Second, "the name server runs", func() bool {
		return strings.Contains(np.output(), "rmqlog name server running")
	})
	c := newCluster(t, map[string]string{"namesrvAddr": ns})
	for _, id := range c.ids {
		c.start(id)
	}
	lead := c.leader() // over rmqlog's own client port
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The master is the leader's broker, once it has taken over.
	master := c.brokers[lead]
	topic := map[string]string{"topic": "E2E", "readQueueNums": "2", "writeQueueNums": "2", "perm": "6"}
	poll.EventuallyNil(t, 15*time.Second, "UPDATE_AND_CREATE_TOPIC on the master", func() error {
		r, err := remote(ctx, master, remoting.UpdateAndCreateTopic, topic, nil)
		if err == nil && r.Code != int32(remoting.Success) {
			err = fmt.Errorf("code %d: %s", r.Code, r.Remark)
		}
		return err
	})
	var route namesrv.Route
	poll.EventuallyNil(t, 15*time.Second, "the name server's route to the master", func() error {
		r, err := remote(ctx, ns, remoting.GetRouteInfoByTopic, map[string]string{"topic": "E2E"}, nil)
		if err != nil {
			return err
		}
		if r.Code != int32(remoting.Success) {
			return fmt.Errorf("code %d: %s", r.Code, r.Remark)
		}
		if route, err = namesrv.ParseRoute(r.Body); err != nil {
			return err
		}
		if len(route.BrokerDatas) != 1 || route.BrokerDatas[0].Addrs[namesrv.MasterID] != master {
			return fmt.Errorf("route %s, want master %s", r.Body, master)
		}
		return nil
	})
	bd := route.BrokerDatas[0]
	if bd.BrokerName != "RaftNode00" || bd.Cluster != "RaftCluster" || len(route.QueueDatas) != 1 || route.QueueDatas[0].WriteQueueNums != 2 {
		t.Fatalf("route: %+v", route)
	}

	r, err := remote(ctx, master, remoting.SendMessage, map[string]string{
		"producerGroup": "P", "topic": "E2E", "queueId": "1", "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
		"flag": "0", "reconsumeTimes": "0", "properties": "",
	}, []byte("hello broker"))
	if err != nil || r.Code != int32(remoting.Success) || r.ExtFields["queueOffset"] != "0" || r.ExtFields["msgId"] == "" {
		t.Fatalf("SEND_MESSAGE: %v %+v", err, r)
	}
	msgID := r.ExtFields["msgId"]
	for _, id := range c.ids {
		poll.EventuallyNil(t, 10*time.Second, "PULL_MESSAGE from "+id, func() error {
			r, err := remote(ctx, c.brokers[id], remoting.PullMessage, map[string]string{
				"consumerGroup": "C", "topic": "E2E", "queueId": "1", "queueOffset": "0", "maxMsgNums": "32", "sysFlag": "0",
				"commitOffset": "0", "suspendTimeoutMillis": "0", "subscription": "*", "subVersion": "0",
			}, nil)
			if err != nil {
				return err
			}
			if r.Code != int32(remoting.Success) {
				return fmt.Errorf("code %d: %s", r.Code, r.Remark)
			}
			m, size, err := commitlog.Decode(r.Body)
			if err != nil {
				return err
			}
			if size != len(r.Body) || string(m.Body) != "hello broker" || string(m.Topic) != "E2E" || m.QueueOffset != 0 ||
				commitlog.MessageID(m.StoreHost, m.PhysicalOffset) != msgID {
				return fmt.Errorf("pulled %d of %d bytes: %+v (sent as %s)", size, len(r.Body), m, msgID)
			}
			return nil
		})
	}
	out, code := runCmd(t, "status", "--addr", strings.Join(c.addrs(), ","))
	if code != 0 || !strings.Contains(out, "BROKER") || !strings.Contains(out, "RaftNode00@"+master+" applied=") ||
		strings.Count(out, " ready") != 1 {
		t.Fatalf("rmqlog status: exit %d, want the broker column with one ready master at %s\n%s", code, master, out)
	}
}
