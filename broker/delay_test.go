package broker_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/remoting"
)

// fastLevels: every delay level 100 ms, level 2 300 ms.
func fastLevels(c *broker.Config) {
	c.DelayLevels = make([]time.Duration, 18)
	for i := range c.DelayLevels {
		c.DelayLevels[i] = 100 * time.Millisecond
	}
	c.DelayLevels[1] = 300 * time.Millisecond
}

// waitMax waits until queue (topic, q) on addr has max offset want.
func waitMax(t *testing.T, addr, topic, q string, want int) {
	t.Helper()
	var got string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if poll.Until(ctx, func() bool { got = maxOffset(t, addr, topic, q); return got == strconv.Itoa(want) }) != nil {
		t.Fatalf("%s/%s: max offset %s, want %d", topic, q, got, want)
	}
}

// pullOne pulls the message at offset off of (topic, q).
func pullOne(t *testing.T, addr, topic, q string, off int) commitlog.Message {
	t.Helper()
	r := invoke(t, addr, remoting.PullMessage, map[string]string{"topic": topic, "queueId": q, "queueOffset": strconv.Itoa(off), "maxMsgNums": "1"}, nil)
	if r.Code != 0 {
		t.Fatalf("pull %s/%s@%d: %d %s", topic, q, off, r.Code, r.Remark)
	}
	m, _, err := commitlog.Decode(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDelayLevel: a producer's message with DELAY=2 waits in
// SCHEDULE_TOPIC_XXXX queue 1 (REAL_TOPIC, REAL_QID) and reaches its
// topic once its level's delay passed, DELAY cleared, once.
func TestDelayLevel(t *testing.T) {
	_, addr := attached(t, nil, fastLevels)
	start := time.Now()
	r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0", "properties": props(t, "DELAY", "2", "TAGS", "d")}, []byte("later"))
	if r.Code != 0 || r.ExtFields["queueId"] != "1" {
		t.Fatalf("delayed send: %d %s %v (want the schedule queue 1)", r.Code, r.Remark, r.ExtFields)
	}
	if got := maxOffset(t, addr, "T", "0"); got != "0" {
		t.Fatalf("delivered at once: max offset %s", got)
	}
	s := pullOne(t, addr, broker.ScheduleTopic, "1", 0)
	if p := commitlog.PropertyMap(s.Properties); p["REAL_TOPIC"] != "T" || p["REAL_QID"] != "0" || p["DELAY"] != "2" {
		t.Fatalf("schedule message properties %v", p)
	}
	waitMax(t, addr, "T", "0", 1)
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("delivered after %v, level 2 is 300 ms", el)
	}
	m := pullOne(t, addr, "T", "0", 0)
	p := commitlog.PropertyMap(m.Properties)
	if string(m.Body) != "later" || p["DELAY"] != "" || p["TAGS"] != "d" || p["REAL_TOPIC"] != "T" || m.QueueOffset != 0 {
		t.Fatalf("delivered %q at %d with %v", m.Body, m.QueueOffset, p)
	}
	time.Sleep(200 * time.Millisecond) // a few scheduler ticks: nothing delivered twice
	if got := maxOffset(t, addr, "T", "0"); got != "1" {
		t.Fatalf("max offset %s after delivery, want 1", got)
	}
	// Refused: a batch with a delay level (as Java), a producer setting the
	// scheduler's own property.
	if r := invoke(t, addr, remoting.SendBatchMessage, map[string]string{"topic": "T", "queueId": "0", "properties": props(t, "DELAY", "1")}, []byte("x")); r.Code != int32(remoting.MessageIllegal) {
		t.Fatalf("delayed batch: %d %s", r.Code, r.Remark)
	}
	if r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0", "properties": props(t, broker.PropertyScheduleOffset, "1:0")}, []byte("x")); r.Code != int32(remoting.MessageIllegal) {
		t.Fatalf("a producer's %s: %d %s", broker.PropertyScheduleOffset, r.Code, r.Remark)
	}
}

