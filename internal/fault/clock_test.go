package fault

import (
	"fmt"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/internal/poll"
)

// TestClockAt checks the period and freeze a ticker sees for a clock state.
func TestClockAt(t *testing.T) {
	t0 := time.Now()
	const d = 10 * time.Millisecond
	tests := []struct {
		name       string
		freezeTo   time.Time
		rate       float64
		rateTo     time.Time
		now        time.Time
		wantPeriod time.Duration
		wantFrozen bool
	}{
		{"normal", time.Time{}, 0, time.Time{}, t0, d, false},
		{"frozen", t0.Add(time.Second), 0, time.Time{}, t0, d, true},
		{"freeze over", t0.Add(time.Second), 0, time.Time{}, t0.Add(time.Second), d, false},
		{"faster", time.Time{}, 4, t0.Add(time.Second), t0, d / 4, false},
		{"slower", time.Time{}, 0.5, t0.Add(time.Second), t0, 2 * d, false},
		{"rate over", time.Time{}, 4, t0.Add(time.Second), t0.Add(2 * time.Second), d, false},
		{"absurdly fast is bounded", time.Time{}, 1e9, t0.Add(time.Second), t0, time.Microsecond, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock()
			c.freezeTo, c.rate, c.rateTo = tc.freezeTo, tc.rate, tc.rateTo
			p, frozen := c.at(d, tc.now)
			if p != tc.wantPeriod || frozen != tc.wantFrozen {
				t.Errorf("at = %v, %v; want %v, %v", p, frozen, tc.wantPeriod, tc.wantFrozen)
			}
		})
	}
}

// count returns the ticks tk delivers in the next d.
func count(tk engine.Ticker, d time.Duration) int {
	n := 0
	end := time.After(d)
	for {
		select {
		case <-tk.C():
			n++
		case <-end:
			return n
		}
	}
}

// TestClockTicks runs real tickers (20 ms) through each command and counts
// the ticks in a window: a 400 ms window holds about 20, never more than
// 22 (one buffered). The bounds leave room for a loaded machine: a 4 ms
// ticker under the race detector on two busy cores was seen to deliver a
// third of its ticks, so "faster" only asks for more than the normal rate
// can give (TestClockRatePeriod checks the period itself).
func TestClockTicks(t *testing.T) {
	const interval = 20 * time.Millisecond
	const window = 400 * time.Millisecond
	tests := []struct {
		name     string
		cmd      func(c *Clock)
		wait     time.Duration // before counting
		min, max int
	}{
		{"normal", func(*Clock) {}, 0, 4, 22},
		{"freeze", func(c *Clock) { c.Freeze(600 * time.Millisecond) }, 0, 0, 1},
		{"after a freeze", func(c *Clock) { c.Freeze(100 * time.Millisecond) }, 150 * time.Millisecond, 4, 22},
		{"jump", func(c *Clock) { c.Jump(5 * time.Second) }, 0, 250, 272},
		{"faster", func(c *Clock) { c.Rate(5, time.Second) }, 0, 25, 102},
		{"slower", func(c *Clock) { c.Rate(0.2, time.Second) }, 0, 0, 8},
		{"after a slow rate", func(c *Clock) { c.Rate(0.05, 100*time.Millisecond) }, 150 * time.Millisecond, 4, 22},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock()
			tk := c.NewTicker(interval)
			defer tk.Stop()
			tc.cmd(c)
			count(tk, tc.wait) // let the command's effect pass
			select {
			case <-tk.C(): // a tick delivered before the command or the wait
			default:
			}
			if n := count(tk, window); n < tc.min || n > tc.max {
				t.Errorf("%d ticks in %v, want %d to %d", n, window, tc.min, tc.max)
			}
		})
	}
}

// TestClockRatePeriod: a Rate changes the ticker's period at once and
// restores it when it ends, with no tick needed to notice (a slow rate's
// next tick would come long after).
func TestClockRatePeriod(t *testing.T) {
	const d = 20 * time.Millisecond
	tests := []struct {
		name   string
		factor float64
		want   time.Duration
	}{
		{"faster", 4, d / 4},
		{"slower", 0.01, 100 * d},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock()
			tk := c.NewTicker(d)
			defer tk.Stop()
			period := func() time.Duration { return time.Duration(tk.(*ticker).now.Load()) }
			waitFor := func(want time.Duration) {
				t.Helper()
				poll.EventuallyNil(t, 5*time.Second, fmt.Sprintf("period %v", want), func() error {
					if p := period(); p != want {
						return fmt.Errorf("period %v", p)
					}
					return nil
				})
			}
			waitFor(d)
			c.Rate(tc.factor, 200*time.Millisecond)
			waitFor(tc.want)
			waitFor(d)
		})
	}
}

// TestClockStop: Stop ends the ticker's goroutine even while it delivers a
// jump nobody consumes, and a stopped ticker takes no more wakes.
func TestClockStop(t *testing.T) {
	c := NewClock()
	tk := c.NewTicker(time.Millisecond)
	c.Jump(time.Hour) // millions of ticks owed, none consumed
	done := make(chan struct{})
	go func() { tk.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return while a jump was pending")
	}
	c.mu.Lock()
	n := len(c.tickers)
	c.mu.Unlock()
	if n != 0 {
		t.Errorf("%d tickers still registered after Stop", n)
	}
	tk.Stop() // twice is fine
}
