package replication_test

import (
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/replication"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// BenchmarkSend sends frames over loopback TCP to a Transport whose
// Handler discards them, and waits until the last one was decoded, so the
// time covers the receiver too. MB/s counts frame bytes (header included).
// In steady state Send allocates nothing.
func BenchmarkSend(b *testing.B) {
	for _, bc := range []struct {
		name           string
		entries, esize int
	}{
		{"64x1KiB", 64, 1 << 10},
		{"1x64KiB", 1, 64 << 10},
		{"heartbeat", 0, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ents := make([][]byte, bc.entries)
			for i := range ents {
				ents[i] = make([]byte, bc.esize)
			}
			m := &wire.Msg{Type: wire.TypeAppend, Term: 1, Count: uint32(bc.entries)}
			if bc.entries == 0 {
				m.Type, ents = wire.TypeHeartbeat, nil
			}
			p, received := benchPair(b)
			if err := p.Send(m, ents); err != nil { // connect outside the timing
				b.Fatal(err)
			}
			b.SetBytes(int64(wire.HeaderSize + bc.entries*bc.esize))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.Index = uint64(i)
				if err := p.Send(m, ents); err != nil {
					b.Fatal(err)
				}
			}
			waitReceived(b, received, int64(b.N)+1)
		})
	}
}

// benchPair starts a sender and a discarding receiver and returns the
// sender's link and the receiver's frame count.
func benchPair(b testing.TB) (*replication.Peer, *atomic.Int64) {
	lns := map[string]net.Listener{"n0": listen(b), "n1": listen(b)}
	peers := map[string]string{"n0": lns["n0"].Addr().String(), "n1": lns["n1"].Addr().String()}
	received := new(atomic.Int64)
	var trs []*replication.Transport
	for id, h := range map[string]replication.Handler{
		"n0": func(*wire.Msg) {},
		"n1": func(*wire.Msg) { received.Add(1) },
	} {
		tr, err := replication.New(replication.Config{Group: group, Self: id, Peers: peers, Listener: lns[id],
			Logger: slog.New(slog.DiscardHandler)}, h)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tr.Close() })
		trs = append(trs, tr)
	}
	for _, tr := range trs {
		if p := tr.Peer("n1"); p != nil {
			return p, received
		}
	}
	panic("no transport has a link to n1")
}

// waitReceived waits until the receiver has decoded n frames.
func waitReceived(b testing.TB, received *atomic.Int64, n int64) {
	tick := time.NewTicker(50 * time.Microsecond)
	defer tick.Stop()
	timeout := time.After(time.Minute)
	for received.Load() < n {
		select {
		case <-tick.C:
		case <-timeout:
			b.Fatalf("receiver decoded %d of %d frames", received.Load(), n)
		}
	}
}

func TestSendAllocatesNothing(t *testing.T) {
	p, received := benchPair(t)
	ents := make([][]byte, 64)
	for i := range ents {
		ents[i] = make([]byte, 1<<10)
	}
	m := &wire.Msg{Type: wire.TypeAppend, Term: 1, Count: 64}
	send := func() {
		if err := p.Send(m, ents); err != nil {
			t.Fatal(err)
		}
	}
	send() // connect
	// Counts the receiver's reader goroutine too: it must not allocate either.
	if n := testing.AllocsPerRun(200, send); n > 0 {
		t.Fatalf("%v allocations per Send", n)
	}
	waitReceived(t, received, 202)
}
