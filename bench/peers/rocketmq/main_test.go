package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/load"
)

// A body carries its id and send time; a short one carries no time.
func TestStamp(t *testing.T) {
	p := make([]byte, 1024)
	load.FillPayload(p, 42)
	at := time.Unix(1700000000, 123456789)
	b := stamp(p, at)
	if got, ok := stampOf(b); !ok || !got.Equal(at) {
		t.Fatalf("stampOf = %v %v, want %v", got, ok, at)
	}
	if id, _ := load.PayloadID(b); id != 42 {
		t.Errorf("id %d, want 42", id)
	}
	if string(b[stampAt+8:]) != string(p[stampAt+8:]) || &b[0] == &p[0] {
		t.Error("stamp must copy the payload and change only the time")
	}
	if _, ok := stampOf(make([]byte, stampAt+7)); ok {
		t.Error("a 15-byte body has no send time")
	}
}

// readProps reads what bench.WriteProps writes (the broker group finds
// its members' remoting ports this way).
func TestReadProps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n0.conf")
	want := map[string]string{"listenPort": "30911", "dLegerPeers": "n0-127.0.0.1:1;n1-127.0.0.1:2"}
	if err := bench.WriteProps(path, "test", want); err != nil {
		t.Fatal(err)
	}
	got, err := readProps(path)
	if err != nil || len(got) != len(want) || got["listenPort"] != "30911" || got["dLegerPeers"] != want["dLegerPeers"] {
		t.Fatalf("readProps = %v %v", got, err)
	}
	os.WriteFile(path, []byte("no equals sign\n"), 0o644)
	if _, err := readProps(path); err == nil {
		t.Error("a line without = must be an error")
	}
}

// The end-to-end recorder counts only messages sent since the reset,
// and the unstamped ones as errors.
func TestE2E(t *testing.T) {
	e := newE2E()
	t0 := time.Now()
	e.reset(t0)
	p := make([]byte, 64)
	e.record(3, 0, stamp(p, t0.Add(-time.Second)), t0) // warm-up: ignored
	e.record(0, 7, stamp(p, t0), t0.Add(2*time.Millisecond))
	e.record(1, 7, stamp(p, t0.Add(time.Millisecond)), t0.Add(5*time.Millisecond))
	e.record(0, 8, []byte("short"), t0)
	if e.count() != 2 {
		t.Fatalf("count %d, want 2", e.count())
	}
	r := e.result("x", load.Spec{Payload: 64}, t0, time.Second)
	if r.Acked != 2 || r.MsgsPerSec != 2 || r.Errors["body without a send time"] != 1 {
		t.Fatalf("result %+v", r)
	}
	if r.Latency.Max < 3900 || r.Latency.Max > 4100 || r.Latency.P50 < 1900 || r.Latency.P50 > 2100 {
		t.Errorf("latency %+v, want p50 2 ms, max 4 ms", r.Latency)
	}
}

// The queues started and the acknowledged messages the consumer lacks.
func TestQueueOffsets(t *testing.T) {
	e := newE2E()
	t0 := time.Now()
	p := make([]byte, 64)
	e.record(3, 0, stamp(p, t0.Add(-time.Second)), t0)
	e.reset(t0)
	e.record(0, 7, stamp(p, t0), t0)
	e.record(1, 7, stamp(p, t0), t0)
	if e.queuesStarted() != 1 {
		t.Fatalf("queues started %d, want 1", e.queuesStarted())
	}
	acked := newQueueOffsets()
	for _, k := range [][2]int{{0, 7}, {1, 7}, {1, 9}, {0, 8}, {2, 1}} {
		acked.add(k[0], int64(k[1]))
	}
	gone, n := acked.missing(e.seen, 2)
	if n != 3 || len(gone) != 2 || gone[0] != [2]int64{0, 8} || gone[1] != [2]int64{1, 9} {
		t.Fatalf("missing = %v, %d; want [[0 8] [1 9]], 3", gone, n)
	}
}

