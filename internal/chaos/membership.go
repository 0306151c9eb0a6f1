package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/internal/chaos/check"
)

// The membership class (issue 18): under the campaign's load, each cycle
// either replaces a member (a new node joins as a learner, is promoted,
// and an old member, possibly the leader, is removed and stopped) or grows
// the group from 3 to 5 and shrinks it back to 3, while a kill -9 or an
// isolation of a random member (the leader included) hits some of the
// changes. n0 is never
// removed: the load's clients were given the first members' addresses.
// Every change is timed, with the longest gap between acknowledged appends
// around it (Result.Changes).

// spares is how many new nodes a membership run may start: one per
// replacement, two per growth.
const membershipSpares = 12

var membership = Fault{Name: "membership", Desc: "replace a member (learner, promote, remove), grow 3 -> 5 and shrink back, " +
	"some changes hit by a kill -9 or an isolation of a member", Spares: membershipSpares, Inject: func(ctx context.Context, f *Faulter) error {
	return f.cycles(ctx, func(ctx context.Context) error {
		if len(f.C.spares) < 2 {
			return nil // every spare used: the remaining cycles only heal
		}
		if f.Rng.IntN(2) == 0 {
			return f.replace(ctx)
		}
		return f.grow(ctx)
	})
}}

// errRunEnded: the run's fault phase ended before a change completed; its
// caller stops without acting on it (no retiring a member whose removal
// may not have committed: found by the short campaign, which stopped a
// voter that way and left a repairing pair unable to elect).
var errRunEnded = errors.New("chaos: the run ended during a membership change")

// ChangeTime is one membership change as the campaign timed it: how long
// the change took and the longest gap between acknowledged appends that
// overlaps it (the write outage it caused, at the load's resolution).
type ChangeTime struct {
	What         string
	Start, End   time.Time
	Took, Outage time.Duration
}

// change runs one membership change through the client, retrying what is
// transient (no leader, another change committing, a learner catching up)
// for up to limit, and records it.
func (f *Faulter) change(ctx context.Context, what string, limit time.Duration,
	do func(ctx context.Context, cl *client.Client) error) error {
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for cctx.Err() == nil {
		cl, err := client.Dial(cctx, f.C.Addrs(), client.WithDialTimeout(time.Second))
		if err == nil {
			err = do(cctx, cl)
			cl.Close()
		}
		if err == nil {
			end := time.Now()
			f.mu.Lock()
			f.changes = append(f.changes, ChangeTime{What: what, Start: start, End: end, Took: end.Sub(start)})
			f.mu.Unlock()
			f.note("%s: done in %v", what, end.Sub(start).Round(time.Millisecond))
			return nil
		}
		if errors.Is(err, client.ErrMembership) {
			return fmt.Errorf("chaos: %s: %w", what, err) // refused outright: a bug in the campaign or the node
		}
		last = err
		wait(cctx, 50*time.Millisecond)
	}
	if ctx.Err() != nil {
		return errRunEnded
	}
	return fmt.Errorf("chaos: %s did not complete within %v: %v", what, limit, last)
}

// add starts a spare, adds it as a learner and promotes it.
func (f *Faulter) add(ctx context.Context) (string, error) {
	id, peer, addr, err := f.C.Join()
	if err != nil {
		return "", err
	}
	f.note("%s started to join", id)
	if err := f.change(ctx, "add learner "+id, 20*f.Cycle, func(ctx context.Context, cl *client.Client) error {
		_, err := cl.AddLearner(ctx, id, peer, addr)
		return err
	}); err != nil {
		if errors.Is(err, errRunEnded) && !f.addedMaybe(id) {
			f.note("%s stopped: the run ended before it was added", id)
			return id, errors.Join(err, f.C.Retire(id))
		}
		return id, err
	}
	f.maybeKill(ctx, id)
	return id, f.change(ctx, "promote "+id, 20*f.Cycle, func(ctx context.Context, cl *client.Client) error {
		_, err := cl.Promote(ctx, id)
		return err
	})
}

