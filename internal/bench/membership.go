package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/load"
)

// The membership scenario (issue 18) measures the write outage of each
// membership change under load, with real processes as an operator runs
// them (docs/operations.md, "Replace a failed machine" and "Grow to five,
// and back"). Its steps, each after stepPause of steady load:
//
//	(a) replace  start spare A, add it as a learner, promote it (refused
//	             while it lags), remove an original follower, retire it
//	(b) grow     the same for spares B and C: five voters
//	(c) shrink   remove the leader itself (it hands off), retire it
//	(d)          remove one more follower, retire it: three voters
//
// Every step is timed; its outage is the longest stretch without an
// acknowledged append that overlaps it (stepOutages).

// membershipSpares is how many spares the scenario starts: A, B and C.
const membershipSpares = 3

// stepPause is the steady load before each step and after the last.
const stepPause = 1500 * time.Millisecond

// Step bounds: a change (its retries while a learner catches up
// included), and finding the leader.
const (
	changeTimeout = 2 * time.Minute
	leaderTimeout = 30 * time.Second
	// promoteRetry is the wait between two promotions refused because the
	// learner lags.
	promoteRetry = 200 * time.Millisecond
	// refusalEvery: one refusal in this many is printed.
	refusalEvery = 25
)

// Membership runs, per mode on a fresh rmqlog group with three spares,
// the load with every acknowledgement recorded; during it, the steps
// above; after it, a wait until every final member holds the last commit
// and the check of every acknowledged append on each of them.
func Membership(ctx context.Context, sys System, o Options) ([]*load.Result, error) {
	rs, ok := sys.(Rmqlog)
	if !ok {
		return nil, fmt.Errorf("bench: the membership scenario needs rmqlog's member changes; %s has none here", sys.Name())
	}
	rs.Spares = max(rs.Spares, membershipSpares)
	o = o.locked()
	return eachMode(ctx, rs, o, func(g Group, mode string) (*load.Result, error) {
		return membershipRun(ctx, g.(*rmqGroup), rs, mode, o)
	})
}

func membershipRun(ctx context.Context, g *rmqGroup, sys Rmqlog, mode string, o Options) (*load.Result, error) {
	spec := o.Spec
	spec.System, spec.Mode, spec.RecordAcks = sys.Name(), mode, true
	if err := warmUp(ctx, g, spec, o); err != nil {
		return nil, err
	}
	o.printf("-- %s: replace a follower, grow to 5, remove the leader, shrink to 3 (%v of steady load before each step)\n",
		Name(spec), stepPause)
	c := &changer{g: g, o: o, voters: len(nodeIDs)}
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	cctx, stopSteps := context.WithCancel(ctx)
	defer stopSteps()
	done := make(chan error, 1)
	go func() {
		err := c.run(cctx)
		if err != nil {
			stopLoad() // no point loading a group whose steps failed
		}
		done <- err
	}()
	r, err := load.Run(lctx, g.Target(), spec, o.Live)
	var cerr error
	late := false
	select {
	case cerr = <-done:
	default: // the load ended first
		stopSteps()
		<-done
		late = true
	}
	if err != nil {
		return nil, err
	}
	r.Name = Name(spec) + " membership"
	if late {
		return r, fmt.Errorf("bench: the load ended (%v) before the membership steps (%d of them done; under way: %s): raise --duration",
			r.Elapsed.Round(time.Millisecond), len(c.steps), c.doing)
	}
	if cerr != nil {
		return r, cerr
	}
	if r.Membership, err = c.result(r, sys.ElectionTimeout()); err != nil {
		return r, err
	}
	r.Membership.Verification, err = verify(ctx, g, r, o)
	return r, err
}

// changer takes the scenario's steps on a group and records them. It runs
// on one goroutine, which owns every field.
type changer struct {
	g      *rmqGroup
	o      Options
	steps  []timedStep
	voters int    // in the configuration, after the last change
	doing  string // the step under way and its last refusal, for an error
}

// timedStep is a step as the changer took it, in wall-clock time.
type timedStep struct {
	kind, node       string
	start, end       time.Time
	attempts, voters int
}

// run takes the steps (a) to (d), and a last pause.
func (c *changer) run(ctx context.Context) error {
	a, err := c.join(ctx)
	if err != nil {
		return err
	}
	if err := c.removeFollower(ctx, a); err != nil {
		return err
	}
	for range 2 {
		if _, err := c.join(ctx); err != nil {
			return err
		}
	}
	lead, err := c.leader(ctx)
	if err != nil {
		return err
	}
	if err := c.remove(ctx, lead, load.RemoveLeader); err != nil {
		return err
	}
	if err := c.removeFollower(ctx, ""); err != nil {
		return err
	}
	return c.pause(ctx)
}

func (c *changer) pause(ctx context.Context) error {
	if !load.Sleep(ctx, stepPause) {
		return ctx.Err()
	}
	return nil
}

// join starts the next spare, adds it as a learner and promotes it,
// retrying the promotion every promoteRetry while the learner lags.
func (c *changer) join(ctx context.Context) (string, error) {
	var sp Spare
	err := c.step(ctx, load.StartNode, "", func(ctx context.Context) (string, int, error) {
		var err error
		sp, err = c.g.StartSpare(ctx)
		return sp.ID, 0, err
	})
	if err != nil {
		return "", err
	}
	err = c.change(ctx, load.AddLearner, sp.ID, func(ctx context.Context, cl *client.Client) (proto.Members, error) {
		return cl.AddLearner(ctx, sp.ID, sp.Peer, sp.Client)
	})
	if err != nil {
		return "", err
	}
	return sp.ID, c.change(ctx, load.Promote, sp.ID, func(ctx context.Context, cl *client.Client) (proto.Members, error) {
		return cl.Promote(ctx, sp.ID)
	})
}

