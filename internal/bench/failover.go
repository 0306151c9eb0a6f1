package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/rmqlog/rmqlog/internal/load"
)

// Failover runs, per mode on a fresh group: the load, with every
// acknowledgement recorded; kill -9 of the leader at o.KillAt; a restart
// of it at o.RestartAt; then, after the load, a wait until every node
// holds the final commit and a check that every acknowledged append is on
// every node with its bytes (Group.Check).
func Failover(ctx context.Context, sys System, o Options) ([]*load.Result, error) {
	if o.KillAt <= 0 || o.RestartAt <= o.KillAt {
		return nil, fmt.Errorf("bench: failover needs 0 < kill-at (%v) < restart-at (%v)", o.KillAt, o.RestartAt)
	}
	o = o.locked()
	return eachMode(ctx, sys, o, func(g Group, mode string) (*load.Result, error) {
		return failoverRun(ctx, g, sys.Name(), mode, o)
	})
}

// events is what the fault goroutine did, with times.
type events struct {
	old, new         string
	kill, restart    time.Time
	caughtUp         time.Duration
	err              error
	newLeaderElected time.Time
}

func failoverRun(ctx context.Context, g Group, system, mode string, o Options) (*load.Result, error) {
	spec := o.Spec
	spec.System, spec.Mode, spec.RecordAcks = system, mode, true
	if err := warmUp(ctx, g, spec, o); err != nil {
		return nil, err
	}
	old, err := g.Leader(ctx)
	if err != nil {
		return nil, err
	}
	o.printf("-- %s: kill -9 of the leader %s at %v, restart at %v\n", Name(spec), old, o.KillAt, o.RestartAt)
	ev := &events{old: old}
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		ev.err = faults(ctx, g, ev, start, o)
	}()
	r, err := load.Run(ctx, g.Target(), spec, o.Live)
	<-done
	if err != nil {
		return nil, err
	}
	r.Name = Name(spec) + " failover"
	if ev.err != nil {
		return r, ev.err
	}
	f := &load.Failover{OldLeader: old, NewLeader: ev.new, KillAt: ev.kill.Sub(r.Start),
		RestartAt: ev.restart.Sub(r.Start), CatchUp: ev.caughtUp, Verification: load.Verification{Acknowledged: r.Acked}}
	r.Failover = f
	if r.Elapsed <= f.KillAt {
		return r, fmt.Errorf("bench: the load ended (%v) before the kill (%v): no outage to measure", r.Elapsed.Round(time.Millisecond), f.KillAt.Round(time.Millisecond))
	}
	var ok bool
	if f.Outage, ok = Outage(r.Ticks, f.KillAt); !ok {
		return r, fmt.Errorf("bench: no append was acknowledged after the kill of %s (the writes stopped for at least %v)", old, f.Outage)
	}
	f.Verification, err = verify(ctx, g, r, o)
	return r, err
}

// faults kills the leader at o.KillAt after start, finds the new leader,
// restarts the old one at o.RestartAt, and times its catch-up to the
// commit index the group had at the restart.
func faults(ctx context.Context, g Group, ev *events, start time.Time, o Options) error {
	if !load.Sleep(ctx, time.Until(start.Add(o.KillAt))) {
		return ctx.Err()
	}
	ev.kill = time.Now()
	if err := g.Kill(ev.old); err != nil {
		return fmt.Errorf("bench: killing the leader %s: %w", ev.old, err)
	}
	o.printf("   killed %s (kill -9)\n", ev.old)
	lctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	lead, err := g.Leader(lctx)
	if err != nil {
		return err
	}
	ev.new, ev.newLeaderElected = lead, time.Now()
	o.printf("   new leader %s, %v after the kill\n", lead, ev.newLeaderElected.Sub(ev.kill).Round(time.Millisecond))
	if !load.Sleep(ctx, time.Until(start.Add(o.RestartAt))) {
		return ctx.Err()
	}
	seq, err := g.LastSeq(lctx) // the commit index at the restart: the catch-up's target
	if err != nil {
		return err
	}
	ev.restart = time.Now()
	if err := g.Restart(lctx, ev.old); err != nil {
		return fmt.Errorf("bench: restarting %s: %w", ev.old, err)
	}
	if err := g.WaitCaughtUp(lctx, ev.old, seq); err != nil {
		return err
	}
	ev.caughtUp = time.Since(ev.restart)
	o.printf("   restarted %s; it holds the commit index of its restart (%d) %v later\n", ev.old, seq, ev.caughtUp.Round(time.Millisecond))
	return nil
}

// verify waits until every node holds the group's last sequence and checks
// every acknowledged append of r on every node (Group.Check). Verified is
// false if the check did not run to completion.
func verify(ctx context.Context, g Group, r *load.Result, o Options) (load.Verification, error) {
	v := load.Verification{Acknowledged: r.Acked}
	vctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	last, err := g.LastSeq(vctx)
	if err != nil {
		return v, err
	}
	for _, n := range g.Nodes() {
		if err := g.WaitCaughtUp(vctx, n, last); err != nil {
			return v, err
		}
	}
	o.printf("   checking %d acknowledged appends on every node\n", len(r.Acks))
	t0 := time.Now()
	rep, err := g.Check(vctx, r.Acks, r.Spec.Payload)
	if err != nil {
		return v, err
	}
	v.Lost, v.Duplicates, v.Diverged, v.Detail, v.Verified = rep.Lost, rep.Duplicates, rep.Diverged, rep.Detail, true
	o.printf("   acknowledged: %d, lost: %s (duplicates %d; checked in %v; %s)\n",
		v.Acknowledged, LostString(rep.Lost), rep.Duplicates, time.Since(t0).Round(time.Millisecond), rep.Detail)
	if rep.Diverged != "" {
		o.printf("   REPLICAS DIVERGE: %s\n", rep.Diverged)
	}
	return v, nil
}

// LostString prints lost sequences: "0", or their count and the first 20.
func LostString(lost []uint64) string {
	if len(lost) == 0 {
		return "0"
	}
	if len(lost) > 20 {
		return fmt.Sprintf("%d %v...", len(lost), lost[:20])
	}
	return fmt.Sprintf("%d %v", len(lost), lost)
}

// Outage is the write outage around a kill (ticks: acknowledgements per
// millisecond of the run): the longest stretch without an
// acknowledgement that contains the kill or starts within a second after
// it (answers already on their way when the process died may land just
// after the kill); it runs from the last acknowledgement before to the
// first after. ok is false if no acknowledgement came after the stretch:
// the writes never resumed within the run, and the outage is at least
// the duration returned.
func Outage(ticks []int32, killAt time.Duration) (d time.Duration, ok bool) {
	k := int(killAt.Milliseconds())
	if k >= len(ticks) {
		return 0, false
	}
	start := k // the stretch containing the kill starts after the last ack at or before it
	for start > 0 && ticks[start-1] == 0 && ticks[start] == 0 {
		start--
	}
	best, bestEnd := 0, -1
	for i := start; i < len(ticks) && i <= k+1000; {
		if ticks[i] != 0 {
			i++
			continue
		}
		j := i
		for j < len(ticks) && ticks[j] == 0 {
			j++
		}
		if j-i > best && j > k { // a stretch ending before the kill is not the outage
			best, bestEnd = j-i, j
		}
		i = j
	}
	return time.Duration(best) * time.Millisecond, best == 0 || bestEnd < len(ticks)
}
