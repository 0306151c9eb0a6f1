package consumequeue

import (
	"errors"
	"testing"

	"github.com/rmqlog/rmqlog/segment"
)

func TestDeleteBefore(t *testing.T) {
	// One queue, units i at physical offset 1000 + 100i, 4 units a file:
	// files at 0, 4, 8 (units 8, 9 in the last).
	for _, tc := range []struct {
		name      string
		bounds    []int64 // DeleteBefore in turn
		min       int64
		files     int
		reopenMin int64 // MinOffset after a reopen, before DeleteBefore runs again
	}{
		{"nothing below", []int64{1000}, 0, 3, 0},
		{"inside the first file", []int64{1150}, 2, 3, 0},
		{"first file all below", []int64{1350}, 4, 2, 4},
		{"exactly at a file's first unit", []int64{1400}, 4, 2, 4},
		{"two files", []int64{1850}, 9, 1, 8},
		{"everything: the last file stays, min is max", []int64{5000}, 10, 1, 8},
		{"in steps", []int64{1100, 1300, 1500, 1700}, 7, 2, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := segment.NewMemFS()
			log := genLog(10, []string{"T"}, 0)
			s, _ := openStore(t, fs, 4, nil)
			put(t, s, log)
			for _, b := range tc.bounds {
				if err := s.DeleteBefore(b); err != nil {
					t.Fatal(err)
				}
			}
			if got := s.MinOffset("T", 0); got != tc.min {
				t.Fatalf("MinOffset %d, want %d", got, tc.min)
			}
			if got := s.MaxOffset("T", 0); got != 10 {
				t.Fatalf("MaxOffset %d, want 10", got)
			}
			q, _ := s.Queue("T", 0)
			if len(q.files) != tc.files {
				t.Fatalf("%d files, want %d", len(q.files), tc.files)
			}
			if tc.min > 0 {
				if _, err := s.Get("T", 0, tc.min-1, 1); !errors.Is(err, ErrBelowMin) {
					t.Fatalf("Get below min: %v", err)
				}
			}
			if tc.min < 10 {
				u, err := s.Get("T", 0, tc.min, 1)
				if err != nil || u[0].Phys != 1000+100*tc.min {
					t.Fatalf("Get at min: %v, %v", u, err)
				}
			}
			if err := s.Sync(10); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, _ = openStore(t, fs, 4, log)
			defer s.Close()
			if got := s.MinOffset("T", 0); got != tc.reopenMin {
				t.Fatalf("MinOffset after reopen %d, want %d", got, tc.reopenMin)
			}
			if err := s.DeleteBefore(tc.bounds[len(tc.bounds)-1]); err != nil {
				t.Fatal(err)
			}
			if got := s.MinOffset("T", 0); got != tc.min {
				t.Fatalf("MinOffset after reopen and DeleteBefore %d, want %d", got, tc.min)
			}
			put(t, s, []msg{{topic: "T", off: 10, phys: 9000, size: 1}})
		})
	}
}
