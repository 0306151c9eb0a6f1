package broker_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/remoting"
)

// TestSegmentSizeGuard: the first master records the group's segment size
// in the log; a member restarted empty with another
// mappedFileSizeCommitLog catches up and stops with an error naming both sizes and saying what to do; if it
// then wins an election it hands leadership over, and the group goes on
// with a master of the recorded size.
func TestSegmentSizeGuard(t *testing.T) {
	g := startGroup(t, 3)
	m, addr := g.master()
	if err := m.CreateTopic(t.Context(), topicT); err != nil {
		t.Fatal(err)
	}
	odd := -1
	for i, b := range g.brokers {
		if b != m {
			odd = i
		}
	}
	time.Sleep(100 * time.Millisecond) // let the follower apply and snapshot the record (either way it must stop)
	g.brokers[odd].Close()
	cfg := g.cfgs[odd]
	cfg.Engine.Listener = nil
	cfg.Engine.SegmentSize = 2 << 20
	// A member with data refuses another size itself (segment: "created
	// with segment size"); the guard is for a member that starts empty,
	// a replaced disk, and catches up from the others.
	cfg.Dir = t.TempDir()
	cfg.Engine.Dir = cfg.Dir
	l, err := net.Listen("tcp", g.addrs[odd])
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Open(cfg, l)
	if err != nil {
		t.Fatalf("reopen with another segment size: %v", err)
	}
	g.brokers[odd] = b
	var stopErr error
	for deadline := time.Now().Add(5 * time.Second); stopErr == nil; time.Sleep(5 * time.Millisecond) {
		if stopErr = b.Status().Err; time.Now().After(deadline) {
			t.Fatal("the member with another segment size did not stop")
		}
	}
	msg := stopErr.Error()
	if !errors.Is(stopErr, broker.ErrSegmentSize) || !strings.Contains(msg, "1048576") || !strings.Contains(msg, "2097152") ||
		!strings.Contains(msg, "Set mappedFileSizeCommitLog = 1048576") || !strings.Contains(msg, "do not delete it") {
		t.Fatalf("stop error: %v", stopErr)
	}
	t.Log(msg)
	if r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0"}, []byte("m")); r.Code != 0 {
		t.Fatalf("the master goes on: %d %s", r.Code, r.Remark)
	}
	// Leadership offered to the stopped member: the group keeps a ready
	// master of the recorded size. (Here the engine does not elect a
	// member that started empty before it holds the leader's whole log,
	// so the transfer fails; the stopped member's own hand-over, in
	// takeover, is not reached by this test.)
	err = m.Node().TransferLeadership(t.Context(), b.Node().ID())
	t.Logf("transfer to the stopped member: %v", err)
	m2, addr2 := g.master()
	if m2 == b {
		t.Fatal("the stopped member became a ready master")
	}
	if r := invoke(t, addr2, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0"}, []byte("m")); r.Code != 0 || r.ExtFields["queueOffset"] != "1" {
		t.Fatalf("send after the transfer: %d %s %v", r.Code, r.Remark, r.ExtFields)
	}
}
