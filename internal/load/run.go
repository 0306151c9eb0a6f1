package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// maxShards bounds the meter's shards; producers beyond share them.
const maxShards = 16

// DefaultOpTimeout bounds one append when Spec.OpTimeout is zero.
const DefaultOpTimeout = 10 * time.Second

// Check returns an error naming the first field of s that cannot run.
func (s Spec) Check() error {
	switch {
	case s.Payload < 0:
		return fmt.Errorf("load: payload %d bytes: must be >= 0", s.Payload)
	case s.Producers < 1:
		return fmt.Errorf("load: producers %d: must be >= 1", s.Producers)
	case s.Form != Closed && s.Form != Pipelined && s.Form != Open:
		return fmt.Errorf("load: form %q: allowed closed, pipelined, open", s.Form)
	case s.Form == Open && s.Rate < 1:
		return fmt.Errorf("load: open loop needs a rate >= 1 per second, have %d", s.Rate)
	case s.Form != Open && s.Rate != 0:
		return fmt.Errorf("load: a rate (%d/s) needs the open form, have %s", s.Rate, s.Form)
	case s.Duration <= 0 && s.Count <= 0:
		return errors.New("load: a duration or a count is needed")
	case s.Count < 0:
		return fmt.Errorf("load: count %d: must be >= 0", s.Count)
	}
	return nil
}

// run is one Run in progress.
type run struct {
	t      Target
	s      Spec
	m      *meter
	ids    atomic.Uint64 // the next operation id
	left   atomic.Int64  // sends left under Spec.Count
	end    time.Time     // no send starts after it (zero under Count)
	opTime time.Duration
}

// Run drives t with the load s and returns what it measured. It prints one
// line per second to live (nil: silent). Sending stops at s.Duration (or
// after s.Count appends) or when ctx ends; appends in flight then finish,
// each within s.OpTimeout. An append that fails is counted by its kind and
// the load goes on. Operation ids (FillPayload) start at the run's start
// time in nanoseconds, so runs against one group do not share ids.
func Run(ctx context.Context, t Target, s Spec, live io.Writer) (*Result, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	if s.OpTimeout <= 0 {
		s.OpTimeout = DefaultOpTimeout
	}
	r := &run{t: t, s: s, opTime: s.OpTimeout}
	shards := 1
	if s.Form == Closed {
		shards = min(s.Producers, maxShards)
	}
	r.m = newMeter(t, shards, s.RecordAcks)
	start := time.Now()
	r.m.start = start
	r.ids.Store(uint64(start.UnixNano()))
	r.left.Store(int64(s.Count))
	if s.Count == 0 {
		r.end = start.Add(s.Duration)
	}
	stopTicks := r.startTicker(live)
	switch s.Form {
	case Closed:
		r.closed(ctx)
	default:
		r.async(ctx)
	}
	elapsed := time.Since(start)
	stopTicks(elapsed)
	res := &Result{Spec: s, Start: start, Elapsed: elapsed}
	r.m.result(res)
	res.MsgsPerSec = float64(res.Acked) / elapsed.Seconds()
	res.MBPerSec = res.MsgsPerSec * float64(s.Payload) / 1e6
	return res, nil
}

// next reports whether another append may start, and takes its id. due
// is the append's intended send time in an open loop (zero otherwise):
// an append due before the end is sent even if the in-flight cap held it
// back past the end, or a stall at the end of a run would vanish from the
// percentiles (coordinated omission).
func (r *run) next(ctx context.Context, due time.Time) (uint64, bool) {
	if ctx.Err() != nil {
		return 0, false
	}
	if due.IsZero() {
		due = time.Now()
	}
	if r.s.Count > 0 {
		if r.left.Add(-1) < 0 {
			return 0, false
		}
	} else if !due.Before(r.end) {
		return 0, false
	}
	r.m.sent.Add(1)
	return r.ids.Add(1) - 1, true
}

// closed runs Spec.Producers goroutines, each waiting for its append.
func (r *run) closed(ctx context.Context) {
	var wg sync.WaitGroup
	for p := range r.s.Producers {
		wg.Go(func() {
			sh := r.m.shards[p%len(r.m.shards)]
			buf := make([]byte, r.s.Payload)
			FillPayload(buf, 0)
			for {
				id, ok := r.next(ctx, time.Time{})
				if !ok {
					return
				}
				SetID(buf, id)
				t0 := time.Now()
				octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opTime)
				seq, err := r.t.Append(octx, buf)
				cancel()
				r.m.done(sh, t0, id, seq, err)
				if err != nil {
					Sleep(ctx, 10*time.Millisecond) // do not spin on a group that is down
				}
			}
		})
	}
	wg.Wait()
}

// inflight is an async append waiting for its answer.
type inflight struct {
	p  Pending
	t0 time.Time // when it was meant to be sent
	id uint64
}

// async runs one sender and one waiter: pipelined (send whenever fewer
// than Producers are in flight) or open (send at the rate's schedule, and
// never more than Producers in flight: a send held back by that cap is
// late, and its latency still counts from its intended time). A slot is
// taken before a send and given back after its Wait, so a payload buffer
// (one per slot, in a ring) is reused only once its append finished.
func (r *run) async(ctx context.Context) {
	n := r.s.Producers
	slots, q := make(chan struct{}, n), make(chan inflight, n)
	ring := make([][]byte, n)
	for i := range ring {
		ring[i] = make([]byte, r.s.Payload)
		FillPayload(ring[i], 0)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sh := r.m.shards[0]
		for f := range q {
			octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opTime)
			seq, err := f.p.Wait(octx)
			cancel()
			r.m.done(sh, f.t0, f.id, seq, err)
			<-slots
		}
	}()
	for i := 0; ; i++ {
		t0, ok := r.schedule(ctx, i)
		if !ok {
			break
		}
		slots <- struct{}{}
		id, ok := r.next(ctx, t0)
		if !ok {
			<-slots
			break
		}
		if r.s.Form != Open {
			t0 = time.Now()
		}
		buf := ring[i%n]
		SetID(buf, id)
		q <- inflight{p: r.t.AppendAsync(buf), t0: t0, id: id}
	}
	close(q)
	<-done
}

// schedule waits for the intended send time of the i-th append of an open
// loop and returns it; ok is false if the run is over first. Other forms
// send at once.
func (r *run) schedule(ctx context.Context, i int) (t0 time.Time, ok bool) {
	if r.s.Form != Open {
		return time.Time{}, true
	}
	t0 = r.m.start.Add(time.Duration(int64(i) * int64(time.Second) / int64(r.s.Rate)))
	if r.s.Count == 0 && !t0.Before(r.end) {
		return t0, false
	}
	if d := time.Until(t0); d > 0 && !Sleep(ctx, d) {
		return t0, false
	}
	return t0, true
}

// Sleep sleeps d, and reports false if ctx ended first.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// startTicker closes a second every second until the returned function is
// called with the run's elapsed time; that closes the last, partial one.
func (r *run) startTicker(live io.Writer) func(time.Duration) {
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.m.tick(time.Since(r.m.start), r.s.Payload, live)
			case <-stop:
				return
			}
		}
	}()
	return func(elapsed time.Duration) {
		close(stop)
		<-stopped
		if elapsed > r.m.last {
			r.m.tick(elapsed, r.s.Payload, live)
		}
	}
}