// The table pairs each mode's native and broker runs: medians over the
// rounds, each round's ratio, and judges the goal.
func TestTable(t *testing.T) {
	res := func(sys, mode string, rate float64, round int) *load.Result {
		return &load.Result{Spec: load.Spec{System: sys, Mode: mode}, Round: round, MsgsPerSec: rate, Latency: load.Latency{P50: 1500, P99: 9000}}
	}
	var rs []*load.Result
	for k, rates := range [][2]float64{{10000, 8000}, {12000, 6000}, {9000, 9000}} {
		n, b := res("rmqlog", "SYNC_FLUSH", rates[0], k+1), res(sysBroker, "SYNC_FLUSH", rates[1], k+1)
		n.Acked, n.NodeCPU = 1000, map[string]time.Duration{"n0": 10 * time.Millisecond, "n1": 10 * time.Millisecond}
		b.Acked, b.NodeCPU = 1000, map[string]time.Duration{"n0": 50 * time.Millisecond, "namesrv": 0}
		clientCPU[b] = 100
		e := res(sysE2E, "SYNC_FLUSH", 8000, k+1)
		if k == 1 {
			e.Errors = map[string]int64{"acknowledged, not consumed within the drain": 2}
		}
		rs = append(rs, n, b, res(sysConsumed, "SYNC_FLUSH", 5000, k+1), e)
	}
	rs = append(rs, res("rmqlog", "ASYNC_FLUSH", 20000, 1), res(sysBroker, "ASYNC_FLUSH", 2000, 1))
	tab := table(rs)
	bound := fmt.Sprintf("bound by the client's CPU alone (%d cores x 1e6 / client us per message)||%d|%.2f||", runtime.NumCPU(),
		runtime.NumCPU()*10000, float64(runtime.NumCPU())*10000/10000)
	want := []string{
		"SYNC_FLUSH|produce msgs/s|10000|8000|0.80|>= 0.7|yes",
		"SYNC_FLUSH|broker / native in each round|||0.80, 0.50, 1.00||",
		"SYNC_FLUSH|produce p50 / p99 (ms)|1.50 / 9.00|1.50 / 9.00|||",
		"SYNC_FLUSH|CPU of the node processes per message (us)|20.0|50.0|2.50||",
		"SYNC_FLUSH|CPU of the client side per message (us; broker: load generator and producer)||100.0|||",
		"SYNC_FLUSH|" + bound,
		"SYNC_FLUSH|produce msgs/s with a push consumer running||5000|0.50||",
		"SYNC_FLUSH|end to end p50 / p99 (ms), send to consumer callback||1.50 / 9.00|||",
		"SYNC_FLUSH|acknowledged messages not consumed within the drain (all rounds)||2|||",
		"ASYNC_FLUSH|produce msgs/s|20000|2000|0.10|>= 0.7|no",
		"ASYNC_FLUSH|produce p50 / p99 (ms)|1.50 / 9.00|1.50 / 9.00|||",
	}
	if len(tab.Rows) != len(want) {
		t.Fatalf("rows %q", tab.Rows)
	}
	for i, w := range want {
		if got := strings.Join(tab.Rows[i], "|"); got != w {
			t.Errorf("row %d: %q, want %q", i, got, w)
		}
	}
}

func TestParse(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "rmqlog")
	os.WriteFile(bin, nil, 0o755)
	cfg, err := parse([]string{"--rmqlog", bin, "--modes", "async_flush", "--duration", "10s"}, io.Discard)
	if err != nil || len(cfg.modes) != 1 || cfg.modes[0] != "ASYNC_FLUSH" || cfg.spec.Duration != 10*time.Second ||
		cfg.spec.Producers != 64 || cfg.spec.Payload != 1024 || cfg.spec.Form != load.Closed {
		t.Fatalf("parse = %+v %v", cfg, err)
	}
	for _, args := range [][]string{
		{},
		{"--rmqlog", bin, "--modes", "FAST"},
		{"--rmqlog", bin, "--payload", "15"},
		{"--rmqlog", bin, "--queues", "0"},
		{"--rmqlog", bin, "--rounds", "0"},
	} {
		if _, err := parse(args, io.Discard); err == nil {
			t.Errorf("parse(%q) accepted", args)
		}
	}
}
