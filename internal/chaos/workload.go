package chaos

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/internal/chaos/check"
	"github.com/rmqlog/rmqlog/internal/load"
)

// Workload sets the clients of a run: writers append unique payloads (an
// 8-byte id first), readers get indexes from the leader, each client on a
// connection of its own, every operation recorded with its call and
// return times for the checker.
type Workload struct {
	Writers, Readers int
	// Interval paces each client (an operation, then this pause), so a run
	// makes a history the linearizability search can finish.
	Interval time.Duration
	// OpTimeout bounds one operation (the client retries across failover
	// within it); past it the outcome is unknown.
	OpTimeout   time.Duration
	PayloadSize int
	// Quiesce is how often every client pauses at once (a moment with no
	// operation in flight): the linearizability search is cut at those
	// points into windows it can finish. Default 500 ms.
	Quiesce time.Duration
}

// history collects operations from every client.
type history struct {
	start time.Time
	mu    sync.Mutex
	ops   []check.Op
	// acked are recently acknowledged indexes, for readers to ask for.
	acked []uint64
	high  atomic.Uint64 // highest index acknowledged
	ids   atomic.Uint64 // the last id handed out
	errs  map[string]int
	// gate: every operation holds it shared; quiesce takes it exclusively
	// for a moment, so that no operation is in flight then.
	gate sync.RWMutex
}

// quiesce makes a quiescent point every d until ctx ends.
func (h *history) quiesce(ctx context.Context, d time.Duration) {
	for wait(ctx, d) {
		// Catch a moment when the clients happen to be between operations
		// (TryLock does not hold new operations back); if none comes, wait
		// for the operations in flight, holding new ones back.
		got := false
		for k := 0; k < 200 && !got; k++ {
			if got = h.gate.TryLock(); !got {
				time.Sleep(time.Millisecond)
			}
		}
		if !got {
			h.gate.Lock()
		}
		h.gate.Unlock()
	}
}

func (h *history) since() time.Duration { return time.Since(h.start) }

func (h *history) add(op check.Op) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	if op.Kind == check.Append && op.Outcome == check.OK {
		if len(h.acked) >= 4096 {
			h.acked = h.acked[1:]
		}
		h.acked = append(h.acked, op.Index)
		if op.Index > h.high.Load() {
			h.high.Store(op.Index)
		}
	}
	h.mu.Unlock()
}

func (h *history) countErr(err error) {
	h.mu.Lock()
	h.errs[errKind(err)]++
	h.mu.Unlock()
}

func errKind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, client.ErrNotFound):
		return "not found"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// pickIndex chooses what a reader asks for: mostly an acknowledged index,
// sometimes one just past the newest acknowledged (likely not committed
// yet: the answer "not found" is then checked too).
func (h *history) pickIndex(rng *rand.Rand) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.acked) == 0 || rng.IntN(4) == 0 {
		return h.high.Load() + 1 + uint64(rng.IntN(3))
	}
	return h.acked[rng.IntN(len(h.acked))]
}

// run drives the workload against addrs until ctx ends and returns the
// history.
func (w Workload) run(ctx context.Context, addrs []string, seed uint64) (*history, error) {
	h := &history{start: time.Now(), errs: map[string]int{}}
	if w.Quiesce <= 0 {
		w.Quiesce = 500 * time.Millisecond
	}
	var clients []*client.Client
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for range w.Writers + w.Readers { // every connection first: nothing to stop on an error
		cl, err := client.Dial(dctx, addrs, client.WithRetryTimeout(w.OpTimeout))
		if err != nil {
			for _, c := range clients {
				c.Close()
			}
			return nil, err
		}
		clients = append(clients, cl)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); h.quiesce(ctx, w.Quiesce) }()
	for k, cl := range clients {
		wg.Add(1)
		if k < w.Writers {
			go func() { defer wg.Done(); w.write(ctx, cl, k, h) }()
		} else {
			rng := rand.New(rand.NewPCG(seed, uint64(k)))
			go func() { defer wg.Done(); w.read(ctx, cl, k, h, rng) }()
		}
	}
	wg.Wait()
	for _, c := range clients {
		c.Close()
	}
	return h, nil
}

func (w Workload) write(ctx context.Context, cl *client.Client, k int, h *history) {
	payload := make([]byte, max(w.PayloadSize, load.IDBytes))
	copy(payload, "rmqchaos-payload-rmqchaos-payload-rmqchaos-payload-rmqchaos-payl")
	for ctx.Err() == nil {
		id := h.ids.Add(1)
		load.SetID(payload, id)
		h.gate.RLock()
		op := check.Op{Client: k, Kind: check.Append, ID: id, Call: h.since()}
		octx, cancel := context.WithTimeout(context.Background(), w.OpTimeout)
		i, err := cl.Append(octx, payload)
		cancel()
		op.Return = h.since()
		h.gate.RUnlock()
		if err == nil {
			op.Outcome, op.Index = check.OK, i
		} else {
			// Any failure may have been applied (the client retries, a
			// connection may die after the node took it): unknown.
			op.Outcome = check.Unknown
			h.countErr(err)
		}
		h.add(op)
		pause(ctx, w.Interval)
	}
}

func (w Workload) read(ctx context.Context, cl *client.Client, k int, h *history, rng *rand.Rand) {
	for ctx.Err() == nil {
		i := h.pickIndex(rng)
		h.gate.RLock()
		op := check.Op{Client: k, Kind: check.Read, Index: i, Call: h.since()}
		octx, cancel := context.WithTimeout(context.Background(), w.OpTimeout)
		p, err := cl.Get(octx, i)
		cancel()
		op.Return = h.since()
		h.gate.RUnlock()
		switch {
		case err == nil:
			op.Outcome, op.Found = check.OK, true
			op.ReadID, _ = load.PayloadID(p)
		case errors.Is(err, client.ErrNoop):
			op.Outcome, op.Found = check.OK, true // a no-op: found, no id
		case errors.Is(err, client.ErrNotFound):
			op.Outcome = check.OK // "not committed" from a confirmed leader
		default:
			h.countErr(err) // no answer: a read changes nothing, drop it
			pause(ctx, w.Interval)
			continue
		}
		h.add(op)
		pause(ctx, w.Interval)
	}
}

func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
