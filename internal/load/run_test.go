package load

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fake is a Target that answers from memory: each append gets the next
// sequence; fail decides which fail; an async append's answer waits until
// gate is open.
type fake struct {
	seq      atomic.Uint64
	fail     func(seq uint64) error
	mu       sync.Mutex // guards the fields below
	gate     chan struct{}
	payloads map[uint64][]byte
	out, max int // appends in flight, and the most ever
}

func newFake() *fake {
	g := make(chan struct{})
	close(g)
	return &fake{gate: g, payloads: map[uint64][]byte{}}
}

func (f *fake) take(payload []byte) (uint64, error) {
	seq := f.seq.Add(1)
	if f.fail != nil {
		if err := f.fail(seq); err != nil {
			return 0, err
		}
	}
	f.mu.Lock()
	f.payloads[seq] = bytes.Clone(payload)
	f.mu.Unlock()
	return seq, nil
}

func (f *fake) Append(ctx context.Context, payload []byte) (uint64, error) { return f.take(payload) }

func (f *fake) AppendAsync(payload []byte) Pending {
	f.mu.Lock()
	f.out++
	f.max = max(f.max, f.out)
	gate := f.gate
	f.mu.Unlock()
	seq, err := f.take(payload)
	return pending(func(ctx context.Context) (uint64, error) {
		<-gate
		f.mu.Lock()
		f.out--
		f.mu.Unlock()
		return seq, err
	})
}

func (f *fake) Kind(err error) string { return err.Error() }

type pending func(context.Context) (uint64, error)

func (p pending) Wait(ctx context.Context) (uint64, error) { return p(ctx) }

