package consumequeue

import (
	"errors"
	"testing"

	"github.com/rmqlog/rmqlog/segment"
)

func TestSearchOffset(t *testing.T) {
	// Queue T/0: offsets 0..11, physical offsets 1000 + 100i; store times
	// by offset below (duplicates as RocketMQ sees within a millisecond).
	times := []int64{10, 20, 20, 20, 30, 40, 50, 50, 60, 70, 80, 90}
	lookup := func(phys int64, size int32) (int64, error) { return times[(phys-1000)/100], nil }
	for _, tc := range []struct {
		name    string
		deleted int64 // DeleteBefore first
		ts      int64
		want    int64
	}{
		{"before the first: the min offset", 0, 5, 0},
		{"exactly the first", 0, 10, 0},
		{"duplicates: the first of them", 0, 20, 1},
		{"between: the first after", 0, 25, 4},
		{"duplicates across a file boundary", 0, 50, 6},
		{"the last", 0, 90, 11},
		{"after the last: the max offset", 0, 91, 12},
		{"before the first after retention: the new min", 1350, 5, 4},
		{"inside after retention", 1350, 55, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openStore(t, segment.NewMemFS(), 4, nil)
			defer s.Close()
			put(t, s, genLog(len(times), []string{"T"}, 0))
			if tc.deleted > 0 {
				if err := s.DeleteBefore(tc.deleted); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.SearchOffset("T", 0, tc.ts, lookup)
			if err != nil || got != tc.want {
				t.Fatalf("SearchOffset(%d) = %d, %v; want %d", tc.ts, got, err, tc.want)
			}
		})
	}
}

func TestSearchOffsetErrors(t *testing.T) {
	s, _ := openStore(t, segment.NewMemFS(), 4, nil)
	defer s.Close()
	put(t, s, genLog(5, []string{"T"}, 0))
	bad := errors.New("commit log read failed")
	_, err := s.SearchOffset("T", 0, 1, func(int64, int32) (int64, error) { return 0, bad })
	if !errors.Is(err, bad) {
		t.Fatalf("lookup error: %v", err)
	}
	if _, err := s.SearchOffset("T", 9, 1, nil); !errors.Is(err, ErrNoQueue) {
		t.Fatalf("no queue: %v", err)
	}
	// A queue whose units retention removed: min == max, searched to max.
	if err := s.DeleteBefore(1 << 40); err != nil {
		t.Fatal(err)
	}
	got, err := s.SearchOffset("T", 0, 1, func(int64, int32) (int64, error) { return 0, bad })
	if err != nil || got != 5 {
		t.Fatalf("empty queue: %d, %v", got, err)
	}
}
