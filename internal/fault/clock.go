package fault

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqlog/rmqlog/engine"
)

// Clock is an engine.Clock over real tickers that a fault campaign can
// stall (Freeze), jump forward (Jump) and speed up or slow down (Rate)
// while the node runs. The zero value is not usable; call NewClock. It is
// safe for concurrent use.
type Clock struct {
	mu       sync.Mutex           // guards every field
	freezeTo time.Time            // no ticks are delivered before this
	rate     float64              // the tick rate factor until rateTo
	rateTo   time.Time            // rate applies before this
	jumped   time.Duration        // the sum of every Jump
	tickers  map[*ticker]struct{} // running tickers, woken by every change
	timer    *time.Timer          // wakes the tickers when a Rate ends
}

var _ engine.Clock = (*Clock)(nil)

// NewClock returns a clock that ticks like the real one until told
// otherwise.
func NewClock() *Clock { return &Clock{tickers: map[*ticker]struct{}{}} }

// Freeze delivers no tick for d from now (a stalled clock, or a process
// whose timers stop). Ticks resume at the first real tick after it.
func (c *Clock) Freeze(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if to := time.Now().Add(d); to.After(c.freezeTo) {
		c.freezeTo = to
	}
}

// Jump moves the clock d forward: every ticker delivers d/interval extra
// ticks as fast as its consumer takes them, even while frozen (remainders
// carry over to the next Jump). Tickers created later do not see it.
func (c *Clock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jumped += d
	c.wakeLocked()
}

// Rate makes ticks come factor times as often (factor < 1: slower) for d
// from now, then at the normal rate again. A new Rate replaces the last.
func (c *Clock) Rate(factor float64, d time.Duration) {
	if factor <= 0 {
		panic(fmt.Sprintf("fault: clock rate factor %v must be positive", factor))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rate, c.rateTo = factor, time.Now().Add(d)
	if c.timer != nil {
		c.timer.Stop()
	}
	c.timer = time.AfterFunc(d, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.wakeLocked()
	})
	c.wakeLocked()
}

// wakeLocked tells every ticker the state changed; mu held.
func (c *Clock) wakeLocked() {
	for t := range c.tickers {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// at returns the period of a ticker of interval d at time now, and whether
// ticks are frozen then.
func (c *Clock) at(d time.Duration, now time.Time) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.atLocked(d, now), now.Before(c.freezeTo)
}

func (c *Clock) atLocked(d time.Duration, now time.Time) time.Duration {
	if !now.Before(c.rateTo) || c.rate == 0 {
		return d
	}
	return max(time.Duration(float64(d)/c.rate), time.Microsecond)
}

// jumps returns the extra ticks t owes for jumps it has not delivered.
func (c *Clock) jumps(t *ticker) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := (c.jumped - t.seen) / t.d
	t.seen += n * t.d
	return int(n)
}

// NewTicker returns a ticker of interval d that obeys the clock. Its
// goroutine runs until Stop.
func (c *Clock) NewTicker(d time.Duration) engine.Ticker {
	if d <= 0 {
		panic(fmt.Sprintf("fault: ticker interval %v must be positive", d))
	}
	t := &ticker{c: c, d: d, ch: make(chan time.Time, 1), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	c.mu.Lock()
	t.seen = c.jumped
	c.tickers[t] = struct{}{}
	period := c.atLocked(d, time.Now())
	c.mu.Unlock()
	go t.run(period)
	return t
}

// ticker is a Clock's ticker: a goroutine that forwards a real ticker's
// ticks, or drops them, or adds some, as the clock says.
type ticker struct {
	c    *Clock
	d    time.Duration
	ch   chan time.Time // delivered ticks; holds one, like time.Ticker
	wake chan struct{}  // the clock changed
	stop chan struct{}  // closed by Stop
	done chan struct{}  // closed when run returns
	once sync.Once
	seen time.Duration // guarded by c.mu: the jumps delivered
	now  atomic.Int64  // the current period, for tests
}

func (t *ticker) C() <-chan time.Time { return t.ch }

// Stop stops the ticker and waits for its goroutine to end.
func (t *ticker) Stop() {
	t.once.Do(func() {
		t.c.mu.Lock()
		delete(t.c.tickers, t)
		t.c.mu.Unlock()
		close(t.stop)
	})
	<-t.done
}

func (t *ticker) run(period time.Duration) {
	defer close(t.done)
	base := time.NewTicker(period)
	defer base.Stop()
	t.now.Store(int64(period))
	retime := func(now time.Time) bool {
		p, frozen := t.c.at(t.d, now)
		if p != period {
			period = p
			base.Reset(p)
			t.now.Store(int64(p))
		}
		return frozen
	}
	for {
		select {
		case <-t.stop:
			return
		case now := <-base.C:
			if retime(now) {
				continue
			}
			select {
			case t.ch <- now:
			default: // the consumer is behind: drop, as time.Ticker does
			}
		case <-t.wake:
			retime(time.Now())
			for n := t.c.jumps(t); n > 0; n-- {
				select {
				case t.ch <- time.Now():
				case <-t.stop:
					return
				}
			}
		}
	}
}
