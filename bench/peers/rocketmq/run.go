package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/load"
	"github.com/rmqlog/rmqlog/internal/report"
)

// System names of the broker's results in reports.
const (
	sysBroker   = "broker"          // produce only: SendSync until SEND_OK
	sysConsumed = "broker+consumer" // the same with a push consumer running
	sysE2E      = "broker-e2e"      // send to the push consumer's callback
)

// lockedWriter serializes the live lines of the load and this driver.
type lockedWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func printf(o bench.Options, format string, args ...any) {
	if o.Live != nil {
		fmt.Fprintf(o.Live, format, args...)
	}
}

// brokerRun starts a name server and a broker group in mode, runs the
// warm-up and the measured producer load with the consumer running, waits
// for the consumer to drain, and returns the produce and end-to-end
// results.
func brokerRun(ctx context.Context, cfg *config, mode string, o bench.Options) ([]*load.Result, error) {
	dir, err := os.MkdirTemp(o.Scratch, "broker-"+mode+"-")
	if err != nil {
		return nil, err
	}
	printf(o, "== broker %s: name server and a 3-member broker group in %s\n", mode, dir)
	syscall.Sync() // as bench's groups: the last group's pages must not stall this one's fsyncs
	t0 := time.Now()
	sctx, cancel := context.WithTimeout(ctx, bench.StartTimeout)
	g, err := startBrokers(sctx, cfg.rmqlog, mode, dir, cfg.set, cfg.queues)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("broker %s: %w (logs in %s)", mode, err, dir)
	}
	printf(o, "   group up, topic routed, in %v\n", time.Since(t0).Round(time.Millisecond))
	rs, err := measureBroker(ctx, cfg, mode, o, g)
	if serr := g.Stop(); serr != nil {
		printf(o, "   warning: stopping the group: %v (logs kept in %s)\n", serr, dir)
		return rs, err
	}
	os.RemoveAll(dir)
	return rs, err
}

func measureBroker(ctx context.Context, cfg *config, mode string, o bench.Options, g *brokerGroup) ([]*load.Result, error) {
	p, err := newProducer(g, cfg.spec.OpTimeout)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	defer p.Shutdown()
	t := producerTarget{p: p}
	spec := cfg.spec
	spec.System, spec.Mode = sysBroker, mode
	if err := warmUp(ctx, o, t, spec); err != nil {
		return nil, err
	}
	// 1. Produce only: the native load's shape.
	r, err := measure(ctx, o, g, t, spec)
	if err != nil {
		return nil, err
	}
	// 2. The same load with a push consumer receiving every message.
	e := newE2E()
	c, err := startConsumer(g, e)
	if err != nil {
		return nil, fmt.Errorf("push consumer: %w", err)
	}
	defer c.Shutdown()
	cs := spec
	cs.System = sysConsumed
	if err := warmUp(ctx, o, t, cs); err != nil {
		return nil, err
	}
	// The consumer starts from each queue's last offset, fixed at its
	// first pull: measure once every queue delivered a warm-up message.
	deadline := time.Now().Add(30 * time.Second)
	for e.queuesStarted() < cfg.queues {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("push consumer: %d of %d queues delivered within 30 s", e.queuesStarted(), cfg.queues)
		}
		if _, err := load.Run(ctx, t, load.Spec{Producers: 1, Payload: spec.Payload, Duration: 200 * time.Millisecond,
			Form: load.Closed, OpTimeout: spec.OpTimeout, System: cs.System, Mode: mode}, nil); err != nil {
			return nil, err
		}
	}
	t.acked = newQueueOffsets()
	e.reset(time.Now())
	rc, err := measure(ctx, o, g, t, cs)
	if err != nil {
		return nil, err
	}
	drain(ctx, e, t.acked, cfg.drain)
	es := spec
	es.System = sysE2E
	er := e.result(bench.Name(es), es, rc.Start, rc.Elapsed)
	gone, n := t.acked.missing(e.seen, 5)
	if n > 0 {
		er.Errors = map[string]int64{"acknowledged, not consumed within the drain": int64(n)}
		printf(o, "   NOT CONSUMED within %v: %d acknowledged messages, e.g. (queue, offset) %v\n", cfg.drain, n, gone)
	}
	printf(o, "   consumed %d messages (duplicates included) of %d acknowledged (e2e p50 %s, p99 %s)\n", er.Acked, rc.Acked,
		load.FormatUs(er.Latency.P50), load.FormatUs(er.Latency.P99))
	return []*load.Result{r, rc, er}, ctx.Err()
}

// warmUp runs o.Warmup of discarded load.
func warmUp(ctx context.Context, o bench.Options, t producerTarget, spec load.Spec) error {
	if o.Warmup <= 0 {
		return nil
	}
	spec.Duration = o.Warmup
	printf(o, "   warm-up %v (%s)\n", o.Warmup, spec.System)
	_, err := load.Run(ctx, t, spec, nil)
	return err
}

