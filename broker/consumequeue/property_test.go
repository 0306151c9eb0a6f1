package consumequeue

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/rmqlog/rmqlog/segment"
)

// The store against a naive model (the log itself) through random runs of
// puts, syncs, retention, clean and torn crashes: after every step each
// queue's min, max and units are what the log's messages say.
func TestAgainstModel(t *testing.T) {
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			upf := 1 + rng.IntN(7)
			log := randomLog(rng, 400)
			fs := segment.NewMemFS()
			s, _ := openStore(t, fs, upf, nil)
			// The log's retention never passes the consume queues'
			// checkpoint: the broker must be able to replay from it.
			applied, synced, retain := 0, 0, int64(0)
			for step := 0; step < 150 && applied < len(log); step++ {
				switch r := rng.IntN(10); {
				case r < 5:
					k := min(len(log)-applied, 1+rng.IntN(12))
					put(t, s, log[applied:applied+k])
					applied += k
				case r < 7:
					if err := s.Sync(uint64(applied)); err != nil {
						t.Fatal(err)
					}
					synced = applied
				case r < 8 && synced > 0:
					retain = max(retain, log[rng.IntN(synced)].phys)
					if err := s.DeleteBefore(retain); err != nil {
						t.Fatal(err)
					}
				default:
					crashed := fs.Crash()
					if rng.IntN(2) == 0 {
						crashed = fs.CrashTorn(rng)
					}
					s.Close()
					fs = crashed
					var info Info
					s, info = openStore(t, fs, upf, log)
					if int(info.Index) != synced {
						t.Fatalf("reopened at index %d, synced %d", info.Index, synced)
					}
					applied = synced
					if err := s.DeleteBefore(retain); err != nil {
						t.Fatal(err)
					}
				}
				checkModel(t, s, log[:applied], retain)
			}
			s.Close()
		})
	}
}

// randomLog returns n messages of random queues among six, each queue's
// offsets contiguous from 0.
func randomLog(rng *rand.Rand, n int) []msg {
	next := map[[2]int]int64{}
	var log []msg
	phys := int64(0x0100_0000_0000)
	for i := range n {
		k := [2]int{rng.IntN(2), rng.IntN(3)}
		size := int32(50 + rng.IntN(200))
		log = append(log, msg{topic: []string{"A", "B"}[k[0]], queue: int32(k[1]), off: next[k],
			phys: phys, size: size, tags: rng.Int64(), index: uint64(i + 1)})
		next[k]++
		phys += int64(size) + 32*int64(rng.IntN(2))
	}
	return log
}

// checkModel compares every queue with the applied messages: max is the
// count, min the first unit at or above retain (max if none), and the
// units in between are the messages'.
func checkModel(t *testing.T, s *Store, applied []msg, retain int64) {
	t.Helper()
	byQueue := map[string][]msg{}
	for _, m := range applied {
		k := fmt.Sprintf("%s/%d", m.topic, m.queue)
		byQueue[k] = append(byQueue[k], m)
	}
	for k, ms := range byQueue {
		topic, id := ms[0].topic, ms[0].queue
		wantMin := int64(len(ms))
		for i, m := range ms {
			if m.phys >= retain {
				wantMin = int64(i)
				break
			}
		}
		if mn, mx := s.MinOffset(topic, id), s.MaxOffset(topic, id); mn != wantMin || mx != int64(len(ms)) {
			t.Fatalf("%s: min %d max %d, want %d %d", k, mn, mx, wantMin, len(ms))
		}
		units, err := s.Get(topic, id, wantMin, len(ms))
		if err != nil {
			t.Fatalf("%s: Get(%d): %v", k, wantMin, err)
		}
		for i, u := range units {
			m := ms[wantMin+int64(i)]
			if u != (Unit{m.phys, m.size, m.tags}) {
				t.Fatalf("%s offset %d: %v, want %+v", k, m.off, u, m)
			}
		}
	}
}