// TestSendBack: CONSUMER_SEND_MSG_BACK puts the message in %RETRY%<group>
// after delay level 3 + reconsume times (RETRY_TOPIC, ORIGIN_MESSAGE_ID,
// reconsume times + 1), and in %DLQ%<group> at once when its reconsume
// times reach maxReconsumeTimes; both topics are created on demand.
func TestSendBack(t *testing.T) {
	_, addr := attached(t, nil, fastLevels)
	r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0", "properties": props(t, "UNIQ_KEY", "U1")}, []byte("fail me"))
	if r.Code != 0 {
		t.Fatal(r.Remark)
	}
	_, phys, _ := commitlog.ParseMessageID(r.ExtFields["msgId"])
	back := func(phys int64) {
		t.Helper()
		r := invoke(t, addr, remoting.ConsumerSendMsgBack, map[string]string{"group": "G", "offset": strconv.FormatInt(phys, 10),
			"delayLevel": "0", "originMsgId": "U1", "originTopic": "T", "maxReconsumeTimes": "2"}, nil)
		if r.Code != 0 {
			t.Fatalf("send back: %d %s", r.Code, r.Remark)
		}
	}
	back(phys)
	s := pullOne(t, addr, broker.ScheduleTopic, "2", 0) // level 3 + 0
	if p := commitlog.PropertyMap(s.Properties); p["REAL_TOPIC"] != "%RETRY%G" || p["DELAY"] != "3" {
		t.Fatalf("first send-back waits at level 3: %v", p)
	}
	waitMax(t, addr, "%RETRY%G", "0", 1)
	m := pullOne(t, addr, "%RETRY%G", "0", 0)
	p := commitlog.PropertyMap(m.Properties)
	if m.ReconsumeTimes != 1 || p["RETRY_TOPIC"] != "T" || p["ORIGIN_MESSAGE_ID"] != r.ExtFields["msgId"] || p["UNIQ_KEY"] != "U1" || string(m.Body) != "fail me" {
		t.Fatalf("retry message: reconsume %d, %v, %q", m.ReconsumeTimes, p, m.Body)
	}
	back(m.PhysicalOffset) // reconsume 1: level 4
	waitMax(t, addr, "%RETRY%G", "0", 2)
	m = pullOne(t, addr, "%RETRY%G", "0", 1)
	if m.ReconsumeTimes != 2 {
		t.Fatalf("second retry: reconsume %d", m.ReconsumeTimes)
	}
	back(m.PhysicalOffset) // reconsume 2 = max: dead letter
	waitMax(t, addr, "%DLQ%G", "0", 1)
	m = pullOne(t, addr, "%DLQ%G", "0", 0)
	if p := commitlog.PropertyMap(m.Properties); m.ReconsumeTimes != 3 || p["RETRY_TOPIC"] != "T" || p["ORIGIN_MESSAGE_ID"] != r.ExtFields["msgId"] || p["DELAY"] != "" {
		t.Fatalf("dead letter: reconsume %d, %v", m.ReconsumeTimes, p)
	}
	// The Go client's fallback when the send-back fails: an ordinary send
	// to the retry topic; out of retries, it goes to the dead letters at
	// once (handleRetryAndDLQ), otherwise it waits for its delay level.
	asNormal := func(reconsume string) *remoting.Command {
		return invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "%RETRY%G", "queueId": "0", "reconsumeTimes": reconsume,
			"maxReconsumeTimes": "2", "properties": props(t, "DELAY", "5", "RETRY_TOPIC", "T")}, []byte("as normal"))
	}
	if r := asNormal("3"); r.Code != 0 {
		t.Fatalf("exhausted send to the retry topic: %d %s", r.Code, r.Remark)
	}
	if got := maxOffset(t, addr, "%DLQ%G", "0"); got != "2" {
		t.Fatalf("dead letters after an exhausted ordinary send: %s, want 2", got)
	}
	if m := pullOne(t, addr, "%DLQ%G", "0", 1); string(m.Body) != "as normal" || commitlog.PropertyMap(m.Properties)["DELAY"] != "" {
		t.Fatalf("dead letter from an ordinary send: %q %v", m.Body, commitlog.PropertyMap(m.Properties))
	}
	if r := asNormal("1"); r.Code != 0 {
		t.Fatal(r.Remark)
	}
	waitMax(t, addr, "%RETRY%G", "0", 3)
	if r := invoke(t, addr, remoting.ConsumerSendMsgBack, map[string]string{"group": "G", "offset": "999999999"}, nil); r.Code != int32(remoting.SystemError) {
		t.Fatalf("send back of no message: %d %s", r.Code, r.Remark)
	}
}