// removeFollower removes the first node that is neither the leader nor
// keep (the originals come first), and retires it.
func (c *changer) removeFollower(ctx context.Context, keep string) error {
	lead, err := c.leader(ctx)
	if err != nil {
		return err
	}
	for _, id := range c.g.Nodes() {
		if id != lead && id != keep {
			return c.remove(ctx, id, load.RemoveFollower)
		}
	}
	return fmt.Errorf("bench: no follower to remove besides %s (nodes %v, leader %s)", keep, c.g.Nodes(), lead)
}

// remove removes member id and retires it.
func (c *changer) remove(ctx context.Context, id, kind string) error {
	err := c.change(ctx, kind, id, func(ctx context.Context, cl *client.Client) (proto.Members, error) {
		return cl.RemoveMember(ctx, id)
	})
	if err != nil {
		return err
	}
	return c.step(ctx, load.Retire, id, func(context.Context) (string, int, error) {
		return id, 0, c.g.Retire(id)
	})
}

func (c *changer) leader(ctx context.Context) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, leaderTimeout)
	defer cancel()
	return c.g.Leader(lctx)
}

// change runs one membership change through a client of its own, dialed
// before the clock starts, retrying ErrNotCaughtUp and ErrChangePending
// (beyond the client's own 5 s) every promoteRetry; any other error ends
// the scenario.
func (c *changer) change(ctx context.Context, kind, id string, call func(context.Context, *client.Client) (proto.Members, error)) error {
	if err := c.pause(ctx); err != nil {
		return err
	}
	cl, err := client.Dial(ctx, c.g.Addrs())
	if err != nil {
		return fmt.Errorf("bench: %s %s: %w", kind, id, err)
	}
	defer cl.Close()
	return c.do(ctx, kind, id, func(ctx context.Context) (string, int, error) {
		for n := 1; ; n++ {
			m, err := call(ctx, cl)
			if err == nil {
				c.voters = voters(m)
				return id, n, nil
			}
			if !errors.Is(err, client.ErrNotCaughtUp) && !errors.Is(err, client.ErrChangePending) {
				return id, n, fmt.Errorf("bench: %s %s (attempt %d): %w", kind, id, n, err)
			}
			c.doing = fmt.Sprintf("%s %s, attempt %d refused: %v", kind, id, n, err)
			if n%refusalEvery == 1 {
				c.o.printf("   %s\n", c.doing)
			}
			if !load.Sleep(ctx, promoteRetry) {
				return id, n, fmt.Errorf("bench: %s %s: %w (last: %w)", kind, id, ctx.Err(), err)
			}
		}
	})
}

// step takes a process step after a pause.
func (c *changer) step(ctx context.Context, kind, node string, f func(context.Context) (string, int, error)) error {
	if err := c.pause(ctx); err != nil {
		return err
	}
	return c.do(ctx, kind, node, f)
}

// do times f (which returns the node it acted on and its attempts), within
// changeTimeout, and records it.
func (c *changer) do(ctx context.Context, kind, node string, f func(context.Context) (string, int, error)) error {
	sctx, cancel := context.WithTimeout(ctx, changeTimeout)
	defer cancel()
	c.doing = kind + " " + node
	start := time.Now()
	node, attempts, err := f(sctx)
	end := time.Now()
	if err != nil {
		return err
	}
	c.steps = append(c.steps, timedStep{kind: kind, node: node, start: start, end: end, attempts: attempts, voters: c.voters})
	extra := ""
	if attempts > 1 {
		extra = fmt.Sprintf(" (%d attempts)", attempts)
	}
	c.o.printf("   %s %s: %v%s; %d voters\n", kind, node, end.Sub(start).Round(time.Millisecond), extra, c.voters)
	return nil
}

// voters counts the voters of a configuration.
func voters(m proto.Members) int {
	n := 0
	for _, x := range m.Members {
		if !x.Learner {
			n++
		}
	}
	return n
}

// result turns the steps into r's Membership: times since r's start, each
// step's outage from r.Ticks, and the baseline.
func (c *changer) result(r *load.Result, electionTimeout time.Duration) (*load.Membership, error) {
	m := &load.Membership{ElectionTimeout: electionTimeout, Members: c.g.Nodes()}
	ws := make([]window, len(c.steps))
	for i, s := range c.steps {
		st := load.Step{Kind: s.kind, Node: s.node, At: s.start.Sub(r.Start), Took: s.end.Sub(s.start),
			Attempts: s.attempts, Voters: s.voters}
		m.Steps = append(m.Steps, st)
		ws[i] = windowOf(st.At, st.Took)
	}
	outages, baseline, ok := stepOutages(r.Ticks, ws)
	for i := range m.Steps {
		m.Steps[i].Outage = outages[i]
	}
	m.Baseline = baseline
	if !ok {
		return m, fmt.Errorf("bench: no append was acknowledged after the last step: the writes did not resume within the run (%v)",
			r.Elapsed.Round(time.Millisecond))
	}
	return m, nil
}
