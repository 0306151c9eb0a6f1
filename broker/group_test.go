package broker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// group is a 3-member broker group on 127.0.0.1, each opened by
// broker.Open with a node of its own.
type group struct {
	t       *testing.T
	ns      *namesrv.Server
	brokers []*broker.Broker
	addrs   []string
	cfgs    []broker.Config
}

func listen(t *testing.T) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// opts change every member's broker config.
func startGroup(t *testing.T, n int, opts ...func(*broker.Config)) *group {
	g := &group{t: t}
	peers, peerLs, ls := map[string]string{}, []net.Listener{}, []net.Listener{}
	for i := range n {
		pl, l := listen(t), listen(t)
		peers[fmt.Sprintf("n%d", i)] = pl.Addr().String()
		peerLs, ls = append(peerLs, pl), append(ls, l)
		g.addrs = append(g.addrs, l.Addr().String())
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	g.ns = namesrv.New(namesrv.Config{Logger: quiet})
	nl := listen(t)
	go g.ns.Serve(nl)
	t.Cleanup(func() { g.ns.Close() })
	for i := range n {
		dir := t.TempDir()
		cfg := broker.Config{
			BrokerName: "broker-a", BrokerAddr: g.addrs[i], MemberID: int64(i + 1), Dir: dir, NamesrvAddr: nl.Addr().String(),
			SyncInterval: 20 * time.Millisecond, Logger: quiet,
			Engine: engine.Config{
				Group: "broker-a", ID: fmt.Sprintf("n%d", i), Peers: peers, Listener: peerLs[i],
				Dir: dir, FlushMode: flush.SyncFlush, SegmentSize: 1 << 20, MaxEntrySize: 256 << 10, IndexEntries: 4096, Logger: quiet,
			},
		}
		for _, o := range opts {
			o(&cfg)
		}
		g.cfgs = append(g.cfgs, cfg)
		b, err := broker.Open(cfg, ls[i])
		if err != nil {
			t.Fatal(err)
		}
		g.brokers = append(g.brokers, b)
	}
	t.Cleanup(func() {
		for _, b := range g.brokers {
			if b != nil {
				b.Close()
			}
		}
	})
	return g
}

// reopen opens member i again on its directories (closed before).
func (g *group) reopen(i int) {
	cfg := g.cfgs[i]
	cfg.Engine.Listener = nil // the node listens on its peer address itself
	l, err := net.Listen("tcp", g.addrs[i])
	if err != nil {
		g.t.Fatal(err)
	}
	if g.brokers[i], err = broker.Open(cfg, l); err != nil {
		g.t.Fatal(err)
	}
}

// master waits for a ready master.
func (g *group) master() (*broker.Broker, string) {
	g.t.Helper()
	k := -1
	poll.Eventually(g.t, 10*time.Second, "a ready master", func() bool {
		k = slices.IndexFunc(g.brokers, func(b *broker.Broker) bool { return b != nil && b.Status().Ready })
		return k >= 0
	})
	return g.brokers[k], g.addrs[k]
}

func invoke(t *testing.T, addr string, code remoting.RequestCode, ext map[string]string, body []byte) *remoting.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rpc.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Invoke(ctx, remoting.NewRequest(code, ext, body))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func props(t *testing.T, kv ...string) string {
	var ps []commitlog.Property
	for i := 0; i < len(kv); i += 2 {
		ps = append(ps, commitlog.Property{Name: kv[i], Value: kv[i+1]})
	}
	b, err := commitlog.AppendProperties(nil, ps...)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSendPullAcrossFailover: sends to the master get contiguous queue
// offsets and physical offsets that are the messages' positions; a pull
// from every member returns the stored bytes; the new master after the old
// one is closed continues the queue offsets; consumer offsets and topics
// live through the log.
func TestSendPullAcrossFailover(t *testing.T) {
	g := startGroup(t, 3)
	m, addr := g.master()
	if err := m.CreateTopic(context.Background(), namesrv.TopicConfig{TopicName: "T", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6}); err != nil {
		t.Fatal(err)
	}
	if r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "Nope", "queueId": "0"}, []byte("x")); r.Code != int32(remoting.TopicNotExist) {
		t.Fatalf("send to an unknown topic: %d %s", r.Code, r.Remark)
	}
	send := func(addr string, q int, tags string) *remoting.Command {
		return invoke(t, addr, remoting.SendMessage, map[string]string{
			"topic": "T", "queueId": strconv.Itoa(q), "bornTimestamp": "1", "properties": props(t, "TAGS", tags),
		}, []byte("body-"+tags))
	}
	for i := range 5 {
		r := send(addr, 1, fmt.Sprint("tag", i%2))
		if r.Code != 0 || r.ExtFields["queueOffset"] != strconv.Itoa(i) || r.ExtFields["queueId"] != "1" {
			t.Fatalf("send %d: %d %s %v", i, r.Code, r.Remark, r.ExtFields)
		}
		_, phys, err := commitlog.ParseMessageID(r.ExtFields["msgId"])
		if err != nil || phys <= 0 {
			t.Fatalf("msgId %q: %v", r.ExtFields["msgId"], err)
		}
	}
	for i, b := range g.brokers {
		if b == m {
			continue
		}
		if r := send(g.addrs[i], 1, "x"); r.Code != int32(remoting.ServiceNotAvailable) {
			t.Fatalf("send to slave %d: %d %s", i, r.Code, r.Remark)
		}
	}
	pull := func(addr string, off int, sub string) *remoting.Command {
		return invoke(t, addr, remoting.PullMessage, map[string]string{
			"consumerGroup": "G", "topic": "T", "queueId": "1", "queueOffset": strconv.Itoa(off), "maxMsgNums": "32", "subscription": sub,
		}, nil)
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := range g.brokers {
		for {
			r := pull(g.addrs[i], 0, "*")
			if r.Code == 0 && r.ExtFields["nextBeginOffset"] == "5" {
				checkMessages(t, r.Body, 0, 5)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("member %d: pull %d %s %v", i, r.Code, r.Remark, r.ExtFields)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if r := pull(addr, 0, "tag1"); r.Code != 0 || countMessages(t, r.Body) != 2 {
		t.Fatalf("tag filter: %d %s, %d messages", r.Code, r.Remark, countMessages(t, r.Body))
	}
	if r := pull(addr, 5, "*"); r.Code != int32(remoting.PullNotFound) {
		t.Fatalf("pull at max: %d", r.Code)
	}
	if r := pull(addr, 9, "*"); r.Code != int32(remoting.PullOffsetMoved) {
		t.Fatalf("pull beyond max: %d", r.Code)
	}
	if r := invoke(t, addr, remoting.UpdateConsumerOffset, map[string]string{"consumerGroup": "G", "topic": "T", "queueId": "1", "commitOffset": "3"}, nil); r.Code != 0 {
		t.Fatalf("update offset: %d %s", r.Code, r.Remark)
	}
	if r := invoke(t, addr, remoting.QueryConsumerOffset, map[string]string{"consumerGroup": "G", "topic": "T", "queueId": "1"}, nil); r.ExtFields["offset"] != "3" {
		t.Fatalf("query offset: %d %v", r.Code, r.ExtFields)
	}

	// Fail over: close the master; the next one continues at 5.
	for i, b := range g.brokers {
		if b == m {
			b.Close()
			g.brokers[i] = nil
		}
	}
	m2, addr2 := g.master()
	// The new master registers as broker id 0 right after its takeover.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if r, ok := g.ns.Route("T"); ok && r.BrokerDatas[0].Addrs[0] == addr2 {
			break
		}
		if time.Now().After(deadline) {
			r, _ := g.ns.Route("T")
			t.Fatalf("route after failover: %+v, want master %s", r, addr2)
		}
	}
	// SEND_MESSAGE_V2: the short field names.
	if r := invoke(t, addr2, remoting.SendMessageV2, map[string]string{"b": "T", "e": "0", "i": props(t, "TAGS", "v2")}, []byte("v2")); r.Code != 0 || r.ExtFields["queueOffset"] != "0" || r.ExtFields["queueId"] != "0" {
		t.Fatalf("SEND_MESSAGE_V2: %d %s %v", r.Code, r.Remark, r.ExtFields)
	}
	if r := send(addr2, 1, "after"); r.Code != 0 || r.ExtFields["queueOffset"] != "5" {
		t.Fatalf("send after failover: %d %s %v", r.Code, r.Remark, r.ExtFields)
	}
	if off, ok := m2.ConsumerOffset("G", "T", 1); !ok || off != 3 {
		t.Fatalf("new master's consumer offset: %d %v", off, ok)
	}
	if r := pull(addr2, 0, "*"); r.Code != 0 {
		t.Fatalf("pull after failover: %d", r.Code)
	} else {
		checkMessages(t, r.Body, 0, 6)
	}
}

func countMessages(t *testing.T, body []byte) int {
	n := 0
	for off := 0; off < len(body); n++ {
		h, err := commitlog.Peek(body[off:])
		if err != nil {
			t.Fatal(err)
		}
		off += h.Size
	}
	return n
}

// checkMessages: n messages with queue offsets first.. and physical
// offsets that increase.
func checkMessages(t *testing.T, body []byte, first int64, n int) {
	t.Helper()
	var last int64 = -1
	off := 0
	for i := range n {
		m, size, err := commitlog.Decode(body[off:])
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if m.QueueOffset != first+int64(i) || m.PhysicalOffset <= last || m.VerifyBody() != nil {
			t.Fatalf("message %d: queue offset %d phys %d (last %d)", i, m.QueueOffset, m.PhysicalOffset, last)
		}
		last = m.PhysicalOffset
		off += size
	}
	if off != len(body) {
		t.Fatalf("%d bytes after %d messages", len(body)-off, n)
	}
}

// TestRestartReplays: every member closed and reopened on the same
// directories recovers its consume queues and tables (snapshot plus
// replay from the checkpoint) and the new master continues the offsets.
func TestRestartReplays(t *testing.T) {
	g := startGroup(t, 3)
	_, addr := g.master()
	if r := invoke(t, addr, remoting.UpdateAndCreateTopic, map[string]string{"topic": "R", "readQueueNums": "1", "writeQueueNums": "1", "perm": "6"}, nil); r.Code != 0 {
		t.Fatalf("create topic: %d %s", r.Code, r.Remark)
	}
	for i := range 20 {
		r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "R", "queueId": "0"}, []byte(strconv.Itoa(i)))
		if r.Code != 0 {
			t.Fatalf("send %d: %d %s", i, r.Code, r.Remark)
		}
	}
	if r := invoke(t, addr, remoting.UpdateConsumerOffset, map[string]string{"consumerGroup": "G", "topic": "R", "queueId": "0", "commitOffset": "11"}, nil); r.Code != 0 {
		t.Fatalf("update offset: %d", r.Code)
	}
	for _, b := range g.brokers {
		b.Close()
	}
	// Member 0 lost its tables snapshot, member 1's is damaged: both
	// rebuild the consume queues and the tables from the whole log.
	if err := os.Remove(filepath.Join(g.cfgs[0].Dir, "broker.tables")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.cfgs[1].Dir, "broker.tables"), []byte("RMQT garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range g.brokers {
		g.reopen(i)
	}
	m, addr := g.master()
	if off, ok := m.ConsumerOffset("G", "R", 0); !ok || off != 11 {
		t.Fatalf("offset after restart: %d %v", off, ok)
	}
	r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "R", "queueId": "0"}, []byte("20"))
	if r.Code != 0 || r.ExtFields["queueOffset"] != "20" {
		t.Fatalf("send after restart: %d %s %v", r.Code, r.Remark, r.ExtFields)
	}
	r = invoke(t, addr, remoting.PullMessage, map[string]string{"topic": "R", "queueId": "0", "queueOffset": "0", "maxMsgNums": "32"}, nil)
	if r.Code != 0 {
		t.Fatalf("pull: %d %s", r.Code, r.Remark)
	}
	checkMessages(t, r.Body, 0, 21)
	for i, b := range g.brokers {
		deadline := time.Now().Add(5 * time.Second)
		for {
			off, _ := b.ConsumerOffset("G", "R", 0)
			r := invoke(t, g.addrs[i], remoting.GetMaxOffset, map[string]string{"topic": "R", "queueId": "0"}, nil)
			if off == 11 && r.ExtFields["offset"] == "21" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("member %d after restart: consumer offset %d, max offset %s", i, off, r.ExtFields["offset"])
			}
			time.Sleep(5 * time.Millisecond)
		}
		if st := b.Status(); st.Err != nil {
			t.Fatalf("member %d: %v", i, st.Err)
		}
	}
}
