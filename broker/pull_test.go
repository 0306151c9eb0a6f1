package broker_test

import (
	"context"
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/segment"
)

func pullAt(t *testing.T, addr string, off int) *remoting.Command {
	t.Helper()
	return invoke(t, addr, remoting.PullMessage, map[string]string{"topic": "T", "queueId": "0",
		"queueOffset": strconv.Itoa(off), "maxMsgNums": "32", "subscription": "*"}, nil)
}

func sendN(t *testing.T, addr string, n int) {
	t.Helper()
	for i := range n {
		if r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0"}, []byte("m"+strconv.Itoa(i))); r.Code != 0 {
			t.Fatalf("send %d: %d %s", i, r.Code, r.Remark)
		}
	}
}

// TestPullDuringApply: a pull that meets the units of the entry being
// applied (in the consume queue, applied not stored yet) answers every
// message. It used to look for the entry up to the applied index only,
// fail on the last message and answer PULL_RETRY_IMMEDIATELY with a
// nextBeginOffset past the messages before it: the client skipped them
// (7 acknowledged messages never consumed in the broker benchmark).
func TestPullDuringApply(t *testing.T) {
	b, addr := attached(t, nil)
	sendN(t, addr, 8)
	b.RewindApplied()
	for _, forget := range []bool{false, true} { // entries found by physIndex, then by the search
		if forget {
			b.ForgetPhysIndex()
		}
		r := pullAt(t, addr, 0)
		if r.Code != int32(remoting.Success) || countMessages(t, r.Body) != 8 || r.ExtFields["nextBeginOffset"] != "8" {
			t.Fatalf("pull during apply (search %v): code %d %q, next %s", forget, r.Code, r.Remark, r.ExtFields["nextBeginOffset"])
		}
		checkMessages(t, r.Body, 0, 8)
	}
}

// TestPullReadFailureKeepsOffset: a message that cannot be read (here the
// second of a batch, whose stored physical offset points past the log)
// ends the answer: the messages before it are answered and
// nextBeginOffset is its own offset, never past it; a pull at it retries
// there. It used to answer PULL_RETRY_IMMEDIATELY at its offset and drop
// the messages before it.
func TestPullReadFailureKeepsOffset(t *testing.T) {
	_, addr := attached(t, func(stamp stampFunc) stampFunc {
		return func(typ segment.Type, i, off uint64, p []byte) {
			stamp(typ, i, off, p)
			if typ != segment.TypeBroker || broker.IsRecord(p) {
				return
			}
			if h, err := commitlog.Peek(p); err == nil && h.Size < len(p) { // the batch
				second, _ := commitlog.Peek(p[h.Size:])
				commitlog.SetOffsets(p[h.Size:], second.QueueOffset, int64(off)+1<<40)
			}
		}
	})
	sendN(t, addr, 2)
	var batch []byte
	for _, body := range []string{"b0", "b1"} {
		batch = binary.BigEndian.AppendUint32(batch, uint32(22+len(body)))
		batch = binary.BigEndian.AppendUint64(batch, 0) // magic code, body CRC
		batch = binary.BigEndian.AppendUint32(batch, 0) // flag
		batch = binary.BigEndian.AppendUint32(batch, uint32(len(body)))
		batch = binary.BigEndian.AppendUint16(append(batch, body...), 0)
	}
	if r := invoke(t, addr, remoting.SendBatchMessage, map[string]string{"topic": "T", "queueId": "0"}, batch); r.Code != 0 {
		t.Fatalf("batch: %d %s", r.Code, r.Remark)
	}
	waitMax(t, addr, "T", "0", 4)
	for _, tc := range []struct {
		off, code, msgs int
		next            string
	}{
		{0, int(remoting.Success), 3, "3"},
		{3, int(remoting.PullRetryImmediately), 0, "3"},
	} {
		r := pullAt(t, addr, tc.off)
		got := 0
		if r.Code == int32(remoting.Success) {
			got = countMessages(t, r.Body)
		}
		if int(r.Code) != tc.code || got != tc.msgs || r.ExtFields["nextBeginOffset"] != tc.next {
			t.Errorf("pull at %d: code %d (%s), %d messages, next %s; want code %d, %d messages, next %s",
				tc.off, r.Code, r.Remark, got, r.ExtFields["nextBeginOffset"], tc.code, tc.msgs, tc.next)
		}
	}
}

// TestSlaveNeverMovesOffsets: a pull past a slave's end (a consumer that
// read further on the master) is held and answered at its own offset,
// where the master answers PULL_OFFSET_MOVED (to its min offset, 0 here, as RocketMQ). A slave
// used to move the consumer back (to its max offset, or to 0 on a queue
// it had not applied yet): re-reads and a 10 s pause in the client.
func TestSlaveNeverMovesOffsets(t *testing.T) {
	g := startGroup(t, 3)
	m, maddr := g.master()
	if err := m.CreateTopic(context.Background(), namesrv.TopicConfig{TopicName: "T", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}); err != nil {
		t.Fatal(err)
	}
	sendN(t, maddr, 3)
	for i, b := range g.brokers {
		waitMax(t, g.addrs[i], "T", "0", 3)
		r := pullAt(t, g.addrs[i], 10)
		want, next := remoting.PullNotFound, "10"
		if b == m {
			want, next = remoting.PullOffsetMoved, "0" // RocketMQ: to the min offset when it is 0
		}
		if r.Code != int32(want) || r.ExtFields["nextBeginOffset"] != next {
			t.Errorf("member %d (master %v): pull past the end: code %d (%s), next %s; want %d, next %s",
				i, b == m, r.Code, r.Remark, r.ExtFields["nextBeginOffset"], want, next)
		}
		r = invoke(t, g.addrs[i], remoting.PullMessage, map[string]string{"topic": "T", "queueId": "1",
			"queueOffset": "5", "maxMsgNums": "32", "subscription": "*"}, nil)
		if b != m && (r.Code != int32(remoting.PullNotFound) || r.ExtFields["nextBeginOffset"] != "5") {
			t.Errorf("member %d: pull of a queue it has not applied: code %d (%s), next %s; want %d, next 5",
				i, r.Code, r.Remark, r.ExtFields["nextBeginOffset"], remoting.PullNotFound)
		}
	}
}