// measure runs the measured load and records the node and client CPU.
func measure(ctx context.Context, o bench.Options, g *brokerGroup, t producerTarget, spec load.Spec) (*load.Result, error) {
	printf(o, "-- %s\n", bench.Name(spec))
	cpu0, self0 := g.CPU(), selfCPU()
	r, err := load.Run(ctx, t, spec, o.Live)
	if err != nil {
		return nil, err
	}
	r.Name, r.NodeCPU = bench.Name(spec), cpuSince(cpu0, g.CPU())
	if r.Acked > 0 {
		clientCPU[r] = float64((selfCPU() - self0).Microseconds()) / float64(r.Acked)
	}
	return r, nil
}

// drain waits until the consumer received every acknowledged message,
// for at most d.
func drain(ctx context.Context, e *e2e, acked *queueOffsets, d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		if _, n := acked.missing(e.seen, 0); n == 0 || time.Now().After(deadline) || !load.Sleep(ctx, 50*time.Millisecond) {
			return
		}
	}
}

// cpuSince is each process's CPU time between two readings.
func cpuSince(before, after map[string]time.Duration) map[string]time.Duration {
	out := map[string]time.Duration{}
	for k, d := range after {
		if d0, ok := before[k]; ok && d >= d0 {
			out[k] = d - d0
		}
	}
	return out
}

// clientCPU is, per broker result, the CPU time of this process (load
// generator, producer, and consumer when one runs) per acknowledged
// message, in us; written by measure, read by table (one goroutine).
var clientCPU = map[*load.Result]float64{}

// Goal is the target: broker producer throughput at least this
// fraction of the native closed-loop figure.
const Goal = 0.7

// table is the side-by-side comparison, one block of rows per mode:
// medians over the rounds, and each round's ratio (native and broker ran
// one after the other in it).
func table(results []*load.Result) *report.Table {
	t := &report.Table{
		Title:  fmt.Sprintf("Broker (official RocketMQ Go client) vs native client, same shape, same run, medians over the rounds (goal: broker msgs/s >= %.1fx native)", Goal),
		Header: []string{"mode", "measure", "native", "broker", "broker / native", "goal", "met"},
	}
	for _, mode := range modesOf(results) {
		n, b, c, e := all(results, "rmqlog", mode), all(results, sysBroker, mode), all(results, sysConsumed, mode), all(results, sysE2E, mode)
		if len(n) == 0 || len(b) == 0 {
			continue
		}
		rate := func(r *load.Result) float64 { return r.MsgsPerSec }
		nr, br := median(n, rate), median(b, rate)
		ratio := br / nr
		met := "no"
		if ratio >= Goal {
			met = "yes"
		}
		var per []string
		for k := range min(len(n), len(b)) {
			per = append(per, fmt.Sprintf("%.2f", b[k].MsgsPerSec/n[k].MsgsPerSec))
		}
		row := func(measure, native, broker, ratio string) {
			t.Rows = append(t.Rows, []string{mode, measure, native, broker, ratio, "", ""})
		}
		t.Rows = append(t.Rows, []string{mode, "produce msgs/s", fmt.Sprintf("%.0f", nr), fmt.Sprintf("%.0f", br), fmt.Sprintf("%.2f", ratio), fmt.Sprintf(">= %.1f", Goal), met})
		if len(per) > 1 {
			row("broker / native in each round", "", "", strings.Join(per, ", "))
		}
		row("produce p50 / p99 (ms)", latency(n), latency(b), "")
		cn, cb := median(n, nodeCPU), median(b, nodeCPU)
		if cn > 0 && cb > 0 {
			row("CPU of the node processes per message (us)", fmt.Sprintf("%.1f", cn), fmt.Sprintf("%.1f", cb), fmt.Sprintf("%.2f", cb/cn))
		}
		cc := median(b, func(r *load.Result) float64 { return clientCPU[r] })
		if cc > 0 {
			row("CPU of the client side per message (us; broker: load generator and producer)", "", fmt.Sprintf("%.1f", cc), "")
			row(fmt.Sprintf("bound by the client's CPU alone (%d cores x 1e6 / client us per message)", runtime.NumCPU()), "",
				fmt.Sprintf("%.0f", float64(runtime.NumCPU())*1e6/cc), fmt.Sprintf("%.2f", float64(runtime.NumCPU())*1e6/cc/nr))
		}
		if len(c) > 0 {
			row("produce msgs/s with a push consumer running", "", fmt.Sprintf("%.0f", median(c, rate)), fmt.Sprintf("%.2f", median(c, rate)/nr))
			if cc := median(c, func(r *load.Result) float64 { return clientCPU[r] }); cc > 0 {
				row("CPU of the client side per message with the consumer (us)", "", fmt.Sprintf("%.1f", cc), "")
			}
		}
		if len(e) > 0 {
			row("end to end p50 / p99 (ms), send to consumer callback", "", latency(e), "")
			var lost int64
			for _, r := range e {
				lost += r.Errors["acknowledged, not consumed within the drain"]
			}
			row("acknowledged messages not consumed within the drain (all rounds)", "", fmt.Sprint(lost), "")
		}
	}
	return t
}

