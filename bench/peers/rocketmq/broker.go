package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/load"
)

// Topic is the benchmark's topic; its queues are created explicitly
// (rmqlog's autoCreateTopicEnable is off, see docs/broker.md).
const Topic = "RmqBenchBroker"

// stampAt is where a body carries its send time: after the operation id
// that load.FillPayload writes in the first load.IDBytes bytes.
const stampAt = load.IDBytes

// stamp returns a copy of payload with t (Unix nanoseconds, big endian)
// at stampAt; the copy is the message body, which the client library
// owns until SendSync returns.
func stamp(payload []byte, t time.Time) []byte {
	b := append([]byte(nil), payload...)
	if len(b) >= stampAt+8 {
		binary.BigEndian.PutUint64(b[stampAt:], uint64(t.UnixNano()))
	}
	return b
}

// stampOf returns the send time a body carries, and false if it is too
// short to carry one.
func stampOf(body []byte) (time.Time, bool) {
	if len(body) < stampAt+8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(body[stampAt:]))), true
}

// readProps reads a properties file as bench.WriteProps writes it: '#'
// comments, key=value lines.
func readProps(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	props := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not key=value", path, line)
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return props, sc.Err()
}

// brokerGroup is a name server and a 3-member broker group: the nodes are
// bench.Rmqlog's (the native scenario's layout and defaults) with the
// broker switched on and registered with the name server.
type brokerGroup struct {
	bench.Group
	ns      *bench.Process
	nsAddr  string
	brokers []string // the members' remoting addresses (listenPort)
}

// startBrokers starts `rmqlog namesrv` and the three `rmqlog serve`
// nodes in dir, in flush mode, and creates Topic with queues queues.
func startBrokers(ctx context.Context, bin, mode, dir string, set map[string]string, queues int) (*brokerGroup, error) {
	ports, err := bench.FreePorts(1)
	if err != nil {
		return nil, err
	}
	g := &brokerGroup{nsAddr: fmt.Sprintf("127.0.0.1:%d", ports[0])}
	if g.ns, err = bench.StartProcess(filepath.Join(dir, "namesrv.log"), bin, "namesrv", "--listen", g.nsAddr); err != nil {
		return nil, err
	}
	props := map[string]string{"rmqlogBrokerEnable": "true", "namesrvAddr": g.nsAddr, "brokerClusterName": "RmqBench"}
	for k, v := range set {
		props[k] = v
	}
	g.Group, err = bench.Rmqlog{Binary: bin, Set: props}.Start(ctx, mode, dir)
	if err != nil {
		g.ns.Stop(5 * time.Second)
		return nil, err
	}
	for _, id := range g.Nodes() {
		p, err := readProps(filepath.Join(dir, id+".conf"))
		if err != nil {
			g.Stop()
			return nil, err
		}
		g.brokers = append(g.brokers, "127.0.0.1:"+p["listenPort"])
	}
	if err := g.createTopic(ctx, queues); err != nil {
		g.Stop()
		return nil, err
	}
	return g, nil
}

// createTopic asks every member to create Topic (only the master takes
// it) until the name server routes its queues.
func (g *brokerGroup) createTopic(ctx context.Context, queues int) error {
	adm, err := admin.NewAdmin(admin.WithResolver(g.resolver()))
	if err != nil {
		return err
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		for _, b := range g.brokers {
			adm.CreateTopic(ctx, admin.WithTopicCreate(Topic), admin.WithBrokerAddrCreate(b),
				admin.WithReadQueueNums(queues), admin.WithWriteQueueNums(queues))
		}
		if mqs, err := adm.FetchPublishMessageQueues(ctx, Topic); err == nil && len(mqs) == queues {
			return nil
		}
		load.Sleep(ctx, 200*time.Millisecond)
	}
	return fmt.Errorf("no route to topic %s within 60 s (name server log: %s)", Topic, g.ns.LogPath())
}

func (g *brokerGroup) resolver() primitive.NsResolver {
	return primitive.NewPassthroughResolver([]string{g.nsAddr})
}

