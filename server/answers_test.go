package server

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/internal/poll"
)

// How a connection answers pipelined requests: the memory held for answers
// a client does not read, Shutdown against such a client, the request
// header rules, and answers that do not wait behind an append's commit.

// TestUnreadAnswersBounded: a client that pipelines 1024 large range
// requests and reads nothing makes the node hold one answer at a time
// (plus socket buffers), not 1024.
func TestUnreadAnswersBounded(t *testing.T) {
	g := startGroup(t, 1, nil)
	l := g.leader()
	fill(t, l, 60, 60<<10)
	c := dialRaw(t, l)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 1024 {
		c.send(proto.TypeRange, proto.RangeRequest(nil, 1, 0, 4<<20))
	}
	// Wait until the node has read every request (its reader stops only
	// when MaxInflight are pending), then measure.
	poll.Eventually(t, 10*time.Second, "the node reading the 1024 requests", func() bool {
		return l.framesRead.Load() >= 1024+60
	})
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 64<<20 {
		t.Fatalf("1024 unread 3.6 MiB answers grew the heap by %d MiB", grew>>20)
	}
}

// TestShutdownUnreadClient: a client that does not read its answers cannot
// hold Shutdown beyond its context.
func TestShutdownUnreadClient(t *testing.T) {
	g := startGroup(t, 1, nil)
	l := g.leader()
	fill(t, l, 60, 60<<10)
	c := dialRaw(t, l)
	for range 1024 {
		c.send(proto.TypeRange, proto.RangeRequest(nil, 1, 0, 4<<20))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Shutdown still waits for a client that does not read, 15 s after its context ended")
	}
}

// TestRequestRules: a request with a code or with id 0 closes the
// connection (docs/protocol.md).
func TestRequestRules(t *testing.T) {
	g := startGroup(t, 1, nil)
	l := g.leader()
	for _, f := range [][]byte{proto.Frame(nil, proto.TypeMeta, proto.CodeBusy, 1, nil), proto.Frame(nil, proto.TypeMeta, 0, 0, nil)} {
		c := dialRaw(t, l)
		c.nc.Write(f)
		if h, _, err := c.recv(); err == nil {
			t.Fatalf("answered %+v; want the connection closed", h)
		}
	}
}

// TestAnswersNotHeldBehindAppend: an answer already made goes out before
// the writer waits for a later append's commit.
func TestAnswersNotHeldBehindAppend(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	for id, s := range g.servers {
		if s != l {
			s.Close()
			delete(g.servers, id)
		}
	}
	c := dialRaw(t, l)
	c.send(proto.TypeMeta, nil)
	c.send(proto.TypeAppend, proto.AppendRequest(nil, [][]byte{[]byte("no quorum")}))
	h, _, err := c.recv()
	if err != nil || h.Type != proto.TypeMeta {
		t.Fatalf("first answer: %+v %v", h, err)
	}
	// Without a quorum the append resolves only when the leader steps down
	// (CheckQuorum, an election timeout later). Held behind it, the meta
	// answer would arrive after that.
	if st := l.Node().Status(); st.Role != engine.Leader {
		t.Fatalf("the meta answer arrived only after the append resolved (role now %v)", st.Role)
	}
	if h, b, err := c.recv(); err != nil || h.Code != proto.CodeUnknown || !strings.Contains(errMsg(t, b).Message, "outcome unknown") {
		t.Fatalf("append without a quorum: %+v %v", h, err)
	}
}
