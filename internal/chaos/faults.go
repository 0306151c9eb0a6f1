package chaos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/internal/chaos/netfault"
)

// Fault is one fault class of the campaign: Inject runs cycles of
// inject, wait, heal until ctx ends, recording what it did.
type Fault struct {
	Name  string
	Desc  string
	Nodes int // group size the fault needs (3 by default)
	// Spares: nodes prepared to join the group (the membership class).
	Spares int
	// LossAllowed says a loss of acknowledged entries is the documented
	// risk of mode under this fault (a power cut of every node under
	// ASYNC_FLUSH): measured and reported, not a failure.
	LossAllowed func(mode string) bool
	// ShortMode is the flush mode the short campaign (make test) runs the
	// fault in; "" alternates.
	ShortMode string
	Inject    func(ctx context.Context, f *Faulter) error
}

// Faulter is what a fault works with: the cluster, a seeded random source
// and the record of injections.
type Faulter struct {
	C     *Cluster
	Rng   *rand.Rand
	Cycle time.Duration // one inject-heal cycle takes about this long

	mu     sync.Mutex
	events []string
	start  time.Time
	// LostBytes is what power cuts zeroed, when the fault cuts power.
	LostBytes int64
	// Cuts are the times of power cuts of every node (see Result.Pass).
	Cuts []time.Time
	// changes are the membership changes made (membership.go); guarded by mu.
	changes []ChangeTime
}

// Changes are the membership changes made so far.
func (f *Faulter) Changes() []ChangeTime {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.changes)
}

func (f *Faulter) note(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, fmt.Sprintf("%6.2fs ", time.Since(f.start).Seconds())+fmt.Sprintf(format, args...))
}

// Events are the injections so far, one line each.
func (f *Faulter) Events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// leader finds the current leader within a cycle, or "" if none.
func (f *Faulter) leader(ctx context.Context) string {
	lctx, cancel := context.WithTimeout(ctx, f.Cycle)
	defer cancel()
	id, _ := f.C.Leader(lctx)
	return id
}

func (f *Faulter) other(not ...string) string {
	var ids []string
	for _, id := range f.C.IDs() {
		if !slices.Contains(not, id) {
			ids = append(ids, id)
		}
	}
	return ids[f.Rng.IntN(len(ids))]
}

