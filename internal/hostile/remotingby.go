package hostile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// The remoting bystander's cycle: a SEND_MESSAGE to the target's topic
// (queue 0) on the broker's listenPort, a PULL_MESSAGE of that message
// back, and a GET_ROUTEINFO_BY_TOPIC of the topic on the name server.

// errRemotingBusy marks an answer a healthy RocketMQ client retries:
// SYSTEM_BUSY or SERVICE_NOT_AVAILABLE (a master catching up), or a
// connection the node closed (the client redials).
var errRemotingBusy = errors.New("hostile: broker busy or connection lost")

// remotingTransient is the remoting bystander's transient.
func remotingTransient(err error) bool {
	return errors.Is(err, errRemotingBusy) && !errors.Is(err, context.DeadlineExceeded)
}

// conns keeps one rpc client per address and redials after a failure.
type conns struct {
	mu sync.Mutex // guards m
	m  map[string]*rpc.Client
}

func (c *conns) invoke(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	c.mu.Lock()
	cl := c.m[addr]
	c.mu.Unlock()
	if cl == nil {
		var err error
		if cl, err = rpc.Dial(ctx, addr); err != nil {
			return nil, fmt.Errorf("%w: %w", errRemotingBusy, err)
		}
		c.mu.Lock()
		c.m[addr] = cl
		c.mu.Unlock()
	}
	resp, err := cl.Invoke(ctx, req)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		c.mu.Lock()
		delete(c.m, addr)
		c.mu.Unlock()
		cl.Close()
		return nil, fmt.Errorf("%w: %s: %w", errRemotingBusy, addr, err)
	}
	return resp, err
}

func (c *conns) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.m {
		cl.Close()
	}
}

func startRemotingBystander(t Target) *bystander {
	cs := &conns{m: map[string]*rpc.Client{}}
	b := &bystander{release: cs.close, isTransient: remotingTransient, stop: make(chan struct{}), done: make(chan struct{})}
	b.once = func(n int) error { return remotingCycle(cs, t, n) }
	go b.run()
	return b
}

// sendExt is a SEND_MESSAGE header to topic's queue 0.
func sendExt(topic string) map[string]string {
	return map[string]string{"producerGroup": "hostile", "topic": topic, "queueId": "0", "sysFlag": "0",
		"bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "flag": "0", "reconsumeTimes": "0", "properties": ""}
}

// pullExt is a PULL_MESSAGE header of topic's queue 0 from off, without
// long polling.
func pullExt(topic string, off int64) map[string]string {
	return map[string]string{"consumerGroup": "hostile", "topic": topic, "queueId": "0", "queueOffset": strconv.FormatInt(off, 10),
		"maxMsgNums": "1", "sysFlag": "0", "commitOffset": "0", "suspendTimeoutMillis": "0", "subscription": "*", "subVersion": "0"}
}

// answerErr is the error of an answer other than want.
func answerErr(what string, resp *remoting.Command, want remoting.ResponseCode) error {
	if resp.Code == int32(want) {
		return nil
	}
	err := fmt.Errorf("%s answered %v: %s", what, remoting.ResponseCode(resp.Code), resp.Remark)
	switch remoting.ResponseCode(resp.Code) {
	case remoting.SystemBusy, remoting.ServiceNotAvailable:
		return fmt.Errorf("%w: %w", errRemotingBusy, err)
	}
	return err
}

func remotingCycle(cs *conns, t Target, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	body := fmt.Appendf(nil, "bystander %08d %s", n, bytes.Repeat([]byte{'.'}, 64))
	resp, err := cs.invoke(ctx, t.RemotingAddr, remoting.NewRequest(remoting.SendMessage, sendExt(t.Topic), body))
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if err := answerErr("send", resp, remoting.Success); err != nil {
		return err
	}
	off, err := strconv.ParseInt(resp.ExtFields["queueOffset"], 10, 64)
	if err != nil {
		return fmt.Errorf("send: queueOffset %q: %w", resp.ExtFields["queueOffset"], err)
	}
	if resp, err = cs.invoke(ctx, t.RemotingAddr, remoting.NewRequest(remoting.PullMessage, pullExt(t.Topic, off), nil)); err != nil {
		return fmt.Errorf("pull %d: %w", off, err)
	}
	if err := answerErr(fmt.Sprintf("pull %d", off), resp, remoting.Success); err != nil {
		return err
	}
	if m, _, err := commitlog.Decode(resp.Body); err != nil || !bytes.Equal(m.Body, body) || m.QueueOffset != off {
		return fmt.Errorf("%w: pull %d returned %q (%v), sent %q", errWrongData, off, m.Body, err, body)
	}
	if t.NamesrvAddr == "" {
		return nil
	}
	req := remoting.NewRequest(remoting.GetRouteInfoByTopic, map[string]string{"topic": t.Topic}, nil)
	if resp, err = cs.invoke(ctx, t.NamesrvAddr, req); err != nil {
		return fmt.Errorf("route: %w", err)
	}
	return answerErr("route", resp, remoting.Success)
}
