package broker_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/remoting"
)

// TestNativeAppendsIgnored: an entry appended through the node's native
// API (engine.Node.Append: TypeNormal) on a broker node is neither stamped
// nor applied, even when its bytes are a well-formed RocketMQ message: the
// broker's entries are TypeBroker. Before, such a payload was stamped with a
// queue offset and entered the consume queue beside the broker's messages.
func TestNativeAppendsIgnored(t *testing.T) {
	b, addr := attached(t, nil)
	m := commitlog.Message{Topic: []byte("T"), QueueID: 0, QueueOffset: 99, Body: []byte("native"),
		BornHost: netip.MustParseAddrPort("127.0.0.1:1"), StoreHost: netip.MustParseAddrPort("127.0.0.1:2")}
	raw, err := commitlog.Encode(nil, &m, commitlog.DefaultMaxBody)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	i, err := b.Node().Append(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0"}, []byte("broker")); r.Code != 0 {
		t.Fatalf("send: %d %s", r.Code, r.Remark)
	}
	if got := pullOne(t, addr, "T", "0", 0); string(got.Body) != "broker" || got.QueueOffset != 0 {
		t.Fatalf("queue T/0 offset 0 holds %q at queue offset %d; want the broker's message", got.Body, got.QueueOffset)
	}
	if r := invoke(t, addr, remoting.GetMaxOffset, map[string]string{"topic": "T", "queueId": "0"}, nil); r.ExtFields["offset"] != "1" {
		t.Fatalf("max offset %q, want 1: the native entry entered the queue", r.ExtFields["offset"])
	}
	e, err := b.Node().Read(i)
	if err != nil {
		t.Fatal(err)
	}
	stored, _, err := commitlog.Decode(e.Payload)
	if err != nil || stored.QueueOffset != 99 {
		t.Fatalf("the native entry was rewritten: queue offset %d (%v)", stored.QueueOffset, err)
	}
	if st := b.Status(); st.Err != nil {
		t.Fatalf("applier stopped: %v", st.Err)
	}
}