func TestRunCounts(t *testing.T) {
	boom := errors.New("boom")
	for _, form := range []Form{Closed, Pipelined, Open} {
		t.Run(string(form), func(t *testing.T) {
			f := newFake()
			f.fail = func(seq uint64) error {
				if seq%10 == 0 {
					return boom
				}
				return nil
			}
			s := Spec{Payload: 100, Form: form, Producers: 8, Count: 1000, RecordAcks: true}
			if form == Open {
				s.Rate = 20000
			}
			r, err := Run(context.Background(), f, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Sent != 1000 || r.Acked != 900 || r.Errors["boom"] != 100 || len(r.Acks) != 900 {
				t.Fatalf("sent %d acked %d errors %v acks %d; want 1000, 900, boom:100, 900", r.Sent, r.Acked, r.Errors, len(r.Acks))
			}
			// Every ack names the sequence whose payload carries its id,
			// and ids are distinct.
			ids := map[uint64]bool{}
			want := make([]byte, 100)
			for _, a := range r.Acks {
				FillPayload(want, a.ID)
				if !bytes.Equal(f.payloads[a.Seq], want) || ids[a.ID] {
					t.Fatalf("ack %+v: payload %x..., duplicate id %v", a, f.payloads[a.Seq][:8], ids[a.ID])
				}
				ids[a.ID] = true
			}
			var acked int64
			for _, s := range r.Seconds {
				acked += s.Acked
			}
			var ticks int64
			for _, n := range r.Ticks {
				ticks += int64(n)
			}
			if acked != r.Acked || ticks != r.Acked {
				t.Fatalf("seconds hold %d acks, ticks %d; want %d", acked, ticks, r.Acked)
			}
		})
	}
}

// A pipelined load keeps at most Producers appends in flight, and the
// ring never hands a buffer still in flight to a new append (the fake
// copies payloads at send, so a reuse shows as a wrong payload at Wait;
// here we check the bound, which is what guarantees it).
func TestPipelinedBound(t *testing.T) {
	f := newFake()
	r, err := Run(context.Background(), f, Spec{Payload: 16, Form: Pipelined, Producers: 5, Count: 2000}, nil)
	if err != nil || r.Acked != 2000 {
		t.Fatalf("acked %d, %v", r.Acked, err)
	}
	if f.max > 5 || f.max < 1 {
		t.Fatalf("at most %d in flight, want 1..5", f.max)
	}
}

// An open loop measures from each append's intended send time: a stall of
// the target shows in the latencies of every append that was due during
// it, though the in-flight cap held the sender back (coordinated omission
// would record only the few in flight as slow).
func TestOpenLoopCountsStalls(t *testing.T) {
	f := newFake()
	f.gate = make(chan struct{})
	stall := 300 * time.Millisecond
	time.AfterFunc(stall, func() { close(f.gate) })
	// 1000/s for 600 ms; 10 in flight at most.
	r, err := Run(context.Background(), f, Spec{Payload: 16, Form: Open, Rate: 1000, Producers: 10, Count: 600}, nil)
	if err != nil || r.Acked != 600 {
		t.Fatalf("acked %d, %v", r.Acked, err)
	}
	// Appends due at 0..300 ms waited until 300 ms: about 300 of them,
	// half of which waited over 150 ms. Allow wide margins for a loaded
	// machine; a closed or pipelined measurement would show about 10.
	slow := r.Hist.TotalCount() - countBelow(r, 100*time.Millisecond)
	if slow < 150 {
		t.Fatalf("%d appends measured over 100 ms; want about 200 (the stall hides)", slow)
	}
	if r.Latency.Max < (250 * time.Millisecond).Microseconds() {
		t.Fatalf("max %d us, want about the 300 ms stall", r.Latency.Max)
	}
	if r.Elapsed < 550*time.Millisecond {
		t.Fatalf("600 appends at 1000/s took %v", r.Elapsed)
	}
}

// A stall that lasts past the end of a timed open loop still counts: the
// appends due before the end are sent late and measured from their due
// time, not dropped.
func TestOpenLoopStallAtTheEnd(t *testing.T) {
	f := newFake()
	f.gate = make(chan struct{})
	time.AfterFunc(500*time.Millisecond, func() {
		f.mu.Lock()
		f.gate = make(chan struct{}) // appends sent from now on wait too
		g := f.gate
		f.mu.Unlock()
		time.AfterFunc(time.Second, func() { close(g) })
	})
	first := f.gate
	close(first) // the first half second answers at once
	r, err := Run(context.Background(), f, Spec{Payload: 16, Form: Open, Rate: 1000, Producers: 10, Duration: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent < 990 || r.Acked != r.Sent {
		t.Fatalf("sent %d, acked %d; want the ~1000 due in the second", r.Sent, r.Acked)
	}
	if slow := r.Hist.TotalCount() - countBelow(r, 100*time.Millisecond); slow < 300 {
		t.Fatalf("%d appends measured over 100 ms; want about 500 (the stall at the end)", slow)
	}
}

func countBelow(r *Result, d time.Duration) int64 {
	var n int64
	for _, b := range r.Hist.Distribution() {
		if b.To <= d.Microseconds() {
			n += b.Count
		}
	}
	return n
}

func TestRunDurationAndLive(t *testing.T) {
	f := newFake()
	var live bytes.Buffer
	r, err := Run(context.Background(), f, Spec{Payload: 1024, Form: Closed, Producers: 2, Duration: 2300 * time.Millisecond}, &live)
	if err != nil {
		t.Fatal(err)
	}
	if r.Elapsed < 2300*time.Millisecond || r.Elapsed > 10*time.Second {
		t.Fatalf("elapsed %v for a 2.3 s run", r.Elapsed)
	}
	lines := strings.Split(strings.TrimSpace(live.String()), "\n")
	if len(r.Seconds) != 3 || len(lines) != 3 || !strings.Contains(lines[0], "msg/s") {
		t.Fatalf("%d seconds, live:\n%s", len(r.Seconds), live.String())
	}
	if r.Acked == 0 || r.MsgsPerSec <= 0 || r.MBPerSec != r.MsgsPerSec*1024/1e6 {
		t.Fatalf("acked %d, %.0f msg/s, %.1f MB/s", r.Acked, r.MsgsPerSec, r.MBPerSec)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	f := newFake()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r, err := Run(ctx, f, Spec{Payload: 8, Form: Pipelined, Producers: 4, Duration: time.Hour}, nil)
	if err != nil || r.Elapsed > 5*time.Second || r.Acked != r.Sent {
		t.Fatalf("elapsed %v, acked %d of %d, %v", r.Elapsed, r.Acked, r.Sent, err)
	}
}

func TestSpecCheck(t *testing.T) {
	ok := Spec{Payload: 1, Form: Closed, Producers: 1, Count: 1}
	for _, c := range []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"ok", func(*Spec) {}, ""},
		{"payload", func(s *Spec) { s.Payload = -1 }, "payload"},
		{"producers", func(s *Spec) { s.Producers = 0 }, "producers"},
		{"form", func(s *Spec) { s.Form = "x" }, "form"},
		{"open without rate", func(s *Spec) { s.Form = Open }, "rate"},
		{"rate without open", func(s *Spec) { s.Rate = 5 }, "open"},
		{"no end", func(s *Spec) { s.Count = 0 }, "duration or a count"},
	} {
		s := ok
		c.edit(&s)
		err := s.Check()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestPayloadID(t *testing.T) {
	for _, n := range []int{0, 4, 8, 1024} {
		b := make([]byte, n)
		FillPayload(b, 0x0102030405060708)
		id, ok := PayloadID(b)
		if ok != (n >= 8) || (ok && id != 0x0102030405060708) {
			t.Errorf("%d bytes: id %x, %v", n, id, ok)
		}
	}
}

func TestFormatUs(t *testing.T) {
	for us, want := range map[int64]string{850: "850us", 1160: "1.16ms", 12345: "12.3ms", 2_050_000: "2.05s"} {
		if got := FormatUs(us); got != want {
			t.Errorf("FormatUs(%d) = %q, want %q", us, got, want)
		}
	}
}

func TestFillPayloadPattern(t *testing.T) {
	for _, n := range []int{0, 5, 8, 9, 26, 1024, 100_000, 200_000} {
		b := make([]byte, n)
		FillPayload(b, 7)
		for i := IDBytes; i < n; i++ {
			if b[i] != byte('a'+i%26) {
				t.Fatalf("%d bytes: byte %d = %q", n, i, b[i])
			}
		}
		SetID(b, 9)
		if id, ok := PayloadID(b); ok && id != 9 {
			t.Fatalf("%d bytes: id %d after SetID(9)", n, id)
		}
	}
}
