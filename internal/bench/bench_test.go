package bench

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/load"
)

func TestOutage(t *testing.T) {
	ticks := func(spec string) []int32 { // '.' no ack in that ms, '#' an ack
		out := make([]int32, len(spec))
		for i, c := range spec {
			if c == '#' {
				out[i] = 1
			}
		}
		return out
	}
	for _, c := range []struct {
		name   string
		ticks  string
		killAt time.Duration
		want   time.Duration
		ok     bool
	}{
		{"gap at the kill", "####.....####", 4 * time.Millisecond, 5 * time.Millisecond, true},
		{"acks landing just after the kill", "#####..#.......##", 4 * time.Millisecond, 7 * time.Millisecond, true},
		{"gap containing the kill", "##.......##", 5 * time.Millisecond, 7 * time.Millisecond, true},
		{"a longer stall before the kill is not the outage", "#.........###...##", 13 * time.Millisecond, 3 * time.Millisecond, true},
		{"no gap", "##########", 5 * time.Millisecond, 0, true},
		{"no ack after the kill", "###.......", 3 * time.Millisecond, 7 * time.Millisecond, false},
		{"kill after the load", "#####", 9 * time.Millisecond, 0, false},
	} {
		got, ok := Outage(ticks(c.ticks), c.killAt)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
	// A gap far from the kill (more than a second after it) is not the outage.
	far := make([]int32, 5000)
	for i := range far {
		far[i] = 1
	}
	for i := 3000; i < 3500; i++ {
		far[i] = 0
	}
	if got, ok := Outage(far, 100*time.Millisecond); got != 0 || !ok {
		t.Errorf("a gap 2.9 s after the kill counted: %v, %v", got, ok)
	}
}

// buildRmqlog builds the rmqlog binary of this tree into a temporary
// directory.
func buildRmqlog(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rmqlog")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/rmqlog").CombinedOutput(); err != nil {
		t.Fatalf("building rmqlog: %v\n%s", err, out)
	}
	return bin
}

// A group whose nodes cannot start fails at once, quoting a node's log,
// instead of waiting for a leader forever.
func TestStartFailsWhenEveryNodeExits(t *testing.T) {
	if testing.Short() {
		t.Skip("runs rmqlog processes")
	}
	bin := buildRmqlog(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t0 := time.Now()
	_, err := Rmqlog{Binary: bin, Set: map[string]string{"mappedFileSizeCommitLog": "abc"}}.Start(ctx, "SYNC_FLUSH", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "every node exited") || !strings.Contains(err.Error(), "mappedFileSizeCommitLog") {
		t.Fatalf("err = %v; want every node exited and the config line", err)
	}
	if d := time.Since(t0); d > 30*time.Second {
		t.Fatalf("took %v", d)
	}
}

// TestCheck runs a real group and shows that Check finds what it must:
// nothing on an honest history; an acknowledged index whose bytes are not
// the append's, and one beyond the log, as lost; an operation id written
// twice as a duplicate.
func TestCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three rmqlog processes")
	}
	bin := buildRmqlog(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	g, err := Rmqlog{Binary: bin, Set: map[string]string{"raftElectionTimeoutMs": "600", "mappedFileSizeCommitLog": "8388608"}}.Start(ctx, "SYNC_FLUSH", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.Stop(); err != nil {
			t.Error(err)
		}
	}()
	var acks []load.Ack
	buf := make([]byte, 64)
	for id := uint64(1); id <= 200; id++ {
		load.FillPayload(buf, id)
		seq, err := g.Target().Append(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, load.Ack{Seq: seq, ID: id})
	}
	load.FillPayload(buf, 7) // id 7 a second time
	if _, err := g.Target().Append(ctx, buf); err != nil {
		t.Fatal(err)
	}
	last, err := g.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Nodes() {
		if err := g.WaitCaughtUp(ctx, n, last); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := g.Check(ctx, acks, len(buf))
	if err != nil || len(rep.Lost) != 0 || rep.Duplicates != 1 || rep.Diverged != "" {
		t.Fatalf("honest history: %+v, %v; want nothing lost, 1 duplicate, no divergence", rep, err)
	}
	bad := slices.Clone(acks)
	bad[10].ID = 9999                                        // the entry holds id 11's bytes
	bad = append(bad, load.Ack{Seq: last + 1000, ID: 12345}) // never written
	rep, err = g.Check(ctx, bad, len(buf))
	if want := []uint64{bad[10].Seq, last + 1000}; err != nil || !slices.Equal(rep.Lost, want) {
		t.Fatalf("tampered acks: lost %v, %v; want %v", rep.Lost, err, want)
	}
}

// The checker reports the first entry that differs between two nodes.
func TestCheckerDivergence(t *testing.T) {
	c := &checker{ids: map[uint64]int{}, ref: map[uint64]entryMark{}}
	c.entry("n0", proto.Entry{Index: 5, Term: 2, CRC: 0xabc, Type: proto.EntryMessage}, true)
	c.entry("n1", proto.Entry{Index: 5, Term: 2, CRC: 0xabc, Type: proto.EntryMessage}, false)
	if c.diff != "" {
		t.Fatalf("equal entries reported: %s", c.diff)
	}
	// A CRC that differs only where the type would have been mixed in.
	c.entry("n2", proto.Entry{Index: 5, Term: 2, CRC: 0xabd, Type: proto.EntryMessage}, false)
	if !strings.Contains(c.diff, "index 5") || !strings.Contains(c.diff, "n2") {
		t.Fatalf("divergence not reported: %q", c.diff)
	}
}
