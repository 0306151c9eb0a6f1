package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/internal/load"
)

// Options are what every scenario takes.
type Options struct {
	// Spec is the load: payload, form, producers, rate, duration or
	// count. System and Mode are filled per run.
	Spec load.Spec
	// Modes are the flush modes to run, in order (SYNC_FLUSH, ASYNC_FLUSH).
	Modes []string
	// Warmup is a load of the same shape run first and discarded.
	Warmup time.Duration
	// Live gets the progress lines (nil: none). The scenarios write to it
	// from several goroutines (the load's once-a-second line, the fault
	// injector) and serialize those writes themselves.
	Live io.Writer
	// Scratch is the directory the groups' data go under; each group gets
	// a fresh subdirectory, removed after the group stopped.
	Scratch string
	// KillAt and RestartAt time the failover scenario, from the start of
	// the measured load.
	KillAt, RestartAt time.Duration
}

// Name is a run's name in reports: system, mode, payload and load form.
func Name(s load.Spec) string {
	form := fmt.Sprintf("%s-%d", s.Form, s.Producers)
	if s.Form == load.Open {
		form = fmt.Sprintf("open-%d/s", s.Rate)
	}
	return fmt.Sprintf("%s %s %s %s", s.System, s.Mode, load.Size(s.Payload), form)
}

// lockedWriter serializes the writes to Options.Live.
type lockedWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// locked returns o with Live safe for concurrent writes.
func (o Options) locked() Options {
	if _, ok := o.Live.(*lockedWriter); !ok && o.Live != nil {
		o.Live = &lockedWriter{w: o.Live}
	}
	return o
}

func (o Options) printf(format string, args ...any) {
	if o.Live != nil {
		fmt.Fprintf(o.Live, format, args...)
	}
}

// StartTimeout bounds starting a group: its processes up and a leader
// elected.
const StartTimeout = time.Minute

// withGroup starts a group of sys in mode in a fresh scratch directory,
// calls f, and stops the group and removes the directory.
func withGroup(ctx context.Context, sys System, mode string, o Options, f func(Group) error) (err error) {
	dir, err := os.MkdirTemp(o.Scratch, sys.Name()+"-"+mode+"-")
	if err != nil {
		return err
	}
	o.printf("== %s %s: starting a local 3-node group in %s\n", sys.Name(), mode, dir)
	settle()
	t0 := time.Now()
	sctx, cancel := context.WithTimeout(ctx, StartTimeout)
	g, err := sys.Start(sctx, mode, dir)
	cancel()
	if err != nil {
		return fmt.Errorf("%s %s: %w (node logs in %s)", sys.Name(), mode, err, dir)
	}
	o.printf("   group up in %v\n", time.Since(t0).Round(time.Millisecond))
	defer func() {
		if serr := g.Stop(); serr != nil {
			o.printf("   warning: stopping the group: %v\n", serr)
			return // keep the logs
		}
		os.RemoveAll(dir)
		settle()
	}()
	return f(g)
}

// settle flushes the machine's dirty pages and finishes the file system's
// pending work (freed extents are discarded at the journal commit on a
// disk mounted with -o discard) before the next group starts, so that the
// previous group's data and its deletion do not stall the next group's
// fsyncs: before this, SYNC_FLUSH open-loop runs right after a group's
// removal showed 30-220 ms p99 spikes in their first or middle seconds.
func settle() { syscall.Sync() }

// loadable is what measure needs of a group.
type loadable interface {
	Target() load.Target
	CPU() map[string]time.Duration
}

// warmUp runs o.Warmup of spec's load and discards it.
func warmUp(ctx context.Context, g loadable, spec load.Spec, o Options) error {
	if o.Warmup <= 0 {
		return nil
	}
	w := spec
	w.Duration, w.Count, w.RecordAcks = o.Warmup, 0, false
	o.printf("   warm-up %v\n", o.Warmup)
	_, err := load.Run(ctx, g.Target(), w, nil)
	return err
}