// Stop stops the nodes, then the name server.
func (g *brokerGroup) Stop() error {
	err := g.Group.Stop()
	return errors.Join(err, g.ns.Stop(5*time.Second))
}

// CPU adds the name server's CPU time to the nodes'. (This process's,
// the client side, is selfCPU.)
func (g *brokerGroup) CPU() map[string]time.Duration {
	m := g.Group.CPU()
	if d, err := bench.ProcessCPU(g.ns.Pid()); err == nil {
		m["namesrv"] = d
	}
	return m
}

// producerTarget is a load.Target sending through the official client's
// DefaultProducer, shared by every load goroutine (as the native load
// shares one client connection). The sequence an ack returns is the
// message's queue offset.
type producerTarget struct {
	p     rocketmqProducer
	acked *queueOffsets // when set, every acknowledged message's queue and offset
}

// queueOffsets is a set of messages by queue and queue offset: what the
// producer was told is stored, what the consumer received.
type queueOffsets struct {
	mu sync.Mutex // guards m
	m  map[[2]int64]bool
}

func newQueueOffsets() *queueOffsets { return &queueOffsets{m: map[[2]int64]bool{}} }

func (s *queueOffsets) add(queue int, off int64) {
	s.mu.Lock()
	s.m[[2]int64{int64(queue), off}] = true
	s.mu.Unlock()
}

// missing returns the messages of s that other lacks, sorted, at most
// limit of them, and how many there are.
func (s *queueOffsets) missing(other *queueOffsets, limit int) ([][2]int64, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	other.mu.Lock()
	defer other.mu.Unlock()
	var out [][2]int64
	for k := range s.m {
		if !other.m[k] {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b [2]int64) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	n := len(out)
	return out[:min(n, limit)], n
}

// rocketmqProducer is the part of producer.Producer the target uses.
type rocketmqProducer interface {
	SendSync(ctx context.Context, msgs ...*primitive.Message) (*primitive.SendResult, error)
	SendAsync(ctx context.Context, f func(context.Context, *primitive.SendResult, error), msgs ...*primitive.Message) error
}

// startedProducer is a started producer: the target's calls and Shutdown.
type startedProducer interface {
	rocketmqProducer
	Shutdown() error
}

func newProducer(g *brokerGroup, timeout time.Duration) (startedProducer, error) {
	p, err := producer.NewDefaultProducer(producer.WithNsResolver(g.resolver()), producer.WithGroupName("rmqbench_producer"),
		producer.WithRetry(2), producer.WithSendMsgTimeout(timeout))
	if err != nil {
		return nil, err
	}
	return p, p.Start()
}

// errNotOK is a send answered with a status other than SEND_OK.
var errNotOK = errors.New("send status not OK")

func (t producerTarget) Append(ctx context.Context, payload []byte) (uint64, error) {
	r, err := t.p.SendSync(ctx, primitive.NewMessage(Topic, stamp(payload, time.Now())))
	if err != nil {
		return 0, err
	}
	if r.Status != primitive.SendOK {
		return 0, fmt.Errorf("%w: %v", errNotOK, r.Status)
	}
	if t.acked != nil && r.MessageQueue != nil {
		t.acked.add(r.MessageQueue.QueueId, r.QueueOffset)
	}
	return uint64(r.QueueOffset), nil
}

// AppendAsync sends with SendAsync (the pipelined and open forms).
func (t producerTarget) AppendAsync(payload []byte) load.Pending {
	p := &pending{done: make(chan struct{})}
	err := t.p.SendAsync(context.Background(), func(_ context.Context, r *primitive.SendResult, err error) {
		if err == nil && r.Status != primitive.SendOK {
			err = fmt.Errorf("%w: %v", errNotOK, r.Status)
		}
		if err == nil {
			p.seq = uint64(r.QueueOffset)
			if t.acked != nil && r.MessageQueue != nil {
				t.acked.add(r.MessageQueue.QueueId, r.QueueOffset)
			}
		}
		p.err = err
		close(p.done)
	}, primitive.NewMessage(Topic, stamp(payload, time.Now())))
	if err != nil {
		p.err = err
		close(p.done)
	}
	return p
}

type pending struct {
	done chan struct{} // closed when seq or err is set
	seq  uint64
	err  error
}

func (p *pending) Wait(ctx context.Context) (uint64, error) {
	select {
	case <-p.done:
		return p.seq, p.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Kind names an error class; the client library's errors are mostly
// plain strings, so the classes are matched on their words.
func (producerTarget) Kind(err error) string {
	msg := strings.ToLower(err.Error())
	switch {
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "timeout"):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, errNotOK):
		return "status not OK"
	case strings.Contains(msg, "route"):
		return "no route"
	case strings.Contains(msg, "not master") || strings.Contains(msg, "slave"):
		return "not master"
	}
	return "other"
}

// e2e records the latency from each message's send time (the stamp in its
// body) to the push consumer's callback, for messages sent from since on.
type e2e struct {
	mu       sync.Mutex // guards the fields below
	since    time.Time
	h        *hdrhistogram.Histogram
	consumed int64 // messages sent since since and consumed (duplicates included)
	bad      int64 // messages without a stamp
	last     time.Time
	seen     *queueOffsets  // the messages sent since since and consumed
	early    map[int32]bool // the queues of the messages consumed that were sent before since
}

func newE2E() *e2e {
	return &e2e{h: load.NewHistogram(), since: time.Now().Add(24 * time.Hour), seen: newQueueOffsets(), early: map[int32]bool{}}
}

// reset starts a new measurement: from now on, messages sent from since.
func (e *e2e) reset(since time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.since, e.h, e.consumed, e.bad, e.seen = since, load.NewHistogram(), 0, 0, newQueueOffsets()
}

// record is the consumer callback's part: one message of queue at offset
// consumed at now.
func (e *e2e) record(queue int, off int64, body []byte, now time.Time) {
	sent, ok := stampOf(body)
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case !ok:
		e.bad++
	case !sent.Before(e.since):
		load.Record(e.h, now.Sub(sent))
		e.consumed++
		e.last = now
		e.seen.add(queue, off)
	default:
		e.early[int32(queue)] = true
	}
}

