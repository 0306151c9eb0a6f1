package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/poll"
)

// TestSeedConfigStartsANode: the seed's own config, unchanged, starts a
// node with its broker, with no warning about its keys (alone it cannot
// elect a leader, but it serves the broker's remoting port on listenPort
// and rmqlog's client port on listenPort+2), and SIGTERM stops it with exit
// status 0.
func TestSeedConfigStartsANode(t *testing.T) {
	const root = "/tmp/rmqstore/node00" // the seed's storePathRootDir
	os.RemoveAll(root)
	t.Cleanup(func() { os.RemoveAll(root) })
	c := &cluster{t: t, clients: map[string]string{"n0": "127.0.0.1:30913"}, procs: map[string]*proc{}}
	c.procs["n0"] = start(t, "serve", "-c", filepath.Join("..", "..", "conf", "seed-broker-n0.conf"))
	c.waitServing("n0")
	// The node opens a new log of RocketMQ's 1 GiB files first (the first
	// file is zero-filled and synced): seconds, more on two busy cores.
	poll.Eventually(t, 60*time.Second, "the broker serving on listenPort", func() bool {
		return strings.Contains(c.procs["n0"].output(), "broker serving RocketMQ's remoting protocol")
	})
	nc, err := net.DialTimeout("tcp", "127.0.0.1:30911", 5*time.Second)
	if err != nil {
		t.Fatalf("listenPort 30911: %v", err)
	}
	nc.Close()
	out := c.procs["n0"].output()
	for _, w := range []string{"unknown to rmqlog", "namesrvAddr is not set"} {
		if strings.Contains(out, w) {
			t.Errorf("output has %q:\n%s", w, out)
		}
	}
	for _, w := range []string{"cluster=RaftCluster", "broker=RaftNode00", "namesrv=127.0.0.1:9876", "client=127.0.0.1:30913"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	c.procs["n0"].cmd.Process.Signal(syscall.SIGTERM)
	if code := c.procs["n0"].wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
	if _, err := os.Stat(filepath.Join(root, "commitlog", "checkpoint")); err != nil {
		t.Fatalf("the node did not create its log under storePathCommitLog: %v", err)
	}
}

// TestBadConfigs: start-up fails with the file, the line, the key and what
// is allowed (docs/config.md shows these messages).
func TestBadConfigs(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("..", "..", "conf", "broker-n0.conf"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"flush type", map[string]string{"flushDiskType": "SYNC"}, []string{":16: flushDiskType", "SYNC_FLUSH", "ASYNC_FLUSH"}},
		{"port", map[string]string{"listenPort": "70000"}, []string{":9: listenPort", "70000", "65535"}},
		{"client port", map[string]string{"rmqlogClientPort": "30911"}, []string{":13: rmqlogClientPort", "must differ from listenPort"}},
		{"namesrv", map[string]string{"namesrvAddr": "127.0.0.1"}, []string{":10: namesrvAddr", "host:port"}},
		{"self id", map[string]string{"dLegerSelfId": "n7"}, []string{"dLegerSelfId", "n7", "n0"}},
		{"peers", map[string]string{"dLegerPeers": "n0-127.0.0.1:40911;n1"}, []string{"dLegerPeers", "n1"}},
		{"dledger off", map[string]string{"enableDLegerCommitLog": "false"}, []string{"enableDLegerCommitLog", "true"}},
		{"size", map[string]string{"maxMessageSize": "-1"}, []string{"maxMessageSize", "-1"}},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".conf")
			if err := os.WriteFile(path, []byte(rewrite(string(good), tt.set)), 0o644); err != nil {
				t.Fatal(err)
			}
			out, code := runCmd(t, "serve", "-c", path)
			if code != 1 {
				t.Fatalf("exit status %d, want 1\n%s", code, out)
			}
			for _, w := range append(tt.want, path) {
				if !strings.Contains(out, w) {
					t.Errorf("error lacks %q:\n%s", w, out)
				}
			}
		})
	}
	out, code := runCmd(t, "serve", "-c", filepath.Join(dir, "missing.conf"))
	if code != 1 || !strings.Contains(out, "missing.conf") {
		t.Fatalf("missing file: exit %d\n%s", code, out)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"status", "--help"}, {"transfer", "--help"},
		{"dump", "--help"}, {"verify", "--help"}, {"append", "--help"}, {"get", "--help"}, {"certs", "--help"}, {"repair", "--help"}, {"version", "--help"},
		{"topic", "--help"}, {"topic", "create", "--help"},
		{"member", "--help"}, {"member", "list", "--help"}, {"member", "add", "--help"}, {"member", "promote", "--help"}, {"member", "remove", "--help"}, {"topic", "list", "--help"}, {"consumer", "--help"}, {"consumer", "progress", "--help"}} {
		out, code := runCmd(t, args...)
		if code != 0 || !strings.Contains(out, "Usage") {
			t.Errorf("rmqlog %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	if out, code := runCmd(t, "version"); code != 0 || !strings.Contains(out, "rmqlog ") || !strings.Contains(out, "peer protocol 1") {
		t.Errorf("version: exit %d\n%s", code, out)
	}
	out, code := runCmd(t, "frobnicate")
	if code != 2 || !strings.Contains(out, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d\n%s", code, out)
	}
	out, code = runCmd(t, "status")
	if code != 2 || !strings.Contains(out, "--addr is required") {
		t.Errorf("status without --addr: exit %d\n%s", code, out)
	}
	out, code = runCmd(t, "status", "--addr", "127.0.0.1:1", "--timeout", "300ms")
	if code != 1 || !strings.Contains(out, "unreachable") {
		t.Errorf("status of a node that is not running: exit %d\n%s", code, out)
	}
}

// TestSecondSignal: while a graceful shutdown waits (here for a client
// that does not read its answers), a second signal exits at once, status 1.
func TestSecondSignal(t *testing.T) {
	ports := freePorts(t, 3)
	good, err := os.ReadFile(filepath.Join("..", "..", "conf", "broker-n0.conf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "n0.conf")
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	os.WriteFile(conf, []byte(rewrite(string(good), map[string]string{
		"rmqlogClientPort": fmt.Sprint(ports[0]), "dLegerPeers": fmt.Sprintf("n0-127.0.0.1:%d", ports[1]),
		"listenPort": fmt.Sprint(ports[2]), "namesrvAddr": "",
		"storePathRootDir": dir, "storePathCommitLog": filepath.Join(dir, "commitlog"),
		"mappedFileSizeCommitLog": fmt.Sprint(8 << 20)})), 0o644)
	c := &cluster{t: t, ids: []string{"n0"}, clients: map[string]string{"n0": addr}, procs: map[string]*proc{}}
	c.procs["n0"] = start(t, "serve", "-c", conf)
	c.waitServing("n0")
	c.leader()
	if n := strings.Count(c.procs["n0"].output(), "namesrvAddr is not set"); n != 1 {
		t.Errorf("%d warnings about the empty namesrvAddr, want 1:\n%s", n, c.procs["n0"].output())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, []string{addr})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for range 60 {
		if _, err := cl.Append(ctx, make([]byte, 60<<10)); err != nil {
			t.Fatal(err)
		}
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for id := range uint64(200) { // 200 answers of 3.6 MiB
		nc.Write(proto.Frame(nil, proto.TypeRange, 0, id+1, proto.RangeRequest(nil, 1, 0, 4<<20)))
	}
	// Read the first answer, so the node has read the requests (they came
	// before it) and is writing; then read nothing more: its writer blocks.
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if h, _, err := proto.ReadFrame(bufio.NewReader(nc), make([]byte, proto.HeaderSize), 8<<20); err != nil || h.Code != proto.CodeOK {
		t.Fatalf("first range answer: %+v %v", h, err)
	}
	p := c.procs["n0"]
	p.cmd.Process.Signal(syscall.SIGTERM)
	poll.Eventually(t, 10*time.Second, "shutdown under way", func() bool {
		return strings.Contains(p.output(), "shutting down")
	})
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 5*time.Second); code != 1 || !strings.Contains(p.output(), "second signal") {
		t.Fatalf("exit status %d after a second signal, want 1", code)
	}
}