// measure runs one warm-up and one measured load of spec on g, with the
// node processes' CPU time over the measured one.
func measure(ctx context.Context, g loadable, spec load.Spec, o Options) (*load.Result, error) {
	if err := warmUp(ctx, g, spec, o); err != nil {
		return nil, err
	}
	o.printf("-- %s\n", Name(spec))
	cpu0 := g.CPU()
	r, err := load.Run(ctx, g.Target(), spec, o.Live)
	if err != nil {
		return nil, err
	}
	r.Name = Name(spec)
	r.NodeCPU = map[string]time.Duration{}
	for node, d := range g.CPU() {
		if d0, ok := cpu0[node]; ok && d >= d0 {
			r.NodeCPU[node] = d - d0
		}
	}
	return r, ctx.Err()
}

// Default runs the load once per mode, each on a fresh group.
func Default(ctx context.Context, sys System, o Options) ([]*load.Result, error) {
	o = o.locked()
	return eachMode(ctx, sys, o, func(g Group, mode string) (*load.Result, error) {
		spec := o.Spec
		spec.System, spec.Mode = sys.Name(), mode
		return measure(ctx, g, spec, o)
	})
}

// eachMode calls run on a fresh group per mode and collects the results.
func eachMode(ctx context.Context, sys System, o Options, run func(g Group, mode string) (*load.Result, error)) ([]*load.Result, error) {
	var out []*load.Result
	for _, mode := range o.Modes {
		err := withGroup(ctx, sys, mode, o, func(g Group) error {
			r, err := run(g, mode)
			if r != nil {
				out = append(out, r)
			}
			return err
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// Sweep runs every payload size x producer count in each mode: one fresh
// group per mode and payload size (so the logs stay a few GiB), the
// producer counts in turn on it.
func Sweep(ctx context.Context, sys System, o Options, payloads, producers []int) ([]*load.Result, error) {
	o = o.locked()
	var out []*load.Result
	for _, mode := range o.Modes {
		for _, size := range payloads {
			err := withGroup(ctx, sys, mode, o, func(g Group) error {
				for _, p := range producers {
					spec := o.Spec
					spec.System, spec.Mode, spec.Payload, spec.Producers = sys.Name(), mode, size, p
					r, err := measure(ctx, g, spec, o)
					if r != nil {
						out = append(out, r)
					}
					if err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// Remote runs the load once against a group that is already running, at
// the client addresses addrs. The mode is the one the node reports; node
// CPU is not measured (the processes are not ours).
func Remote(ctx context.Context, addrs []string, o Options) ([]*load.Result, error) {
	o = o.locked()
	cl, err := client.Dial(ctx, addrs)
	if err != nil {
		return nil, fmt.Errorf("bench: --target: %w", err)
	}
	defer cl.Close()
	doc, err := cl.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: --target: status: %w", err)
	}
	var st struct {
		FlushMode string `json:"flushMode"`
	}
	if err := json.Unmarshal(doc, &st); err != nil {
		return nil, fmt.Errorf("bench: --target: status: %w", err)
	}
	spec := o.Spec
	spec.System, spec.Mode = "rmqlog", st.FlushMode
	g := remoteGroup{ClientTarget{cl}}
	r, err := measure(ctx, g, spec, o)
	if r != nil {
		r.NodeCPU = nil
		return []*load.Result{r}, err
	}
	return nil, err
}

// remoteGroup is the part of a Group measure needs, for a group that is
// not ours.
type remoteGroup struct{ t ClientTarget }

func (g remoteGroup) Target() load.Target           { return g.t }
func (g remoteGroup) CPU() map[string]time.Duration { return nil }

// ParseModes reads a --modes flag: flush modes separated by commas, in
// order, case and spaces ignored; each SYNC_FLUSH or ASYNC_FLUSH.
func ParseModes(s string) ([]string, error) {
	var modes []string
	for _, m := range strings.Split(s, ",") {
		m = strings.ToUpper(strings.TrimSpace(m))
		if m != "SYNC_FLUSH" && m != "ASYNC_FLUSH" {
			return nil, fmt.Errorf("--modes %q: allowed SYNC_FLUSH, ASYNC_FLUSH", s)
		}
		modes = append(modes, m)
	}
	return modes, nil
}
