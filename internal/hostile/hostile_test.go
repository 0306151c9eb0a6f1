package hostile_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/hostile"
	"github.com/rmqlog/rmqlog/internal/poll"
)

var (
	long   = flag.Bool("hostile.long", false, "run the long form of every case (minutes; for make chaos)")
	report = flag.String("hostile.report", "", "also write the Markdown report to this file")
	only   = flag.String("hostile.cases", "", "run only these cases (comma-separated names)")
)

// TestHostile starts a group of three real rmqlog processes and runs every
// case: the client port's against the leader (where appends and the
// bystander's connection are), the peer port's against a follower (where
// a forged Append reaches the log).
func TestHostile(t *testing.T) {
	limit := 10 * time.Minute
	if !*long {
		limit = 55 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	g := startGroup(t, buildNode(t))
	lead, follower := g.roles(t, ctx)
	var out strings.Builder
	for _, run := range []struct{ node, port string }{{lead, "client"}, {follower, "peer"}} {
		cases := []string{run.port}
		if *only != "" {
			cases = selected(run.port, strings.Split(*only, ","))
			if len(cases) == 0 {
				continue
			}
		}
		rep, err := hostile.Run(ctx, g.target(run.node), hostile.Options{Long: *long, Cases: cases, Logf: t.Logf})
		out.WriteString(hostile.Format(rep) + "\n")
		if err != nil {
			t.Errorf("node %s, %s port: %v", run.node, run.port, err)
		}
		if len(rep.Rows) == 0 {
			t.Errorf("node %s, %s port: no case ran", run.node, run.port)
		}
	}
	t.Log("\n" + out.String())
	if *report != "" {
		if err := os.WriteFile(*report, []byte(out.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		g.dumpLogs(t)
	}
}

// selected returns the names in sel of port's cases.
func selected(port string, sel []string) []string {
	var out []string
	for _, n := range hostile.Names() {
		p, name, _ := strings.Cut(n, "/")
		if p == port && slices.Contains(sel, name) {
			out = append(out, name)
		}
	}
	return out
}

// TestFormat: the Markdown has a row per case, with the failures, and a
// cell's "|" cannot break the table.
func TestFormat(t *testing.T) {
	rep := hostile.Report{Node: "n1 (follower)", Baseline: 80 << 20, RSSBound: 64 << 20, Rows: []hostile.Row{
		{Case: "a", Port: "client", Conns: 3, BytesSent: 2048, Answer: "close ×3", RSSPeak: 81 << 20},
		{Case: "b", Port: "peer", Answer: "x|y", Failures: []string{"the node exited"}, LogCount: 1,
			LogSample: []string{`time=2026-01-01T00:00:00Z level=WARN msg="m" reason="r|s"`}},
	}}
	out := hostile.Format(rep)
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "| a |") || strings.HasPrefix(l, "| b |") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 2 {
		t.Fatalf("want 2 case rows:\n%s", out)
	}
	header := strings.Count(strings.Split(out, "\n")[4], " | ")
	for _, r := range rows {
		if n := strings.Count(strings.ReplaceAll(r, `\|`, ""), " | "); n != header {
			t.Errorf("row has %d cells, the header %d: %s", n+1, header+1, r)
		}
	}
	if !strings.Contains(rows[0], "| 2.0 KiB |") || !strings.Contains(rows[0], "| ok |") {
		t.Errorf("row a: %s", rows[0])
	}
	if !strings.Contains(rows[1], "**FAILED**: the node exited") || !strings.Contains(rows[1], `x\|y`) || strings.Contains(rows[1], "time=") {
		t.Errorf("row b: %s", rows[1])
	}
}

func buildNode(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rmqlog")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/rmqlog").CombinedOutput()
	if err != nil {
		t.Fatalf("building rmqlog: %v\n%s", err, out)
	}
	return bin
}

// group is three rmqlog processes on 127.0.0.1.
type group struct {
	ids     []string
	clients map[string]string // id -> client address
	peers   map[string]string // id -> peer address
	procs   map[string]*bench.Process
}

func startGroup(t *testing.T, bin string) *group {
	t.Helper()
	ports, err := bench.FreePorts(9)
	if err != nil {
		t.Fatal(err)
	}
	g := &group{ids: []string{"n0", "n1", "n2"}, clients: map[string]string{}, peers: map[string]string{}, procs: map[string]*bench.Process{}}
	var peers []string
	for i, id := range g.ids {
		g.clients[id] = fmt.Sprintf("127.0.0.1:%d", ports[i])
		g.peers[id] = fmt.Sprintf("127.0.0.1:%d", ports[3+i])
		peers = append(peers, id+"-"+g.peers[id])
	}
	dir := t.TempDir()
	if d := os.Getenv("HOSTILE_DIR"); d != "" {
		dir = d // keeps the nodes' data and logs
	}
	for i, id := range g.ids {
		props := map[string]string{
			"brokerName": "Hostile", "dLegerGroup": "Hostile", "enableDLegerCommitLog": "true",
			"dLegerPeers": strings.Join(peers, ";"), "dLegerSelfId": id,
			"rmqlogClientPort": fmt.Sprint(ports[i]), "listenPort": fmt.Sprint(ports[6+i]),
			// The RocketMQ broker is off: the campaign appends raw entries,
			// which the broker would inspect and log one by one. (The
			// remoting port's own campaign is issue 16's item 7.)
			"rmqlogBrokerEnable": "false",
			"storePathRootDir":   filepath.Join(dir, id), "storePathCommitLog": filepath.Join(dir, id, "commitlog"),
			"flushDiskType": "ASYNC_FLUSH", "mappedFileSizeCommitLog": fmt.Sprint(8 << 20),
		}
		conf := filepath.Join(dir, id+".conf")
		if err := os.WriteFile(conf, []byte(propsText(props)), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := bench.StartProcess(filepath.Join(dir, id+".log"), bin, "serve", "-c", conf)
		if err != nil {
			t.Fatal(err)
		}
		g.procs[id] = p
	}
	t.Cleanup(func() {
		for _, id := range g.ids {
			if err := g.procs[id].Stop(10 * time.Second); err != nil {
				t.Errorf("node %s: %v", id, err)
			}
		}
	})
	return g
}

func propsText(props map[string]string) string {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	return b.String()
}

// roles waits for a writable leader and returns it and a follower.
func (g *group) roles(t *testing.T, ctx context.Context) (lead, follower string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := poll.Until(wctx, func() bool {
		for _, id := range g.ids {
			if m, err := bench.Meta(ctx, g.clients[id]); err == nil && m.Writable {
				lead = id
			}
		}
		return lead != ""
	})
	if err != nil && ctx.Err() != nil {
		t.Fatal(ctx.Err())
	}
	if err != nil {
		g.dumpLogs(t)
		t.Fatal("no writable leader within 15 s")
	}
	for _, id := range g.ids {
		if id != lead {
			return lead, id
		}
	}
	panic("unreachable")
}

func (g *group) target(id string) hostile.Target {
	var addrs []string
	for _, other := range g.ids {
		addrs = append(addrs, g.clients[other])
	}
	p := g.procs[id]
	return hostile.Target{ClientAddr: g.clients[id], PeerAddr: g.peers[id], Pid: p.Pid(), LogPath: p.LogPath(), GroupAddrs: addrs}
}

// dumpLogs logs the end of every node's log.
func (g *group) dumpLogs(t *testing.T) {
	for _, id := range g.ids {
		b, _ := os.ReadFile(g.procs[id].LogPath())
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		t.Logf("the last lines of node %s's log:\n%s", id, strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}