// wait sleeps d or until ctx ends; it reports whether ctx is still live.
func wait(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// cycles runs one(ctx) repeatedly with a pause of half a cycle between,
// healing after each, until ctx ends.
func (f *Faulter) cycles(ctx context.Context, one func(ctx context.Context) error) error {
	for wait(ctx, f.Cycle/2) {
		if err := one(ctx); err != nil {
			return err
		}
		if err := f.C.Heal(); err != nil {
			return err
		}
	}
	return nil
}

func never(string) bool { return false }

// Faults are every fault class, in the order results list them: the
// single ones, then mixed.
var Faults []Fault

func init() { Faults = append(append(slices.Clone(single), membership), mixed) }

// single are the fault classes injected alone (and mixed's pool);
// membership follows them in Faults.
var single = []Fault{
	{Name: "kill-leader", Desc: "kill -9 of the leader, restart after a cycle", Inject: func(ctx context.Context, f *Faulter) error {
		return f.cycles(ctx, func(ctx context.Context) error {
			if l := f.leader(ctx); l != "" {
				f.note("kill -9 leader %s", l)
				if err := f.C.Kill(l); err != nil {
					return err
				}
				wait(ctx, f.Cycle)
			}
			return nil
		})
	}},
	{Name: "kill-follower", Desc: "kill -9 of a follower, restart after a cycle", Inject: func(ctx context.Context, f *Faulter) error {
		return f.cycles(ctx, func(ctx context.Context) error {
			if l := f.leader(ctx); l != "" {
				v := f.other(l)
				f.note("kill -9 follower %s", v)
				if err := f.C.Kill(v); err != nil {
					return err
				}
				wait(ctx, f.Cycle)
			}
			return nil
		})
	}},
	{Name: "kill-two", Desc: "kill -9 of the leader, then of another node (no majority), both restarted", Inject: func(ctx context.Context, f *Faulter) error {
		return f.cycles(ctx, func(ctx context.Context) error {
			l := f.leader(ctx)
			if l == "" {
				return nil
			}
			f.note("kill -9 leader %s", l)
			if err := f.C.Kill(l); err != nil {
				return err
			}
			wait(ctx, f.Cycle/2)
			v := f.other(l)
			f.note("kill -9 %s (no majority left)", v)
			if err := f.C.Kill(v); err != nil {
				return err
			}
			wait(ctx, f.Cycle/2)
			f.note("restart %s", l)
			if err := f.C.Restart(l); err != nil {
				return err
			}
			wait(ctx, f.Cycle/2)
			return nil
		})
	}},
	{Name: "pause-leader", Desc: "SIGSTOP of the leader until a new one is elected, then SIGCONT", Inject: func(ctx context.Context, f *Faulter) error {
		return f.cycles(ctx, func(ctx context.Context) error {
			l := f.leader(ctx)
			if l == "" {
				return nil
			}
			f.note("SIGSTOP leader %s", l)
			if err := f.C.Pause(l); err != nil {
				return err
			}
			n := f.leader(ctx) // the paused node is skipped
			f.note("new leader %q; SIGCONT %s", n, l)
			wait(ctx, f.Cycle/2)
			return f.C.Resume(l)
		})
	}},
	{Name: "partition-leader", Desc: "the leader isolated by the proxy (frames blackholed both ways)", Inject: func(ctx context.Context, f *Faulter) error {
		return f.cycles(ctx, func(ctx context.Context) error {
			if l := f.leader(ctx); l != "" {
				f.note("isolate leader %s", l)
				f.C.Net().Isolate(l)
				wait(ctx, f.Cycle)
			}
			return nil
		})
	}},
	{Name: "partition-random", Desc: "random partitions into a majority and a minority", Inject: func(ctx context.Context, f *Faulter) error {
		return f.cycles(ctx, func(ctx context.Context) error {
			ids := f.C.IDs()
			f.Rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
			k := 1 + f.Rng.IntN(len(ids)/2)
			f.note("partition %v | %v", ids[:k], ids[k:])
			f.C.Net().Partition(ids[:k], ids[k:])
			wait(ctx, f.Cycle)
			return nil
		})
	}},
	{Name: "one-way", Desc: "one-way links: the leader cannot send to the others (it still hears them), or cannot hear them", Inject: func(ctx context.Context, f *Faulter) error {
		return f.cycles(ctx, func(ctx context.Context) error {
			l := f.leader(ctx)
			if l == "" {
				return nil
			}
			out := f.Rng.IntN(2) == 0
			for _, o := range f.C.IDs() {
				if o == l {
					continue
				}
				if out {
					f.C.Net().Block(l, o)
				} else {
					f.C.Net().Block(o, l)
				}
			}
			f.note("one-way: leader %s outbound blocked %v", l, out)
			wait(ctx, f.Cycle)
			return nil
		})
	}},
	{Name: "frame-chaos", Desc: "every peer frame: 5% dropped, 5% duplicated, 5% reordered, 0-4 ms delay; plus kill -9 of the leader", Inject: func(ctx context.Context, f *Faulter) error {
		f.C.Net().SetFaults(netfault.Faults{Drop: 0.05, Duplicate: 0.05, Reorder: 0.05, Delay: 2 * time.Millisecond, Jitter: 2 * time.Millisecond})
		f.note("frame faults on")
		defer f.C.Net().Heal()
		for wait(ctx, f.Cycle) {
			if l := f.leader(ctx); l != "" {
				f.note("kill -9 leader %s", l)
				if err := f.C.Kill(l); err != nil {
					return err
				}
				wait(ctx, f.Cycle/2)
				if err := f.C.Restart(l); err != nil {
					return err
				}
			}
		}
		return nil
	}},
	{Name: "power-loss-all", Desc: "every node loses power at once: unsynced writes are lost everywhere", LossAllowed: func(mode string) bool { return mode == "ASYNC_FLUSH" },
		Inject: func(ctx context.Context, f *Faulter) error {
			return f.cycles(ctx, func(ctx context.Context) error {
				cut, lost, err := f.C.PowerLossAll()
				if err != nil {
					return err
				}
				f.LostBytes += lost
				f.Cuts = append(f.Cuts, cut)
				f.note("power loss of every node: %d unsynced bytes lost", lost)
				return nil
			})
		}},
	{Name: "power-loss-one", Desc: "one node (the leader or a follower) loses power", Inject: func(ctx context.Context, f *Faulter) error {
		return f.cycles(ctx, func(ctx context.Context) error {
			v := f.other()
			r, err := f.C.PowerLoss(v)
			if err != nil {
				return err
			}
			f.LostBytes += r.BytesZeroed
			f.note("power loss of %s: %d unsynced bytes lost", v, r.BytesZeroed)
			wait(ctx, f.Cycle/2)
			return nil
		})
	}},
	{Name: "power-loss-lagging", ShortMode: "ASYNC_FLUSH",
		Desc: "a follower paused so it lags; the other follower paused and the leader's power cut; the leader restarts and the lagging follower resumes before the other",
		Inject: func(ctx context.Context, f *Faulter) error {
			return f.cycles(ctx, func(ctx context.Context) error { return powerLossLagging(ctx, f) })
		}},
	{Name: "damage-minority", Desc: "a stopped follower's log damaged (bit flips, truncated file, rolled-back file), then the leader killed while it repairs", Inject: func(ctx context.Context, f *Faulter) error {
		kinds := []string{"flip", "truncate", "rollback"}
		k := 0
		return f.cycles(ctx, func(ctx context.Context) error {
			l := f.leader(ctx)
			if l == "" {
				return nil
			}
			v := f.other(l)
			snap, err := snapshotActive(f.C.LogDir(v))
			if err != nil {
				return err
			}
			wait(ctx, 200*time.Millisecond) // more entries go into the file after the copy
			if err := f.C.Kill(v); err != nil {
				return err
			}
			kind := kinds[k%len(kinds)]
			k++
			what, err := damage(f.C.LogDir(v), kind, snap, f.Rng)
			if err != nil {
				return err
			}
			f.note("%s: %s", v, what)
			before := f.C.LogCount(v, "damaged log:")
			if err := f.C.Restart(v); err != nil {
				return err
			}
			// The node reports the damage at start (a truncation above its
			// synced position is a torn tail, not damage).
			found := false
			for k := 0; k < 40 && !found; k++ {
				found = f.C.LogCount(v, "damaged log:") > before
				wait(ctx, 50*time.Millisecond)
			}
			f.note("%s: damage detected at start: %v", v, found)
			f.note("kill -9 leader %s while %s repairs", l, v)
			if err := f.C.Kill(l); err != nil {
				return err
			}
			wait(ctx, f.Cycle/2)
			return nil
		})
	}},
	{Name: "wipe-follower", Desc: "a follower paused so it lags; the other follower's data directory wiped (a replaced disk); the leader killed; the wiped node restarted empty and the lagging one resumed",
		Inject: func(ctx context.Context, f *Faulter) error {
			return f.cycles(ctx, func(ctx context.Context) error { return wipeFollower(ctx, f) })
		}},
	{Name: "disk-full", Desc: "one node's disk full (allocation and growth fail with ENOSPC) for a cycle", Inject: func(ctx context.Context, f *Faulter) error {
		return f.cycles(ctx, func(ctx context.Context) error {
			v := f.leader(ctx)
			if v == "" || f.Rng.IntN(2) == 0 {
				v = f.other()
			}
			f.note("disk full on %s", v)
			before := f.C.LogCount(v, "disk full")
			if err := f.C.Control(v, cmdDiskFull); err != nil {
				return err
			}
			wait(ctx, f.Cycle)
			f.note("%s: %d log lines about the full disk", v, f.C.LogCount(v, "disk full")-before)
			return nil
		})
	}},
	{Name: "clock", Desc: "a node's clock jumps forward, freezes, or runs 5x fast or slow (timers only come from it)", Inject: func(ctx context.Context, f *Faulter) error {
		cmds := []string{"clock jump 10s", "clock freeze 2s", "clock rate 5 2s", "clock rate 0.2 2s"}
		return f.cycles(ctx, func(ctx context.Context) error {
			v := f.leader(ctx)
			if v == "" || f.Rng.IntN(2) == 0 {
				v = f.other()
			}
			cmd := cmds[f.Rng.IntN(len(cmds))]
			f.note("%s: %s", v, cmd)
			if err := f.C.Control(v, cmd); err != nil {
				return err
			}
			wait(ctx, f.Cycle)
			return nil
		})
	}},
}

// lagging finds the leader l, pauses a follower a (SIGSTOP) and waits a
// third of a cycle, so that l and the other follower b commit entries a
// lacks; l is "" if no leader was found.
func (f *Faulter) lagging(ctx context.Context) (l, a, b string, err error) {
	if l = f.leader(ctx); l == "" {
		return "", "", "", nil
	}
	a = f.other(l)
	b = f.other(l, a)
	f.note("SIGSTOP follower %s (it lags)", a)
	if err := f.C.Pause(a); err != nil {
		return "", "", "", err
	}
	wait(ctx, f.Cycle/3)
	return l, a, b, nil
}

// powerLossLagging is the schedule of the durability review's LazyFS run,
// which lost 724 acknowledged entries under ASYNC_FLUSH: the entries the
// leader and follower b acknowledged while follower a lagged are held, after
// the leader's power cut, only by b, which is paused. The restarted leader
// (repairing: it stopped without a final sync) and a must not elect a leader
// without them; once b resumes, b is elected.
func powerLossLagging(ctx context.Context, f *Faulter) error {
	l, a, b, err := f.lagging(ctx)
	if err != nil || l == "" {
		return err
	}
	f.note("SIGSTOP follower %s; power cut of leader %s", b, l)
	if err := f.C.Pause(b); err != nil {
		return err
	}
	r, err := f.C.PowerLoss(l)
	if err != nil {
		return err
	}
	f.LostBytes += r.BytesZeroed
	if err := f.C.Restart(l); err != nil {
		return err
	}
	if err := f.C.Resume(a); err != nil {
		return err
	}
	f.note("power cut of leader %s: %d unsynced bytes lost; %s restarted, %s resumed", l, r.BytesZeroed, l, a)
	wait(ctx, f.Cycle/2)
	f.note("SIGCONT %s", b)
	return f.C.Resume(b)
}

// wipeFollower: the entries the leader and follower b acknowledged while
// follower a lagged are, once b's disk is wiped and the leader killed, held
// only by the dead leader. The restarted b must not vote a's way (a node
// with an empty directory votes normally only once every member answered
// its census, and this leader is down): no leader until the old one returns.
func wipeFollower(ctx context.Context, f *Faulter) error {
	l, a, b, err := f.lagging(ctx)
	if err != nil || l == "" {
		return err
	}
	if err := f.C.Wipe(b); err != nil {
		return err
	}
	f.note("%s wiped; kill -9 leader %s", b, l)
	if err := f.C.Kill(l); err != nil {
		return err
	}
	before := f.C.LogCount(b, "new data directory")
	if err := f.C.Restart(b); err != nil {
		return err
	}
	if err := f.C.Resume(a); err != nil {
		return err
	}
	found := false
	for k := 0; k < 20 && !found; k++ {
		found = f.C.LogCount(b, "new data directory") > before
		wait(ctx, 50*time.Millisecond)
	}
	f.note("%s restarted empty (census at start: %v); SIGCONT %s", b, found, a)
	wait(ctx, f.Cycle/2)
	return nil
}

// mixed injects one of the single faults per round, at random.
var mixed = Fault{Name: "mixed", Desc: "each cycle one of the faults above, at random, on a group of 5", Nodes: 5, Inject: func(ctx context.Context, f *Faulter) error {
	var pool []Fault
	for _, x := range single {
		if x.LossAllowed == nil {
			pool = append(pool, x)
		}
	}
	for ctx.Err() == nil {
		x := pool[f.Rng.IntN(len(pool))]
		f.note("mixed: %s", x.Name)
		cctx, cancel := context.WithTimeout(ctx, 3*f.Cycle)
		err := x.Inject(cctx, f)
		cancel()
		if err != nil {
			return err
		}
		if err := f.C.Heal(); err != nil {
			return err
		}
	}
	return nil
}}

// FaultByName finds a fault class.
func FaultByName(name string) (Fault, bool) {
	for _, f := range Faults {
		if f.Name == name {
			return f, true
		}
	}
	return Fault{}, false
}

// activeFile is the newest data file of a log directory that holds
// entries: the log keeps the next file prepared (zero-filled) under its
// real name, and every file's first entry starts at its first byte.
func activeFile(dir string) (string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(names) == 0 {
		return "", fmt.Errorf("chaos: no data file in %s: %v", dir, err)
	}
	slices.Sort(names)
	for i := len(names) - 1; i >= 0; i-- {
		f, err := os.Open(names[i])
		if err != nil {
			return "", err
		}
		head := make([]byte, 32)
		_, err = io.ReadFull(f, head)
		f.Close()
		if err == nil && slices.ContainsFunc(head, func(b byte) bool { return b != 0 }) {
			return names[i], nil
		}
	}
	return "", fmt.Errorf("chaos: no data file in %s holds an entry", dir)
}

// snapshot is a copy of a data file taken while the node runs, to roll the
// file back to later.
type snapshot struct {
	path string
	data []byte
}

func snapshotActive(dir string) (snapshot, error) {
	p, err := activeFile(dir)
	if err != nil {
		return snapshot{}, err
	}
	b, err := os.ReadFile(p)
	return snapshot{path: p, data: b}, err
}

// damage damages a stopped node's log: kind flip (a few random bits in its
// written part), truncate (the newest file cut in the middle of what was
// written) or rollback (a file replaced by its earlier copy).
func damage(dir, kind string, snap snapshot, rng *rand.Rand) (string, error) {
	if kind == "rollback" {
		if now, err := os.ReadFile(snap.path); err == nil && !bytes.Equal(now, snap.data) {
			return "rolled back " + filepath.Base(snap.path), os.WriteFile(snap.path, snap.data, 0o644)
		}
		kind = "flip" // nothing was written to it since the copy (or it is gone): damage otherwise
	}
	p, err := activeFile(dir)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	end := len(b)
	for end > 0 && b[end-1] == 0 {
		end--
	}
	if end < 64 {
		return "nothing written to damage in " + filepath.Base(p), nil
	}
	if kind == "truncate" {
		at := int64(end / 2)
		return fmt.Sprintf("truncated %s to %d bytes (of %d written)", filepath.Base(p), at, end), os.Truncate(p, at)
	}
	var offs []string
	for range 3 {
		at := rng.IntN(end)
		b[at] ^= 1 << rng.IntN(8)
		offs = append(offs, fmt.Sprint(at))
	}
	return fmt.Sprintf("flipped bits at %s in %s", strings.Join(offs, ","), filepath.Base(p)), os.WriteFile(p, b, 0o644)
}
