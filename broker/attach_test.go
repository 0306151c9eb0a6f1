package broker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
	"github.com/rmqlog/rmqlog/segment"
)

// attached opens a one-member broker the second way: New, Hooks in an
// engine config the caller opens, Start. wrap may replace the stamp.
// opts change the broker's config.
// stampFunc is engine.Config.Stamp's type.
type stampFunc = func(typ segment.Type, index, offset uint64, payload []byte)

func attached(t *testing.T, wrap func(stamp stampFunc) stampFunc, opts ...func(*broker.Config)) (*broker.Broker, string) {
	t.Helper()
	pl, l := listen(t), listen(t)
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bcfg := broker.Config{BrokerName: "b", BrokerAddr: l.Addr().String(), MemberID: 1, Dir: dir + "/broker", Logger: quiet}
	for _, o := range opts {
		o(&bcfg)
	}
	b, err := broker.New(bcfg)
	if err != nil {
		t.Fatal(err)
	}
	ecfg := engine.Config{Group: "b", ID: "n0", Peers: map[string]string{"n0": pl.Addr().String()}, Listener: pl,
		Dir: dir + "/node", FlushMode: flush.SyncFlush, SegmentSize: 1 << 20, MaxEntrySize: 256 << 10, IndexEntries: 4096, Logger: quiet}
	var roles atomic.Int32
	ecfg.OnRoleChange = func(engine.RoleChange) { roles.Add(1) } // kept: Hooks chains it
	b.Hooks(&ecfg)
	if wrap != nil {
		ecfg.Stamp = wrap(ecfg.Stamp)
	}
	node, err := engine.Open(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(node, l); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(); node.Close() })
	g := &group{t: t, brokers: []*broker.Broker{b}, addrs: []string{l.Addr().String()}}
	g.master()
	if roles.Load() == 0 {
		t.Fatal("the caller's OnRoleChange was not chained")
	}
	if err := b.CreateTopic(context.Background(), namesrv.TopicConfig{TopicName: "T", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}); err != nil {
		t.Fatal(err)
	}
	return b, l.Addr().String()
}

