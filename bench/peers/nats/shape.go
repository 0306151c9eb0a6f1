package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rmqlog/rmqlog/internal/load"
)

// shape is one client shape both systems run, each its best way:
//
//	closed, n:    n producers, each waiting for its ack before the next:
//	              rmqlog client.Append; NATS a synchronous JetStream publish
//	              (a request answered by the PubAck).
//	pipelined, n: one sender keeping n appends in flight, a waiter taking
//	              the answers in order (load.Pipelined: a sliding window):
//	              rmqlog client.AppendAsync; NATS jetstream.PublishAsync, so
//	              n is the window of pending PubAcks.
type shape struct {
	form load.Form // load.Closed or load.Pipelined
	n    int       // producers, or appends in flight
}

// shapes are the shapes a mode runs, in order: the closed loop (if
// --closed), then the pipelined shape per --windows count.
func (cfg *config) shapes() []shape {
	var out []shape
	if cfg.closed {
		out = append(out, shape{load.Closed, cfg.spec.Producers})
	}
	for _, w := range cfg.windows {
		out = append(out, shape{load.Pipelined, w})
	}
	return out
}

// label names the shape of each side, rmqlog's first.
func (s shape) label() string {
	if s.form == load.Closed {
		return fmt.Sprintf("closed %d producers / sync publish %d producers", s.n, s.n)
	}
	return fmt.Sprintf("pipelined %d / async publish window %d", s.n, s.n)
}

// throughputGoal is issue 17's msgs/s ratio: 3x for the pipelined shape,
// 2x for the closed loop (NATS's weakest client shape).
func (s shape) throughputGoal() goal {
	if s.form == load.Closed {
		return atLeast(2)
	}
	return atLeast(3)
}

// spec is the load of the shape: base with its form and count.
func (s shape) spec(base load.Spec) load.Spec {
	base.Form, base.Producers = s.form, s.n
	return base
}

// parseWindows reads --windows: positive counts separated by commas, each
// once, in the order given; "" is none.
func parseWindows(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--windows %q: %q is not a count >= 1", s, strings.TrimSpace(f))
		}
		if slices.Contains(out, n) {
			return nil, fmt.Errorf("--windows %q: %d twice", s, n)
		}
		out = append(out, n)
	}
	return out, nil
}
