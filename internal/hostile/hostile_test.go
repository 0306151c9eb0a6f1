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
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/hostile"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
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

// selected returns port's cases named in sel, as "port/name".
func selected(port string, sel []string) []string {
	var out []string
	for _, n := range hostile.Names() {
		p, name, _ := strings.Cut(n, "/")
		if p == port && (slices.Contains(sel, name) || slices.Contains(sel, n)) {
			out = append(out, n)
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

// built is the rmqlog binary both tests run, built once (binDir) by the
// first that needs it.
var (
	buildOnce sync.Once
	binDir    string
	built     string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func buildNode(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "hostile-bin"); buildErr != nil {
			return
		}
		built = filepath.Join(binDir, "rmqlog")
		out, err := exec.Command("go", "build", "-o", built, "../../cmd/rmqlog").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building rmqlog: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
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
			// remoting port's campaign is TestHostileRemoting's.)
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

// TestHostileRemoting starts `rmqlog namesrv` and a one-member broker group
// registered with it, creates a topic, and runs the remoting port's cases
// against the node's listenPort and the namesrv cases against the name
// server, with a RocketMQ bystander (send, pull, route query).
func TestHostileRemoting(t *testing.T) {
	limit := 10 * time.Minute
	if !*long {
		limit = 40 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	bin := buildNode(t)
	ports, err := bench.FreePorts(4) // name server, client, remoting, peer
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if d := os.Getenv("HOSTILE_DIR"); d != "" {
		dir = d
	}
	ns := fmt.Sprintf("127.0.0.1:%d", ports[0])
	nsp, err := bench.StartProcess(filepath.Join(dir, "namesrv.log"), bin, "namesrv", "--listen", ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nsp.Stop(10 * time.Second) })
	g := &group{ids: []string{"b0"}, clients: map[string]string{"b0": fmt.Sprintf("127.0.0.1:%d", ports[1])},
		peers: map[string]string{}, procs: map[string]*bench.Process{}}
	brokerAddr := fmt.Sprintf("127.0.0.1:%d", ports[2])
	props := map[string]string{
		"brokerName": "HostileBroker", "brokerClusterName": "HostileCluster", "brokerIP1": "127.0.0.1",
		"dLegerGroup": "HostileBroker", "enableDLegerCommitLog": "true", "dLegerPeers": "b0-127.0.0.1:" + fmt.Sprint(ports[3]),
		"dLegerSelfId": "b0", "rmqlogClientPort": fmt.Sprint(ports[1]), "listenPort": fmt.Sprint(ports[2]), "namesrvAddr": ns,
		"storePathRootDir": filepath.Join(dir, "b0"), "storePathCommitLog": filepath.Join(dir, "b0", "commitlog"),
		"flushDiskType": "ASYNC_FLUSH", "mappedFileSizeCommitLog": fmt.Sprint(8 << 20),
	}
	conf := filepath.Join(dir, "b0.conf")
	if err := os.WriteFile(conf, []byte(propsText(props)), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := bench.StartProcess(filepath.Join(dir, "b0.log"), bin, "serve", "-c", conf)
	if err != nil {
		t.Fatal(err)
	}
	g.procs["b0"] = p
	t.Cleanup(func() { p.Stop(10 * time.Second) })
	const topic = "HostileTopic"
	if err := createTopic(ctx, brokerAddr, ns, topic); err != nil {
		g.dumpLogs(t)
		t.Fatal(err)
	}
	var out strings.Builder
	for _, run := range []struct {
		port string
		proc *bench.Process
	}{{"remoting", p}, {"namesrv", nsp}} {
		cases := []string{run.port}
		if *only != "" {
			if cases = selected(run.port, strings.Split(*only, ",")); len(cases) == 0 {
				continue
			}
		}
		tg := hostile.Target{ClientAddr: g.clients["b0"], Pid: run.proc.Pid(), LogPath: run.proc.LogPath(),
			GroupAddrs: []string{g.clients["b0"]}, RemotingAddr: brokerAddr, NamesrvAddr: ns, Topic: topic}
		rep, err := hostile.Run(ctx, tg, hostile.Options{Long: *long, Cases: cases, Logf: t.Logf})
		out.WriteString(hostile.Format(rep) + "\n")
		if err != nil {
			t.Errorf("%s port: %v", run.port, err)
		}
		if len(rep.Rows) == 0 {
			t.Errorf("%s port: no case ran", run.port)
		}
	}
	t.Log("\n" + out.String())
	if *report != "" {
		f, err := os.OpenFile(*report, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
		if err == nil {
			_, err = f.WriteString(out.String())
			f.Close()
		}
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		g.dumpLogs(t)
		b, _ := os.ReadFile(nsp.LogPath())
		t.Logf("the name server's log:\n%s", b)
	}
}

// createTopic creates topic (2 queues) on the broker at addr once it is
// master, and waits for the name server at ns to route it.
func createTopic(ctx context.Context, addr, ns, topic string) error {
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	invoke := func(addr string, code remoting.RequestCode, ext map[string]string) error {
		c, err := rpc.Dial(wctx, addr)
		if err != nil {
			return err
		}
		defer c.Close()
		r, err := c.Invoke(wctx, remoting.NewRequest(code, ext, nil))
		if err == nil && r.Code != int32(remoting.Success) {
			err = fmt.Errorf("%v: %s", remoting.ResponseCode(r.Code), r.Remark)
		}
		return err
	}
	var last error
	tc := map[string]string{"topic": topic, "readQueueNums": "2", "writeQueueNums": "2", "perm": "6"}
	if err := poll.Until(wctx, func() bool { last = invoke(addr, remoting.UpdateAndCreateTopic, tc); return last == nil }); err != nil {
		return fmt.Errorf("creating topic %s on %s: %v (%v)", topic, addr, err, last)
	}
	if err := poll.Until(wctx, func() bool {
		last = invoke(ns, remoting.GetRouteInfoByTopic, map[string]string{"topic": topic})
		return last == nil
	}); err != nil {
		return fmt.Errorf("route of %s on %s: %v (%v)", topic, ns, err, last)
	}
	return nil
}