// TestContradictionStops: a stamp that is not the queue's next (here a
// broken stamp on the 3rd message) stops the applier with a clear error
// in Status; nothing is renumbered and later messages are not applied.
func TestContradictionStops(t *testing.T) {
	var n atomic.Int32
	b, addr := attached(t, func(stamp stampFunc) stampFunc {
		return func(typ segment.Type, i, off uint64, p []byte) {
			stamp(typ, i, off, p)
			if !broker.IsRecord(p) && n.Add(1) == 3 {
				commitlog.SetOffsets(p, 7, int64(off))
			}
		}
	})
	for i := range 4 {
		r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0"}, []byte("m"))
		if i < 2 && r.Code != 0 {
			t.Fatalf("send %d: %d %s", i, r.Code, r.Remark)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.Status().Err == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	err := b.Status().Err
	if !errors.Is(err, broker.ErrStopped) || !strings.Contains(err.Error(), "contradiction") {
		t.Fatalf("status error %v", err)
	}
	r := invoke(t, addr, remoting.GetMaxOffset, map[string]string{"topic": "T", "queueId": "0"}, nil)
	if r.ExtFields["offset"] != "2" {
		t.Fatalf("max offset after the contradiction: %v", r.ExtFields)
	}
}

// TestLongPolling: a pull at the max offset with the suspend flag is held
// until a message of the queue is applied; one without nothing new after
// its suspend time answers PULL_NOT_FOUND.
func TestLongPolling(t *testing.T) {
	_, addr := attached(t, nil)
	pull := func(off, suspendMs int) <-chan *remoting.Command {
		ch := make(chan *remoting.Command, 1)
		go func() {
			ch <- invoke(t, addr, remoting.PullMessage, map[string]string{"topic": "T", "queueId": "0", "queueOffset": strconv.Itoa(off),
				"maxMsgNums": "32", "sysFlag": "2", "suspendTimeoutMillis": strconv.Itoa(suspendMs), "subscription": "*"}, nil)
		}()
		return ch
	}
	start := time.Now()
	if r := <-pull(0, 200); r.Code != int32(remoting.PullNotFound) || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("empty pull: %d after %v", r.Code, time.Since(start))
	}
	held := pull(0, 20000)
	time.Sleep(50 * time.Millisecond) // let the pull be held (the result is checked either way)
	if r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0"}, []byte("wake")); r.Code != 0 {
		t.Fatal(r.Remark)
	}
	select {
	case r := <-held:
		if r.Code != 0 || countMessages(t, r.Body) != 1 {
			t.Fatalf("held pull: %d %s", r.Code, r.Remark)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a held pull was not woken by the message")
	}
}

// TestOffsetsAndClients: min/max offsets, search by time, a consumer
// offset query before any commit, heartbeats and the consumer list, a
// topic created through UPDATE_AND_CREATE_TOPIC, and an unknown code.
func TestOffsetsAndClients(t *testing.T) {
	_, addr := attached(t, nil)
	q := map[string]string{"topic": "T", "queueId": "0"}
	if r := invoke(t, addr, remoting.QueryConsumerOffset, map[string]string{"consumerGroup": "G", "topic": "T", "queueId": "0"}, nil); r.Code != 0 || r.ExtFields["offset"] != "0" {
		t.Fatalf("query of a young queue: %d %v", r.Code, r.ExtFields)
	}
	var mid int64
	for i := range 6 {
		if i == 3 {
			time.Sleep(20 * time.Millisecond) // a timestamp strictly between two messages
			mid = time.Now().UnixMilli()
			time.Sleep(20 * time.Millisecond)
		}
		if r := invoke(t, addr, remoting.SendMessage, q, []byte("m")); r.Code != 0 {
			t.Fatal(r.Remark)
		}
	}
	for _, tc := range []struct {
		code remoting.RequestCode
		ext  map[string]string
		want string
	}{
		{remoting.GetMaxOffset, q, "6"},
		{remoting.GetMinOffset, q, "0"},
		{remoting.SearchOffsetByTimestamp, map[string]string{"topic": "T", "queueId": "0", "timestamp": strconv.FormatInt(mid, 10)}, "3"},
		{remoting.SearchOffsetByTimestamp, map[string]string{"topic": "T", "queueId": "0", "timestamp": "0"}, "0"},
		{remoting.GetMaxOffset, map[string]string{"topic": "None", "queueId": "0"}, "0"},
	} {
		if r := invoke(t, addr, tc.code, tc.ext, nil); r.Code != 0 || r.ExtFields["offset"] != tc.want {
			t.Errorf("%v %v: %d %v, want offset %s", tc.code, tc.ext, r.Code, r.ExtFields, tc.want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"c2", "c1"} {
		hb := []byte(`{"clientID":"` + id + `","producerDataSet":[],"consumerDataSet":[{"groupName":"G"}]}`)
		if r, err := c.Invoke(ctx, remoting.NewRequest(remoting.HeartBeat, nil, hb)); err != nil || r.Code != 0 {
			t.Fatal(r, err)
		}
	}
	r, err := c.Invoke(ctx, remoting.NewRequest(remoting.GetConsumerListByGroup, map[string]string{"consumerGroup": "G"}, nil))
	if err != nil || r.Code != 0 || string(r.Body) != `{"consumerIdList":["c1","c2"]}` {
		t.Fatalf("consumer list: %v %s", err, r.Body)
	}
	c.Close() // its clients are forgotten with the connection
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := invoke(t, addr, remoting.GetConsumerListByGroup, map[string]string{"consumerGroup": "G"}, nil)
		if r.Code == int32(remoting.SystemError) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer list after the connection closed: %d %s", r.Code, r.Body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r := invoke(t, addr, remoting.UpdateAndCreateTopic, map[string]string{"topic": "U", "readQueueNums": "2", "writeQueueNums": "2", "perm": "6"}, nil); r.Code != 0 {
		t.Fatal(r.Remark)
	}
	if r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "U", "queueId": "1"}, []byte("u")); r.Code != 0 {
		t.Fatalf("send to a created topic: %s", r.Remark)
	}
	if r := invoke(t, addr, remoting.UpdateAndCreateTopic, map[string]string{"topic": "RO", "readQueueNums": "1", "writeQueueNums": "1", "perm": "4"}, nil); r.Code != 0 {
		t.Fatal(r.Remark)
	}
	if r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "RO", "queueId": "0"}, []byte("x")); r.Code != int32(remoting.NoPermission) {
		t.Fatalf("send to a read-only topic: %d %s", r.Code, r.Remark)
	}
	if r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "U", "queueId": "2"}, []byte("x")); r.Code != int32(remoting.SystemError) {
		t.Fatalf("send to queue 2 of 2: %d %s", r.Code, r.Remark)
	}
	if r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "U", "queueId": "0"}, make([]byte, 300<<10)); r.Code != int32(remoting.MessageIllegal) {
		t.Fatalf("send over the entry limit: %d %s", r.Code, r.Remark)
	}
	if r := invoke(t, addr, remoting.EndTransaction, nil, nil); r.Code != int32(remoting.RequestCodeNotSupported) || r.Remark == "" {
		t.Fatalf("unknown code: %d %q", r.Code, r.Remark)
	}
}
