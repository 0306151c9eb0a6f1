package main

import (
	"fmt"
	"io"

	"github.com/nats-io/nats.go"
	"github.com/rmqlog/rmqlog/bench/peers/nats/natsgroup"
	"github.com/rmqlog/rmqlog/internal/load"
	"github.com/rmqlog/rmqlog/internal/report"
)

// write records the run in results/ and, if it completed, regenerates
// results/README.md (an incomplete run is written with its reason).
func write(cfg *config, results []*load.Result, t *report.Table, runErr error, stdout io.Writer) error {
	if cfg.results == "" {
		return nil
	}
	m := report.Meta{
		Title:    "rmqlog vs NATS JetStream (R3, file storage): the same loads, alternately, in one run",
		Scenario: "peers",
		Command:  cfg.command,
		Start:    results[0].Start,
		Machine:  report.ProbeMachine(),
		Notes:    notes(cfg),
	}
	dir, err := report.Record(cfg.results, m, results, t, runErr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "results: %s\n", dir)
	return nil
}

// notes are the summary's lines under the table: the versions, the mode
// mapping, and the client shape of each side in every row.
func notes(cfg *config) []string {
	out := []string{
		fmt.Sprintf("NATS: nats-server %s (built from the module version bench/peers/nats pins), client nats.go v%s. "+
			"rmqlog: the binary given (--rmqlog), with its default config (1 GiB segment files).", natsgroup.Version, nats.Version),
		"Ratios are rmqlog / NATS of the same measure in this run. SYNC_FLUSH is compared with NATS `sync_interval: always` " +
			"(an ack means a quorum fsynced it); ASYNC_FLUSH with NATS's default (interval sync: a quorum wrote it to the OS).",
		"Each side has one client connection, shared by all its producers, " + load.Size(cfg.spec.Payload) + " payloads; " +
			"NATS publishes go to one R3 file stream, its connection on the stream leader's server (rmqlog's client is on its leader); " +
			"no Nats-Msg-Id (no deduplication, at least once like rmqlog's client).",
	}
	if cfg.closed {
		n := cfg.spec.Producers
		out = append(out, fmt.Sprintf("Shape `%s`: %d goroutines, each sending one append and waiting for its acknowledgement: "+
			"rmqlog client.Append; NATS a synchronous JetStream publish (a request answered by the PubAck), "+
			"retried after a timeout, disconnect or no leader as rmqlog's client retries.", shape{load.Closed, n}.label(), n))
	}
	for _, w := range cfg.windows {
		out = append(out, fmt.Sprintf("Shape `%s`: one sender keeps %d appends in flight (a sliding window: the next goes out "+
			"as soon as the oldest is answered), one waiter takes the answers in order: rmqlog client.AppendAsync; "+
			"NATS jetstream.PublishAsync, %d PubAcks pending (the client's own cap, PublishAsyncMaxPending, is %d so it never binds; "+
			"no async ack timeout: the load's %v per-operation timeout bounds each wait, as it does rmqlog's). "+
			"`nats bench js pub` (natscli) sends --batch PublishAsync calls and waits for all their acks before the next batch; "+
			"the sliding window keeps the pipe as full at every moment.",
			shape{load.Pipelined, w}.label(), w, w, natsgroup.AsyncMaxPending, load.DefaultOpTimeout))
	}
	if cfg.open {
		out = append(out, fmt.Sprintf("Open loop: AppendAsync / PublishAsync sent at a fixed rate, at most %d in flight; latencies "+
			"count from each append's intended send time (no coordinated omission); the rate is half the lower rate of the two "+
			"systems in the mode's first shape of round 1, unless --rate is given.", openCap))
	}
	if cfg.failover {
		out = append(out, fmt.Sprintf("Failover: kill -9 of the leader (NATS: of the stream leader) under the closed loop of %d producers; "+
			"outage = longest gap between acks around the kill.", cfg.spec.Producers))
	}
	out = append(out, "Node CPU per msg: user + system CPU time of the three server processes during the measured load "+
		"(/proc/<pid>/stat before and after) over the acknowledged appends; the load generator and clients are not in it.")
	return out
}