// queuesStarted is how many queues delivered a message sent before the
// measurement: those whose consumption offset is fixed.
func (e *e2e) queuesStarted() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.early)
}

// count is how many measured messages were consumed so far.
func (e *e2e) count() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.consumed
}

// result summarizes the measurement as a load.Result named name: the
// latency is end to end, Acked the messages consumed.
func (e *e2e) result(name string, spec load.Spec, start time.Time, elapsed time.Duration) *load.Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := &load.Result{Name: name, Spec: spec, Start: start, Elapsed: elapsed, Sent: e.consumed, Acked: e.consumed,
		Hist: e.h, Latency: load.Summarize(e.h)}
	if e.bad > 0 {
		r.Errors = map[string]int64{"body without a send time": e.bad}
	}
	if elapsed > 0 {
		r.MsgsPerSec = float64(e.consumed) / elapsed.Seconds()
		r.MBPerSec = r.MsgsPerSec * float64(spec.Payload) / 1e6
	}
	return r
}

// startConsumer starts a push consumer (clustering, a fresh group, from
// the last offset) that feeds e.
func startConsumer(g *brokerGroup, e *e2e) (rocketmqConsumer, error) {
	c, err := consumer.NewPushConsumer(consumer.WithNsResolver(g.resolver()), consumer.WithGroupName("rmqbench_consumer"),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromLastOffset))
	if err != nil {
		return nil, err
	}
	err = c.Subscribe(Topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		now := time.Now()
		for _, m := range msgs {
			e.record(m.Queue.QueueId, m.QueueOffset, m.Body, now)
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		return nil, err
	}
	return c, c.Start()
}

type rocketmqConsumer interface{ Shutdown() error }

// selfCPU is this process's CPU time: the load generator, the producer and
// the consumer (the client library's side).
func selfCPU() time.Duration {
	d, _ := bench.ProcessCPU(os.Getpid())
	return d
}
