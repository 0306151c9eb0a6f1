package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/internal/testgroup"
	"github.com/rmqlog/rmqlog/segment"
)

// seedEntries returns n payloads; variant changes the bytes of every
// entry from the 10th on (a member seeded from another input).
func seedEntries(n int, variant string) [][]byte {
	ps := make([][]byte, n)
	for i := range ps {
		v := ""
		if i >= 9 {
			v = variant
		}
		ps[i] = fmt.Appendf(nil, "seeded %d%s", i+1, v)
	}
	return ps
}

func fillWith(ps [][]byte) func(add func(segment.Type, []byte) error) error {
	return func(add func(segment.Type, []byte) error) error {
		for _, p := range ps {
			if err := add(segment.TypeNormal, p); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestSeed seeds every member of a new group, starts it, and checks: the
// seeds' digests agree, a leader in a term above engine.SeedTerm, the
// seeded entries are committed before the first new append, which
// follows them, every member ends with the same log, and the stamp saw
// the same offsets on every member.
func TestSeed(t *testing.T) {
	const n = 50
	var mu sync.Mutex
	seeded := map[string]bool{}
	offsets := map[string][]uint64{}
	results := map[string]engine.SeedResult{}
	g := testgroup.Start(t, testgroup.Options{Config: func(cfg *engine.Config) {
		mu.Lock()
		defer mu.Unlock()
		if seeded[cfg.ID] {
			return
		}
		seeded[cfg.ID] = true
		c := *cfg
		id := cfg.ID
		c.Stamp = func(_ segment.Type, _, offset uint64, _ []byte) { offsets[id] = append(offsets[id], offset) }
		res, err := engine.Seed(c, fillWith(seedEntries(n, "")))
		if err != nil || res.Last != n {
			t.Errorf("Seed %s: %+v, %v; want last %d", id, res, err, n)
		}
		results[id] = res
	}})
	mu.Lock()
	if results["n0"] != results["n1"] || results["n0"] != results["n2"] || results["n0"].LastCRC == 0 {
		t.Fatalf("seed results differ for the same input: %+v", results)
	}
	mu.Unlock()
	l := g.Leader()
	if term := l.Status().Term; term <= engine.SeedTerm {
		t.Fatalf("leader %s in term %d, want above the seed term %d", l.ID(), term, engine.SeedTerm)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	i, err := g.Append(ctx, []byte("after the import"))
	if err != nil {
		t.Fatal(err)
	}
	if i <= n+1 {
		t.Fatalf("first append at index %d, want after the %d seeded entries and a no-op", i, n)
	}
	g.Converge(i)
	want := seedEntries(n, "")
	for k := uint64(1); k <= n; k++ {
		e, err := l.Read(k)
		if err != nil || e.Term != engine.SeedTerm || string(e.Payload) != string(want[k-1]) {
			t.Fatalf("entry %d: term %d %q %v, want term %d %q", k, e.Term, e.Payload, err, engine.SeedTerm, want[k-1])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(offsets["n0"]) != fmt.Sprint(offsets["n1"]) || len(offsets["n0"]) != n {
		t.Fatalf("stamped offsets differ between members seeded alike:\nn0 %v\nn1 %v", offsets["n0"], offsets["n1"])
	}
}

// TestSeedDigest: another input (one byte of entry 10 of 50) gives
// another LastCRC, so comparing the members' digests before the first
// start catches a member seeded from the wrong input.
func TestSeedDigest(t *testing.T) {
	seed := func(variant string) engine.SeedResult {
		cfg := testgroup.Defaults()
		cfg.ID, cfg.Peers, cfg.Dir = "n0", map[string]string{"n0": "127.0.0.1:1"}, t.TempDir()
		res, err := engine.Seed(cfg, fillWith(seedEntries(50, variant)))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b, c := seed(""), seed(""), seed("x")
	if a != b || a.LastCRC == c.LastCRC || a.Last != c.Last {
		t.Fatalf("same input %+v %+v, other input %+v: want equal, then another LastCRC", a, b, c)
	}
}

// TestSeedRefuses: a directory that holds a seeded log, or a node's, is
// not seeded again; a failing fill leaves the directory as it was, so the
// import can run again.
func TestSeedRefuses(t *testing.T) {
	cfg := testgroup.Defaults()
	cfg.ID, cfg.Peers, cfg.Dir = "n0", map[string]string{"n0": "127.0.0.1:1"}, t.TempDir()

	boom := errors.New("the input ended early")
	_, err := engine.Seed(cfg, func(add func(segment.Type, []byte) error) error {
		for _, p := range seedEntries(5, "") {
			if err := add(segment.TypeNormal, p); err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failing fill: %v, want its error", err)
	}
	if _, err := engine.Seed(cfg, func(add func(segment.Type, []byte) error) error {
		return add(segment.TypeNoop, nil)
	}); err == nil {
		t.Fatal("a seeded no-op was accepted")
	}
	if res, err := engine.Seed(cfg, fillWith(seedEntries(3, ""))); err != nil || res.Last != 3 {
		t.Fatalf("seed after a failed one: %+v, %v; want last 3", res, err)
	}
	if _, err := engine.Seed(cfg, fillWith(seedEntries(3, ""))); !errors.Is(err, engine.ErrNotEmpty) {
		t.Fatalf("second seed: %v, want ErrNotEmpty", err)
	}
	hs, err := engine.ReadHardState(cfg.Dir)
	if err != nil || hs.Term != engine.SeedTerm || !hs.TermLost || hs.Vote != "" {
		t.Fatalf("hard state after seed: %+v %v; want term %d, lost (census before voting), no vote", hs, err, engine.SeedTerm)
	}

	// A directory that only holds a hard state (a node ran in it) is not
	// empty either.
	other := cfg
	other.Dir = t.TempDir()
	node, err := engine.Open(other)
	if err != nil {
		t.Fatal(err)
	}
	poll.Eventually(t, 10*time.Second, "the single member's no-op", func() bool { return node.Status().Last >= 1 })
	if err := node.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Seed(other, fillWith(seedEntries(1, ""))); !errors.Is(err, engine.ErrNotEmpty) {
		t.Fatalf("seed of a node's directory: %v, want ErrNotEmpty", err)
	}
}
