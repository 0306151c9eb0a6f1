package consumequeue

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/segment"
)

func TestPutGet(t *testing.T) {
	for _, tc := range []struct {
		name  string
		upf   int
		n     int
		start int64 // first queue offset of every queue
	}{
		{"one file", 8, 6, 0},
		{"across files", 4, 30, 0},
		{"exactly full files", 3, 27, 0},
		{"one unit per file", 1, 9, 0},
		{"prefix gone, blanks before the start", 4, 30, 6},
		{"prefix gone at a file start", 4, 30, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := segment.NewMemFS()
			log := genLog(tc.n, []string{"TopicA", "TopicB", "%RETRY%g"}, tc.start)
			s, _ := openStore(t, fs, tc.upf, nil)
			defer s.Close()
			put(t, s, log)
			checkQueues(t, s, log)
			if got := s.MinOffset("TopicA", 0); got != tc.start {
				t.Fatalf("MinOffset %d, want %d", got, tc.start)
			}
			if got := s.Topics(); !slices.Equal(got, []string{"%RETRY%g", "TopicA", "TopicB"}) {
				t.Fatalf("Topics %q", got)
			}
			if got := s.Queues("TopicB"); !slices.Equal(got, []int32{1}) {
				t.Fatalf("Queues %v", got)
			}
			max := s.MaxOffset("TopicA", 0)
			if u, err := s.Get("TopicA", 0, max, 10); err != nil || len(u) != 0 {
				t.Fatalf("Get at max: %v, %v", u, err)
			}
			if _, err := s.Get("TopicA", 0, max+1, 10); !errors.Is(err, ErrBeyondMax) {
				t.Fatalf("Get beyond max: %v", err)
			}
			if tc.start > 0 {
				if _, err := s.Get("TopicA", 0, tc.start-1, 10); !errors.Is(err, ErrBelowMin) {
					t.Fatalf("Get below min: %v", err)
				}
			}
			// Reopened, the same.
			if err := s.Sync(log[len(log)-1].index); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, info := openStore(t, fs, tc.upf, log)
			defer s.Close()
			if info.Index != uint64(tc.n) || info.Reset {
				t.Fatalf("reopen: %+v", info)
			}
			checkQueues(t, s, log)
			if got := s.MinOffset("TopicA", 0); got != tc.start {
				t.Fatalf("MinOffset after reopen %d, want %d", got, tc.start)
			}
		})
	}
}

func TestReadNoAllocs(t *testing.T) {
	s, _ := openStore(t, segment.NewMemFS(), 16, nil)
	defer s.Close()
	put(t, s, genLog(60, []string{"T"}, 0))
	q, _ := s.Queue("T", 0)
	dst := make([]Unit, 0, 32)
	dst, _ = q.Read(dst, 0, 32) // grows the scratch buffer once
	allocs := testing.AllocsPerRun(50, func() {
		var err error
		if dst, err = q.Read(dst[:0], 3, 32); err != nil || len(dst) != 32 {
			t.Fatalf("Read: %d units, %v", len(dst), err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Read allocates %.1f times per call", allocs)
	}
}

func TestContradictions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		topic string
		queue int32
		off   int64
		phys  int64
		size  int32
		err   error
		says  []string
	}{
		{"queue offset gap", "T", 0, 4, 5000, 10, ErrContradiction, []string{`topic "T" queue 0`, "queue offset 4", "expected 3"}},
		{"queue offset repeated", "T", 0, 2, 5000, 10, ErrContradiction, []string{"queue offset 2", "expected 3"}},
		{"physical offset backwards", "T", 0, 3, 1100, 10, ErrContradiction, []string{"physical offset 1100", "follow 1200"}},
		{"physical offset repeated in another queue", "U", 1, 0, 1200, 10, ErrContradiction, []string{`topic "U" queue 1`, "follow 1200"}},
		{"size 0", "T", 0, 3, 5000, 0, ErrInvalid, nil},
		{"blank size", "T", 0, 3, 5000, 1<<31 - 1, ErrInvalid, nil},
		{"bad topic", "../x", 0, 3, 5000, 10, ErrInvalid, nil},
		{"negative queue", "T", -1, 3, 5000, 10, ErrInvalid, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openStore(t, segment.NewMemFS(), 4, nil)
			defer s.Close()
			put(t, s, genLog(3, []string{"T"}, 0))
			err := s.Put(tc.topic, tc.queue, tc.off, tc.phys, tc.size, 0)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Put: %v, want %v", err, tc.err)
			}
			for _, w := range tc.says {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not say %q", err, w)
				}
			}
			// The store stays usable: the right unit goes in.
			if err := s.Put("T", 0, 3, 5000, 10, 0); err != nil {
				t.Fatalf("Put after the contradiction: %v", err)
			}
		})
	}
}

func TestNotRecovered(t *testing.T) {
	s, _, err := Open(testDir, Options{FS: segment.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put("T", 0, 0, 1, 1, 0); !errors.Is(err, ErrNotRecovered) {
		t.Fatalf("Put before TruncateFrom: %v", err)
	}
}
