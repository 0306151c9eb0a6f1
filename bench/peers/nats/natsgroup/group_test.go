package natsgroup_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/bench/peers/nats/natsgroup"
	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/load"
)

// testPayload is the payload size of the end-to-end test's appends.
const testPayload = 100

// buildServer builds the pinned nats-server into a temporary directory,
// skipping the test only if the module proxy cannot be reached.
func buildServer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := natsgroup.BuildServer(ctx, t.TempDir())
	if errors.Is(err, natsgroup.ErrModuleDownload) {
		t.Skipf("nats-server cannot be built without the module proxy: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestFailover starts a SYNC_FLUSH group, appends, checks, kills the
// stream leader, appends through the failover, restarts the old leader,
// waits for it to catch up and checks again.
func TestFailover(t *testing.T) {
	bin := buildServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sys := natsgroup.New(bin)
	g, err := sys.Start(ctx, natsgroup.SyncFlush, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	if got := sys.Name(); got != "nats" {
		t.Errorf("Name() = %q, want nats", got)
	}
	acks := appendMix(ctx, t, g.Target(), 0, 200)
	check(ctx, t, g, acks, 200)

	old, err := g.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if on := g.Target().(*natsgroup.Target).Server(); on != old {
		t.Errorf("the load's connection is on %s, want the stream leader %s", on, old)
	}
	killed := time.Now()
	if err := g.Kill(old); err != nil {
		t.Fatal(err)
	}
	first := appendMix(ctx, t, g.Target(), 200, 1)
	t.Logf("killed leader %s; first append acknowledged %v later", old, time.Since(killed).Round(time.Millisecond))
	acks = append(acks, first...)
	acks = append(acks, appendMix(ctx, t, g.Target(), 201, 99)...)
	leader, err := g.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if leader == old {
		t.Fatalf("leader after killing %s is %s", old, leader)
	}

	if err := g.Restart(ctx, old); err != nil {
		t.Fatal(err)
	}
	last, err := g.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last < 300 {
		t.Fatalf("LastSeq = %d after 300 acknowledged appends", last)
	}
	if err := g.WaitCaughtUp(ctx, old, last); err != nil {
		t.Fatal(err)
	}
	check(ctx, t, g, acks, 300)
	if cpu := g.CPU(); len(cpu) != 3 {
		t.Errorf("CPU() = %v, want 3 nodes", cpu)
	}
}

// appendMix appends count payloads with ids from first on: in rounds of
// ten synchronous appends followed by ten asynchronous ones.
func appendMix(ctx context.Context, t *testing.T, tgt load.Target, first uint64, count int) []load.Ack {
	t.Helper()
	var acks []load.Ack
	type inFlight struct {
		id uint64
		p  load.Pending
	}
	var async []inFlight
	for i := range uint64(count) {
		id := first + i
		payload := make([]byte, testPayload)
		load.FillPayload(payload, id)
		if i%20 < 10 {
			seq, err := tgt.Append(ctx, payload)
			if err != nil {
				t.Fatalf("Append id %d: %v (%s)", id, err, tgt.Kind(err))
			}
			acks = append(acks, load.Ack{Seq: seq, ID: id})
			continue
		}
		async = append(async, inFlight{id, tgt.AppendAsync(payload)})
		if i%20 == 19 || int(i) == count-1 {
			for _, a := range async {
				seq, err := a.p.Wait(ctx)
				if err != nil {
					t.Fatalf("AppendAsync id %d: %v (%s)", a.id, err, tgt.Kind(err))
				}
				acks = append(acks, load.Ack{Seq: seq, ID: a.id})
			}
			async = async[:0]
		}
	}
	return acks
}

// check runs Check and wants nothing lost or duplicated among want acks.
func check(ctx context.Context, t *testing.T, g bench.Group, acks []load.Ack, want int) {
	t.Helper()
	if len(acks) != want {
		t.Fatalf("%d acknowledgements, want %d", len(acks), want)
	}
	rep, err := g.Check(ctx, acks, testPayload)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Check:\n%s", rep.Detail)
	if len(rep.Lost) != 0 || rep.Duplicates != 0 {
		t.Fatalf("Check: lost %v, duplicate ids %d\n%s", rep.Lost, rep.Duplicates, rep.Detail)
	}
}
