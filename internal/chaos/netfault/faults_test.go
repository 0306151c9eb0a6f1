package netfault_test

import (
	"slices"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/chaos/netfault"
	"github.com/rmqlog/rmqlog/internal/poll"
)

// TestFaults sends n frames from a to b under each fault, heals, sends a
// marker, and checks what b received, in which order and how late.
func TestFaults(t *testing.T) {
	type result struct {
		got   []arrival // at b, marker removed
		s     *sender
		stats netfault.Counters // of a->b
	}
	inOrderOnce := func(t *testing.T, r result) {
		t.Helper()
		if !slices.IsSorted(indexes(r.got)) || len(slices.Compact(indexes(r.got))) != len(r.got) {
			t.Fatalf("frames out of order or twice: %v", indexes(r.got))
		}
	}
	latencies := func(r result) (lo, hi time.Duration) {
		lo = time.Hour
		for _, a := range r.got {
			d := a.at.Sub(r.s.sentAt(a.index))
			lo, hi = min(lo, d), max(hi, d)
		}
		return lo, hi
	}
	tests := []struct {
		name   string
		faults netfault.Faults
		opts   netfault.Options
		n      int
		// await is how many frames must arrive before the marker is sent
		// (a marker would release a frame held for reordering).
		await int
		check func(t *testing.T, r result)
	}{
		{"none", netfault.Faults{}, netfault.Options{}, 50, 0, func(t *testing.T, r result) {
			if !slices.Equal(indexes(r.got), seq(50)) || r.stats.Forwarded != 50 || r.stats.Frames != 50 {
				t.Fatalf("got %v, stats %+v; want 0..49 forwarded", indexes(r.got), r.stats)
			}
		}},
		{"drop all", netfault.Faults{Drop: 1}, netfault.Options{}, 50, 0, func(t *testing.T, r result) {
			if len(r.got) != 0 || r.stats.Dropped != 50 {
				t.Fatalf("got %v, stats %+v; want nothing, 50 dropped", indexes(r.got), r.stats)
			}
		}},
		{"drop half", netfault.Faults{Drop: 0.5}, netfault.Options{}, 100, 0, func(t *testing.T, r result) {
			inOrderOnce(t, r)
			if uint64(len(r.got)) != 100-r.stats.Dropped || r.stats.Dropped < 25 || r.stats.Dropped > 75 {
				t.Fatalf("%d arrived, stats %+v; want 100 - Dropped, and about 50 dropped", len(r.got), r.stats)
			}
		}},
		{"duplicate all", netfault.Faults{Duplicate: 1}, netfault.Options{}, 50, 0, func(t *testing.T, r result) {
			var want []uint64
			for _, i := range seq(50) {
				want = append(want, i, i)
			}
			if !slices.Equal(indexes(r.got), want) || r.stats.Duplicated != 50 || r.stats.Forwarded != 100 {
				t.Fatalf("got %v, stats %+v; want each frame twice in a row", indexes(r.got), r.stats)
			}
		}},
		{"duplicate some", netfault.Faults{Duplicate: 0.3}, netfault.Options{}, 100, 0, func(t *testing.T, r result) {
			twice := 0
			for i := range 100 {
				switch k := slices.Index(indexes(r.got), uint64(i)); {
				case k < 0:
					t.Fatalf("frame %d lost", i)
				case k+1 < len(r.got) && r.got[k+1].index == uint64(i):
					twice++
				}
			}
			if uint64(twice) != r.stats.Duplicated || twice == 0 || len(r.got) != 100+twice {
				t.Fatalf("%d frames twice, stats %+v, %d arrived", twice, r.stats, len(r.got))
			}
		}},
		// A window long enough that no held frame is flushed alone: the
		// pairs swap exactly.
		{"reorder all", netfault.Faults{Reorder: 1}, netfault.Options{ReorderWindow: time.Minute}, 50, 0, func(t *testing.T, r result) {
			var want []uint64
			for i := uint64(0); i < 50; i += 2 {
				want = append(want, i+1, i)
			}
			if !slices.Equal(indexes(r.got), want) || r.stats.Reordered != 25 {
				t.Fatalf("got %v, stats %+v; want 1 0 3 2 ...", indexes(r.got), r.stats)
			}
		}},
		{"duplicate and reorder", netfault.Faults{Duplicate: 1, Reorder: 1}, netfault.Options{ReorderWindow: time.Minute}, 20, 0, func(t *testing.T, r result) {
			var want []uint64
			for i := uint64(0); i < 20; i += 2 {
				want = append(want, i+1, i+1, i, i)
			}
			if !slices.Equal(indexes(r.got), want) || r.stats.Reordered != 10 || r.stats.Duplicated != 20 {
				t.Fatalf("got %v, stats %+v; want 1 1 0 0 3 3 2 2 ...", indexes(r.got), r.stats)
			}
		}},
		{"reorder flushes a lone frame", netfault.Faults{Reorder: 1}, netfault.Options{ReorderWindow: 100 * time.Millisecond}, 1, 1, func(t *testing.T, r result) {
			if lo, _ := latencies(r); len(r.got) != 1 || lo < 100*time.Millisecond || r.stats.Reordered != 0 {
				t.Fatalf("got %v after %v, stats %+v; want frame 0 after the 100ms window", indexes(r.got), lo, r.stats)
			}
		}},
		{"delay", netfault.Faults{Delay: 150 * time.Millisecond}, netfault.Options{}, 30, 0, func(t *testing.T, r result) {
			inOrderOnce(t, r)
			if lo, _ := latencies(r); len(r.got) != 30 || lo < 150*time.Millisecond || r.stats.Delayed != 30 {
				t.Fatalf("%d arrived, the earliest after %v, stats %+v; want 30 after 150ms", len(r.got), lo, r.stats)
			}
		}},
		{"jitter keeps order", netfault.Faults{Delay: time.Millisecond, Jitter: 60 * time.Millisecond}, netfault.Options{}, 50, 0, func(t *testing.T, r result) {
			inOrderOnce(t, r)
			if lo, hi := latencies(r); len(r.got) != 50 || lo < time.Millisecond || hi < 20*time.Millisecond {
				t.Fatalf("%d arrived, latencies %v to %v; want 50, spread by the jitter", len(r.got), lo, hi)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Seed = 7
			n, nodes := testNet(t, tt.opts, "a", "b")
			n.SetLinkFaults("a", "b", tt.faults)
			s := dial(t, n, "a", "b")
			s.send(seq(tt.n)...)
			ab := netfault.Link{From: "a", To: "b"}
			waitFrames(t, n, ab, uint64(tt.n))
			poll.Eventually(t, 10*time.Second, "the frames awaited at b", func() bool { return len(nodes["b"].arrivals("a")) >= tt.await })
			n.Heal()
			s.send(marker)
			poll.Eventually(t, 10*time.Second, "the marker at b", func() bool { return hasMarker(nodes["b"].arrivals("a")) })
			st := n.Stats().Links[ab]
			st.Frames--
			st.Forwarded-- // the marker's
			tt.check(t, result{got: withoutMarker(t, nodes["b"].arrivals("a")), s: s, stats: st})
		})
	}
}

// TestFaultsSeeded: the same seed makes the same frames meet the same fate.
func TestFaultsSeeded(t *testing.T) {
	run := func(seed uint64) []uint64 {
		n, nodes := testNet(t, netfault.Options{Seed: seed}, "a", "b")
		n.SetFaults(netfault.Faults{Drop: 0.3, Duplicate: 0.3})
		s := dial(t, n, "a", "b")
		s.send(seq(100)...)
		waitFrames(t, n, netfault.Link{From: "a", To: "b"}, 100)
		n.Heal()
		s.send(marker)
		poll.Eventually(t, 10*time.Second, "the marker at b", func() bool { return hasMarker(nodes["b"].arrivals("a")) })
		return indexes(nodes["b"].arrivals("a"))
	}
	first, again, other := run(11), run(11), run(12)
	if !slices.Equal(first, again) {
		t.Fatalf("seed 11 twice:\n%v\n%v", first, again)
	}
	if slices.Equal(first, other) {
		t.Fatalf("seeds 11 and 12 gave the same fates: %v", first)
	}
}