// TestScheduleAcrossFailover: delayed messages delivered before a failover
// are not delivered again by the new master (the progress is in the
// delivery entries), and those still waiting are delivered by it.
func TestScheduleAcrossFailover(t *testing.T) {
	g := startGroup(t, 3, func(c *broker.Config) { c.DelayLevels = []time.Duration{100 * time.Millisecond, 2 * time.Second} })
	m, addr := g.master()
	if err := m.CreateTopic(t.Context(), topicT); err != nil {
		t.Fatal(err)
	}
	delayed := func(addr, level string, n int) {
		for i := range n {
			if r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0", "properties": props(t, "DELAY", level)}, []byte(strconv.Itoa(i))); r.Code != 0 {
				t.Fatalf("delayed send: %d %s", r.Code, r.Remark)
			}
		}
	}
	delayed(addr, "1", 3) // 100 ms
	waitMax(t, addr, "T", "0", 3)
	delayed(addr, "2", 2) // 2 s: still waiting at the failover
	for i, b := range g.brokers {
		if b == m {
			b.Close()
			g.brokers[i] = nil
		}
	}
	_, addr2 := g.master()
	waitMax(t, addr2, "T", "0", 5)
	time.Sleep(300 * time.Millisecond) // scheduler ticks: nothing delivered twice
	if got := maxOffset(t, addr2, "T", "0"); got != "5" {
		t.Fatalf("max offset %s after the failover, want 5", got)
	}
}

// TestScheduleAcrossRestart: after every member restarts (one without its
// tables snapshot, so it rebuilds the progress from the delivery entries
// in the log), delivered messages are not delivered again, and a UNIQ_KEY
// sent before the restart is still suppressed (the index rebuilt from the
// log).
func TestScheduleAcrossRestart(t *testing.T) {
	g := startGroup(t, 3, fastLevels)
	m, addr := g.master()
	if err := m.CreateTopic(t.Context(), topicT); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if r := invoke(t, addr, remoting.SendMessage, map[string]string{"topic": "T", "queueId": "0", "properties": props(t, "DELAY", "1")}, []byte(strconv.Itoa(i))); r.Code != 0 {
			t.Fatal(r.Remark)
		}
	}
	first := sendUniq(t, addr, "1", "BEFORE")
	waitMax(t, addr, "T", "0", 3)
	time.Sleep(100 * time.Millisecond) // let every member apply and snapshot (either way the result must hold)
	for _, b := range g.brokers {
		b.Close()
	}
	if err := os.Remove(filepath.Join(g.cfgs[0].Dir, "broker.tables")); err != nil {
		t.Fatal(err)
	}
	for i := range g.brokers {
		g.reopen(i)
	}
	m, _ = g.master()
	if m != g.brokers[0] { // the member that rebuilt its progress from the log leads
		if err := m.Node().TransferLeadership(t.Context(), "n0"); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); !g.brokers[0].Status().Ready; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("member 0 not a ready master within 10 s of the transfer")
		}
	}
	addr = g.addrs[0]
	time.Sleep(300 * time.Millisecond) // scheduler ticks: nothing delivered again
	for i := range g.brokers {
		waitMax(t, g.addrs[i], "T", "0", 3)
	}
	sameResult(t, "resend after the restart", first, sendUniq(t, addr, "1", "BEFORE"))
}
