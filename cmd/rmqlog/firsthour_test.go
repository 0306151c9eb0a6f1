package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	ports := freePorts(t, 2)
	conf := filepath.Join(t.TempDir(), "twin.conf")
	text, err := os.ReadFile(c.confs["n0"])
	if err != nil {
		t.Fatal(err)
	}
	peers := strings.Replace(confValue(string(text), "dLegerPeers"), confPeer(string(text), "n0"), fmt.Sprintf("127.0.0.1:%d", ports[1]), 1)
	os.WriteFile(conf, []byte(rewrite(string(text), map[string]string{"listenPort": fmt.Sprint(ports[0]), "dLegerPeers": peers})), 0o644)
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
