package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/poll"
)

// The first hour of a new user (issue 13): what goes wrong when a config is
// copied carelessly, and what rmqlog says about it.

// TestSecondProcessSameDir: a second rmqlog serve whose storePathRootDir is
// a running node's fails at once, naming the directory and the holder's pid
// (it used to start, elect itself and write its term into the first node's
// hard state); rmqlog dump of the running node's directory says it runs.
func TestSecondProcessSameDir(t *testing.T) {
	c := newCluster(t, nil)
	c.start("n0")
	pid := c.procs["n0"].cmd.Process.Pid
	ports := freePorts(t, 3)
	conf := filepath.Join(t.TempDir(), "twin.conf")
	text, err := os.ReadFile(c.confs["n0"])
	if err != nil {
		t.Fatal(err)
	}
	peers := strings.Replace(confValue(string(text), "dLegerPeers"), confPeer(string(text), "n0"), fmt.Sprintf("127.0.0.1:%d", ports[1]), 1)
	os.WriteFile(conf, []byte(rewrite(string(text), map[string]string{"rmqlogClientPort": fmt.Sprint(ports[0]), "listenPort": fmt.Sprint(ports[2]), "dLegerPeers": peers})), 0o644)
	began := time.Now()
	out, code := runCmd(t, "serve", "-c", conf)
	if code != 1 || !strings.Contains(out, "in use by another process") || !strings.Contains(out, fmt.Sprintf("pid %d", pid)) ||
		!strings.Contains(out, c.dirs["n0"]) {
		t.Fatalf("second process on the same directory: exit %d\n%s", code, out)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("the refusal took %v", took)
	}
	out, code = runCmd(t, "dump", c.dirs["n0"])
	if code != 1 || !strings.Contains(out, "running node") {
		t.Fatalf("dump of a running node's directory: exit %d\n%s", code, out)
	}
}

// confValue returns key's value in a properties text.
func confValue(text, key string) string {
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// confPeer returns id's peer address in a properties text's dLegerPeers.
func confPeer(text, id string) string {
	for _, p := range strings.Split(confValue(text, "dLegerPeers"), ";") {
		if a, ok := strings.CutPrefix(p, id+"-"); ok {
			return a
		}
	}
	return ""
}

// TestPeerPortInUse: a peer port in use fails at once, naming the config key,
// and leaves no file behind (it used to fail after 3-5 s, leaving 2.1 GiB of
// segment files).
func TestPeerPortInUse(t *testing.T) {
	c := newCluster(t, map[string]string{"mappedFileSizeCommitLog": fmt.Sprint(1 << 30)})
	text, err := os.ReadFile(c.confs["n0"])
	if err != nil {
		t.Fatal(err)
	}
	peer := confPeer(string(text), "n0")
	ln, err := net.Listen("tcp", peer)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	began := time.Now()
	out, code := runCmd(t, "serve", "-c", c.confs["n0"])
	if code != 1 || !strings.Contains(out, "peer port (the dLegerPeers entry of n0) "+peer) || !strings.Contains(out, "address already in use") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("took %v", took)
	}
	if entries, err := os.ReadDir(c.dirs["n0"]); err == nil && len(entries) > 0 {
		t.Fatalf("files left behind in %s: %v", c.dirs["n0"], entries)
	}
}

// TestWrongPort: a client pointed at a peer port is told so, with the
// node's client port, within a second (it used to wait and then report
// "malformed frame: version 119"); a port nobody listens on fails at once.
func TestWrongPort(t *testing.T) {
	c := newCluster(t, nil)
	c.start("n0")
	text, _ := os.ReadFile(c.confs["n0"])
	peer := confPeer(string(text), "n0")
	for _, args := range [][]string{{"append", "--addr", peer, "x"}, {"get", "--addr", peer, "1"}} {
		began := time.Now()
		out, code := runCmd(t, args...)
		if code != 1 || !strings.Contains(out, "peer port (dLegerPeers), not a client port (rmqlogClientPort)") ||
			!strings.Contains(out, c.clients["n0"]) {
			t.Fatalf("rmqlog %v: exit %d\n%s", args, code, out)
		}
		if took := time.Since(began); took > time.Second {
			t.Errorf("rmqlog %v took %v", args, took)
		}
	}
	out, _ := runCmd(t, "status", "--addr", peer)
	if !strings.Contains(out, "peer port") {
		t.Fatalf("status of a peer port:\n%s", out)
	}
	free := freePorts(t, 1)
	began := time.Now()
	out, code := runCmd(t, "append", "--addr", fmt.Sprintf("127.0.0.1:%d", free[0]), "x")
	if code != 1 || !strings.Contains(out, "connection refused") || !strings.Contains(out, "is the node running") {
		t.Fatalf("nothing listening: exit %d\n%s", code, out)
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("a refused connection took %v to report", took)
	}
}

// TestStartSummary: the one-line start-up summary names the flush mode and
// the segment size, and a misspelt key is answered with the nearest one
// (flushDiskTyp=ASYNC_FLUSH used to warn once among ~37 lines and run
// SYNC_FLUSH).
func TestStartSummary(t *testing.T) {
	c := newCluster(t, map[string]string{"flushDiskTyp": "ASYNC_FLUSH"})
	c.start("n0")
	poll.Eventually(t, 15*time.Second, "the start-up summary", func() bool {
		return strings.Contains(c.procs["n0"].output(), "rmqlog node running")
	})
	out := c.procs["n0"].output()
	for _, w := range []string{"did you mean flushDiskType?", "flush=SYNC_FLUSH", "segment=8MiB", "config_warnings"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// TestHelpGoesToStdout (issue 13): `rmqlog status --help | less` shows the
// flags.
func TestHelpGoesToStdout(t *testing.T) {
	for _, cmd := range []string{"status", "serve", "dump", "append"} {
		c := exec.Command(binary, cmd, "--help")
		var stderr strings.Builder
		c.Stderr = &stderr
		out, err := c.Output()
		if err != nil || !strings.Contains(string(out), "Usage: rmqlog "+cmd) || stderr.Len() != 0 {
			t.Errorf("rmqlog %s --help: %v, stdout %q, stderr %q", cmd, err, out, stderr.String())
		}
	}
}

// TestStatusLeader: the quick start finds the leader to kill with
// `rmqlog status --leader` (it used to kill n0 "if n0 led").
func TestStatusLeader(t *testing.T) {
	c := newCluster(t, nil)
	for _, id := range c.ids {
		c.start(id)
	}
	want := c.leader()
	out, code := runCmd(t, "status", "--addr", strings.Join(c.addrs(), ","), "--leader")
	if code != 0 || strings.TrimSpace(out) != want {
		t.Fatalf("status --leader: exit %d %q, want %q", code, out, want)
	}
}
