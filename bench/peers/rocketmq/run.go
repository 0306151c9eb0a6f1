package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/load"
	"github.com/rmqlog/rmqlog/internal/report"
)

// System names of the broker's two results in reports.
const (
	sysBroker = "broker"     // produce: SendSync until SEND_OK
	sysE2E    = "broker-e2e" // send to the push consumer's callback
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
	e := newE2E()
	c, err := startConsumer(g, e)
	if err != nil {
		return nil, fmt.Errorf("push consumer: %w", err)
	}
	defer c.Shutdown()
	p, err := newProducer(g, cfg.spec.OpTimeout)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	defer p.Shutdown()
	t := producerTarget{p}
	spec := cfg.spec
	spec.System, spec.Mode = sysBroker, mode
	if o.Warmup > 0 {
		w := spec
		w.Duration = o.Warmup
		printf(o, "   warm-up %v\n", o.Warmup)
		if _, err := load.Run(ctx, t, w, nil); err != nil {
			return nil, err
		}
	}
	printf(o, "-- %s\n", bench.Name(spec))
	start := time.Now()
	e.reset(start)
	cpu0, self0 := g.CPU(), selfCPU()
	r, err := load.Run(ctx, t, spec, o.Live)
	if err != nil {
		return nil, err
	}
	r.Name, r.NodeCPU = bench.Name(spec), cpuSince(cpu0, g.CPU())
	if r.Acked > 0 {
		clientCPU[mode] = float64((selfCPU() - self0).Microseconds()) / float64(r.Acked)
	}
	drained := drain(ctx, e, r.Acked, cfg.drain)
	es := spec
	es.System = sysE2E
	er := e.result(bench.Name(es), es, start, r.Elapsed)
	if !drained {
		er.Errors = map[string]int64{"not consumed within the drain": r.Acked - er.Acked}
	}
	printf(o, "   consumed %d of %d acknowledged messages (e2e p50 %s, p99 %s)\n", er.Acked, r.Acked,
		load.FormatUs(er.Latency.P50), load.FormatUs(er.Latency.P99))
	return []*load.Result{r, er}, ctx.Err()
}

// drain waits until the consumer received acked measured messages, for at
// most d.
func drain(ctx context.Context, e *e2e, acked int64, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for e.count() < acked {
		if time.Now().After(deadline) || !load.Sleep(ctx, 50*time.Millisecond) {
			return false
		}
	}
	return true
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

// clientCPU is, per mode, the CPU time of this process (load generator,
// producer and consumer) per acknowledged broker message, in us; written
// by measureBroker, read by table (one goroutine).
var clientCPU = map[string]float64{}

// Goal is the target: broker producer throughput at least this
// fraction of the native closed-loop figure.
const Goal = 0.7

// table is the side-by-side comparison, one block of rows per mode.
func table(results []*load.Result) *report.Table {
	t := &report.Table{
		Title:  fmt.Sprintf("Broker (official RocketMQ Go client) vs native client, same shape, same run (goal: broker msgs/s >= %.1fx native)", Goal),
		Header: []string{"mode", "measure", "native", "broker", "broker / native", "goal", "met"},
	}
	for _, mode := range modesOf(results) {
		n, b, e := find(results, "rmqlog", mode), find(results, sysBroker, mode), find(results, sysE2E, mode)
		if n == nil || b == nil {
			continue
		}
		ratio := b.MsgsPerSec / n.MsgsPerSec
		met := "no"
		if ratio >= Goal {
			met = "yes"
		}
		t.Rows = append(t.Rows,
			[]string{mode, "produce msgs/s", fmt.Sprintf("%.0f", n.MsgsPerSec), fmt.Sprintf("%.0f", b.MsgsPerSec), fmt.Sprintf("%.2f", ratio), fmt.Sprintf(">= %.1f", Goal), met},
			[]string{mode, "produce p50 / p99 (ms)", latency(n), latency(b), "", "", ""})
		if e != nil {
			t.Rows = append(t.Rows, []string{mode, "end to end p50 / p99 (ms), send to consumer callback", "", latency(e), "", "", ""})
		}
		if nc, bc := nodeCPU(n), nodeCPU(b); nc > 0 && bc > 0 {
			t.Rows = append(t.Rows, []string{mode, "CPU of the node processes per message (us)", fmt.Sprintf("%.1f", nc), fmt.Sprintf("%.1f", bc), fmt.Sprintf("%.2f", bc/nc), "", ""})
		}
		if c, ok := clientCPU[mode]; ok {
			t.Rows = append(t.Rows, []string{mode, "CPU of the client side per message (us; broker: load, producer and consumer)", "", fmt.Sprintf("%.1f", c), "", "", ""})
		}
	}
	return t
}

func latency(r *load.Result) string {
	return fmt.Sprintf("%.2f / %.2f", float64(r.Latency.P50)/1000, float64(r.Latency.P99)/1000)
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

func find(results []*load.Result, system, mode string) *load.Result {
	for _, r := range results {
		if r.Spec.System == system && r.Spec.Mode == mode {
			return r
		}
	}
	return nil
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
			fmt.Sprintf("Broker: `rmqlog namesrv` plus the nodes with the broker on; one topic of %d queues; a push consumer (clustering) runs during the load, so the broker run also pays for consumption; `broker-e2e` is the latency from the send time in each body to the consumer's callback, for messages sent during the measured run.", cfg.queues),
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