// all returns the results of system in mode, in round order.
func all(results []*load.Result, system, mode string) []*load.Result {
	var out []*load.Result
	for _, r := range results {
		if r.Spec.System == system && r.Spec.Mode == mode {
			out = append(out, r)
		}
	}
	return out
}

func median(rs []*load.Result, f func(*load.Result) float64) float64 {
	var vs []float64
	for _, r := range rs {
		vs = append(vs, f(r))
	}
	return report.Median(vs)
}

func latency(rs []*load.Result) string {
	return fmt.Sprintf("%.2f / %.2f", median(rs, func(r *load.Result) float64 { return float64(r.Latency.P50) })/1000,
		median(rs, func(r *load.Result) float64 { return float64(r.Latency.P99) })/1000)
}

func modesOf(results []*load.Result) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range results {
		if !seen[r.Spec.Mode] {
			seen[r.Spec.Mode] = true
			out = append(out, r.Spec.Mode)
		}
	}
	return out
}

// printTable prints every result's line and the comparison.
func printTable(w io.Writer, results []*load.Result, t *report.Table) {
	fmt.Fprintf(w, "\n%-44s %10s %8s %9s %9s %9s %9s %9s %10s\n", "run", "msgs/s", "MB/s", "p50", "p90", "p99", "p99.9", "max", "cpu-us/msg")
	for _, r := range results {
		l := r.Latency
		fmt.Fprintf(w, "%-44s %10.0f %8.1f %9s %9s %9s %9s %9s %10s\n", r.Name, r.MsgsPerSec, r.MBPerSec,
			load.FormatUs(l.P50), load.FormatUs(l.P90), load.FormatUs(l.P99), load.FormatUs(l.P999), load.FormatUs(l.Max), cpuPerMsg(r))
		if len(r.Errors) > 0 {
			fmt.Fprintf(w, "   errors: %v\n", r.Errors)
		}
	}
	fmt.Fprintf(w, "\n%s\n", t.Title)
	for _, row := range t.Rows {
		fmt.Fprintf(w, "%-12s %-54s %16s %16s %8s\n", row[0], row[1], row[2], row[3], row[4])
	}
}

// write records the run under cfg.results (results/<date>-broker/).
func write(cfg *config, results []*load.Result, t *report.Table, runErr error, stdout io.Writer) error {
	if cfg.results == "" {
		return nil
	}
	m := report.Meta{
		Title:    "rmqlog broker (official RocketMQ Go client) vs the native client, side by side in one run",
		Scenario: "broker",
		Command:  cfg.command,
		Start:    results[0].Start,
		Machine:  report.ProbeMachine(),
		Notes: []string{
			"Both loads: the user's default node config (1 GiB segment files), 3 rmqlog processes on 127.0.0.1, fresh per run; " +
				fmt.Sprintf("%d closed-loop producers, %s bodies, one shared connection (native: package client; broker: one DefaultProducer, SendSync).", cfg.spec.Producers, load.Size(cfg.spec.Payload)),
			fmt.Sprintf("Broker: `rmqlog namesrv` plus the nodes with the broker on; one topic of %d queues. Per mode and round, in one fresh group: `broker` produces only (the native load's shape, the goal's figure); then a push consumer (clustering, from the last offset) starts and `broker+consumer` is the same load with it running; `broker-e2e` is the latency from the send time in each body to the consumer's callback, and every acknowledged message (by queue and queue offset) must reach the consumer within the drain.", cfg.queues),
			"The client side (this process: load generator, the client library's producer and consumer) runs on the same cores as the nodes; its CPU per message bounds what any broker could reach here (the row 'bound by the client's CPU alone').",
			"Native: rmqbench's default scenario (broker off, raw entries), the headline of results/README.md.",
		},
	}
	m.Notes = append(m.Notes, cfg.notes...)
	dir, err := report.Record(cfg.results, m, results, t, runErr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "results: %s\n", dir)
	return nil
}

// nodeCPU is the node processes' CPU time per acknowledged message, in
// us (0: not measured).
func nodeCPU(r *load.Result) float64 {
	if len(r.NodeCPU) == 0 || r.Acked == 0 {
		return 0
	}
	var total time.Duration
	for _, d := range r.NodeCPU {
		total += d
	}
	return float64(total.Microseconds()) / float64(r.Acked)
}

// cpuPerMsg prints nodeCPU.
func cpuPerMsg(r *load.Result) string {
	if c := nodeCPU(r); c > 0 {
		return fmt.Sprintf("%.1f", c)
	}
	return "-"
}
