package consumequeue

import (
	"fmt"
	"testing"

	"github.com/rmqlog/rmqlog/segment"
)

// BenchmarkPut: one unit per op into one queue, on the real file system
// (WriteAt per unit, no Sync).
func BenchmarkPut(b *testing.B) {
	s, _, err := Open(b.TempDir(), Options{UnitsPerFile: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.TruncateFrom(0); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(UnitSize)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Put("T", 0, int64(i), 1000+100*int64(i), 90, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead: a pull's read of n units into a reused slice.
func BenchmarkRead(b *testing.B) {
	s, _ := openStore(b, segment.NewMemFS(), 1024, nil)
	defer s.Close()
	const units = 8192
	for i := range units {
		if err := s.Put("T", 0, int64(i), 1000+100*int64(i), 90, 0); err != nil {
			b.Fatal(err)
		}
	}
	q, _ := s.Queue("T", 0)
	for _, n := range []int{1, 32, 512} {
		b.Run(fmt.Sprintf("units=%d", n), func(b *testing.B) {
			dst := make([]Unit, 0, n)
			b.SetBytes(int64(n * UnitSize))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				var err error
				if dst, err = q.Read(dst[:0], int64(i*n%(units-n)), n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "units/op")
		})
	}
}
