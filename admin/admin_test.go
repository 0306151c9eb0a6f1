package admin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/segment"
	"github.com/rmqlog/rmqlog/server"
)

// writeLog creates a stopped node's log in dir/commitlog holding payloads
// as entries 1.. (term 1).
func writeLog(t *testing.T, dir string, payloads ...string) {
	t.Helper()
	l, err := segment.Open(filepath.Join(dir, "commitlog"), segment.Options{SegmentSize: 64 << 10, IndexEntries: 1024})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range payloads {
		if _, err := l.Append(1, segment.TypeNormal, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDirs(t *testing.T) {
	base := t.TempDir()
	dir := func(name string, payloads ...string) string {
		d := filepath.Join(base, name)
		writeLog(t, d, payloads...)
		return d
	}
	a := dir("a", "m1", "m2", "m3", "m4")
	b := dir("b", "m1", "m2", "m3", "m4", "m5") // longer: the extra entry is not compared
	c := dir("c", "m1", "m2", "mX", "m4")
	tests := []struct {
		dirs      []string
		identical bool
		at        uint64
		compared  uint64
	}{
		{[]string{a, b}, true, 0, 4},
		{[]string{a, b, c}, false, 3, 2},
		{[]string{c, a}, false, 3, 2},
	}
	for _, tt := range tests {
		r, err := VerifyDirs(tt.dirs)
		if err != nil {
			t.Fatal(err)
		}
		if r.Identical() != tt.identical || r.Compared != tt.compared || (r.Diff != nil && r.Diff.Index != tt.at) {
			t.Errorf("VerifyDirs(%v):\n%s\nwant identical=%v, difference at %d, %d compared", tt.dirs, r, tt.identical, tt.at, tt.compared)
		}
	}
	if _, err := VerifyDirs([]string{a, filepath.Join(base, "missing")}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a directory without a log: %v", err)
	}
}

func TestDump(t *testing.T) {
	d := t.TempDir()
	writeLog(t, d, "hello", "\x00\xff", strings.Repeat("z", 100))
	var out bytes.Buffer
	end, err := Dump(&out, d, DumpOptions{To: 2})
	if err != nil || end.Entries != 2 {
		t.Fatalf("Dump: %+v %v", end, err)
	}
	for _, want := range []string{`1 1 msg 5 `, `"hello"`, `2 1 msg 2 `, `"\x00\xff"`, "# 2 entries [1, 2]", "segment size 65536",
		"# stopped: --to 2 reached"} { // issue 13: it ended with "# stopped: " and no reason
		if !strings.Contains(out.String(), want) {
			t.Errorf("dump lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if _, err := Dump(&out, filepath.Join(d, "commitlog"), DumpOptions{From: 3, Payload: "hex", Max: 4}); err != nil ||
		!strings.Contains(out.String(), "3 1 msg 100 ") || !strings.Contains(out.String(), "7a7a7a7a...") || strings.Contains(out.String(), "hello") {
		t.Errorf("dump --from 3 --payload hex:\n%s%v", out.String(), err)
	}
	if _, err := Dump(io.Discard, d, DumpOptions{Payload: "base64"}); err == nil || !strings.Contains(err.Error(), "none, text or hex") {
		t.Errorf("bad payload option: %v", err)
	}
}

// single starts a one-node group serving its client port on 127.0.0.1.
func single(t *testing.T) *server.Server {
	t.Helper()
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.Start(server.Config{ClientListener: cl, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Engine: engine.Config{Group: "g", ID: "n0", Peers: map[string]string{"n0": pl.Addr().String()}, Listener: pl,
			Dir: t.TempDir(), SegmentSize: 1 << 20, MaxEntrySize: 64 << 10, IndexEntries: 1024, TickInterval: 5 * time.Millisecond,
			HeartbeatInterval: 20 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendAll(t *testing.T, s *server.Server, payloads ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, []string{s.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// In batches of up to 256 consecutive entries: one append (and fsync)
	// each made TestVerifyOnline's 3,000 take 9.5 s of its 10 under -race.
	for len(payloads) > 0 {
		n := min(len(payloads), 256)
		batch := make([][]byte, n)
		for i, p := range payloads[:n] {
			batch[i] = []byte(p)
		}
		if _, err := c.AppendBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		payloads = payloads[n:]
	}
}

// TestVerifyOnline: two independent one-node groups with the same first
// entries and then different ones: Verify names the first difference.
func TestVerifyOnline(t *testing.T) {
	a, b := single(t), single(t)
	var many []string
	for i := range 3000 { // several range requests
		many = append(many, fmt.Sprintf("m%d", i))
	}
	appendAll(t, a, append(many, "x")...)
	appendAll(t, b, append(many, "y")...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addrs := []string{a.Addr().String(), b.Addr().String()}
	r, err := Verify(ctx, addrs[:1])
	if err != nil || !r.Identical() || r.Compared != 3002 {
		t.Fatalf("Verify of one node: %v\n%s", err, r)
	}
	r, err = Verify(ctx, addrs)
	if err != nil || r.Identical() || r.Diff.Index != 3002 || r.Compared != 3001 || !strings.Contains(r.String(), `"x"`) {
		t.Fatalf("Verify of two different logs: %v\n%s\nwant a difference at index 3002 (after the no-op and 3000 equal entries)", err, r)
	}
	// A pinned dial retries a refused connection until its context ends
	// (the node may be starting): give it one second.
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	defer cancelShort()
	if _, err := Verify(short, append(addrs, "127.0.0.1:1")); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("Verify with an unreachable node: %v", err)
	}
}

func TestStatus(t *testing.T) {
	s := single(t)
	appendAll(t, s, "m")
	nodes := Status(context.Background(), []string{s.Addr().String(), "127.0.0.1:1"}, 500*time.Millisecond)
	if nodes[0].Err != "" || nodes[0].Role != "leader" || nodes[0].CommitIndex != 2 || nodes[0].Lag == nil || *nodes[0].Lag != 0 {
		t.Fatalf("status of the running node: %+v", nodes[0])
	}
	if nodes[1].Err == "" {
		t.Fatalf("status of a closed port: %+v", nodes[1])
	}
	var out bytes.Buffer
	WriteStatusTable(&out, nodes)
	for _, want := range []string{"ADDR", "leader", "unreachable", "127.0.0.1:1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