// remove removes a random member other than n0 and keep, and stops it.
func (f *Faulter) remove(ctx context.Context, keep string) error {
	var pool []string
	for _, id := range f.C.IDs() {
		if id != "n0" && id != keep {
			pool = append(pool, id)
		}
	}
	if len(pool) == 0 {
		return nil
	}
	v := pool[f.Rng.IntN(len(pool))]
	lead := f.leader(ctx)
	what := "remove " + v
	if v == lead {
		what += " (the leader)"
	}
	if err := f.change(ctx, what, 20*f.Cycle, func(ctx context.Context, cl *client.Client) error {
		_, err := cl.RemoveMember(ctx, v)
		return err
	}); err != nil {
		if errors.Is(err, errRunEnded) && !f.addedMaybe(v) {
			return errors.Join(err, f.C.Retire(v)) // the removal committed after all
		}
		return err // errRunEnded: v is still a member; the heal restarts it like the others
	}
	return f.C.Retire(v)
}

// maybeKill, with probability 1/2, kills (and restarts) or isolates for a
// quarter cycle a random member other than spare, in the middle of a
// change.
func (f *Faulter) maybeKill(ctx context.Context, spare string) {
	if f.Rng.IntN(2) != 0 {
		return
	}
	var pool []string
	for _, id := range f.C.IDs() {
		if id != spare && f.C.Running(id) {
			pool = append(pool, id)
		}
	}
	if len(pool) == 0 {
		return
	}
	v := pool[f.Rng.IntN(len(pool))]
	if f.Rng.IntN(2) == 0 {
		f.note("kill -9 %s during the change (leader %s)", v, f.leader(ctx))
		_ = f.C.Kill(v)
		wait(ctx, f.Cycle/4)
		_ = f.C.Restart(v)
		return
	}
	// The proxy carries the links between the first members and from the
	// joined ones to them; members reach a joined node directly (its
	// address in the configuration), so isolating one cuts it only partly.
	f.note("isolate %s during the change (leader %s)", v, f.leader(ctx))
	f.C.Net().Isolate(v)
	wait(ctx, f.Cycle/4)
	f.C.Net().Heal()
}

func (f *Faulter) replace(ctx context.Context) error {
	id, err := f.add(ctx)
	if err == nil {
		err = f.remove(ctx, id)
	}
	return ended(err)
}

func (f *Faulter) grow(ctx context.Context) error {
	for range 2 {
		if _, err := f.add(ctx); err != nil {
			return ended(err)
		}
	}
	f.note("group of %d: %s", len(f.C.IDs()), strings.Join(f.C.IDs(), ","))
	for range 2 {
		if err := f.remove(ctx, ""); err != nil {
			return ended(err)
		}
	}
	return nil
}

// ended turns the end of the run into no error: the cycle just stops.
func ended(err error) error {
	if errors.Is(err, errRunEnded) {
		return nil
	}
	return err
}

// addedMaybe reports whether the configuration names id (or whether it
// cannot be told): the end of the run cut off a change whose outcome is
// unknown, and the group's checks must cover exactly its members.
func (f *Faulter) addedMaybe(id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, f.C.Addrs(), client.WithDialTimeout(time.Second))
	if err != nil {
		return true // cannot tell: keep it, the heal and the checks treat it as a member
	}
	defer cl.Close()
	m, err := cl.Members(ctx)
	if err != nil {
		return true
	}
	for _, x := range m.Members {
		if x.ID == id {
			return true
		}
	}
	return false
}

// changeOutages fills each change's Outage from the history: the longest
// gap between consecutive acknowledged appends that overlaps the change.
func changeOutages(cs []ChangeTime, start time.Time, ops []check.Op) []ChangeTime {
	var ts []time.Duration
	for _, op := range ops {
		if op.Kind == check.Append && op.Outcome == check.OK {
			ts = append(ts, op.Return)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	out := slices.Clone(cs)
	for k := range out {
		from, to := out[k].Start.Sub(start), out[k].End.Sub(start)
		for i := 1; i < len(ts); i++ {
			if ts[i] >= from && ts[i-1] <= to {
				out[k].Outage = max(out[k].Outage, ts[i]-ts[i-1])
			}
		}
	}
	return out
}
