package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/poll"
)

// The end-to-end tests run the rmqlog binary built from this tree as real
// processes on 127.0.0.1.

var binary string // built by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rmqlog-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "rmqlog")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building rmqlog: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePorts returns n distinct ports that were free a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports, err := bench.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

// rewrite sets keys in a properties text: an existing "key=..." line is
// replaced, a missing key is appended.
func rewrite(text string, set map[string]string) string {
	for k, v := range set {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(k) + `\s*=.*$`)
		if re.MatchString(text) {
			text = re.ReplaceAllLiteralString(text, k+"="+v)
		} else {
			text += "\n" + k + "=" + v + "\n"
		}
	}
	return text
}

// proc is one running rmqlog process.
type proc struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer // stdout and stderr
	mu   *sync.Mutex
	done chan error
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(b)
}

func start(t testing.TB, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), out: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	p.cmd.Stdout = lockedWriter{p.mu, p.out}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("output of rmqlog %s:\n%s", strings.Join(args, " "), p.output())
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(d):
		t.Fatalf("rmqlog did not exit within %v", d)
		return -1
	}
}

// runCmd runs an rmqlog command to completion.
func runCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// cluster is three rmqlog processes started from conf/broker-n{0,1,2}.conf
// with free ports and temporary directories.
type cluster struct {
	t       testing.TB
	ids     []string
	confs   map[string]string // id -> config file
	clients map[string]string // id -> client address (rmqlogClientPort)
	brokers map[string]string // id -> broker address (listenPort, remoting)
	dirs    map[string]string // id -> storePathRootDir
	procs   map[string]*proc
}

func newCluster(t testing.TB, set map[string]string) *cluster {
	ports := freePorts(t, 9)
	c := &cluster{t: t, ids: []string{"n0", "n1", "n2"}, confs: map[string]string{}, clients: map[string]string{},
		brokers: map[string]string{}, dirs: map[string]string{}, procs: map[string]*proc{}}
	var peers []string
	for i, id := range c.ids {
		peers = append(peers, fmt.Sprintf("%s-127.0.0.1:%d", id, ports[3+i]))
	}
	tmp := t.TempDir()
	for i, id := range c.ids {
		sample, err := os.ReadFile(filepath.Join("..", "..", "conf", "broker-"+id+".conf"))
		if err != nil {
			t.Fatal(err)
		}
		c.dirs[id] = filepath.Join(tmp, id)
		c.clients[id] = fmt.Sprintf("127.0.0.1:%d", ports[i])
		c.brokers[id] = fmt.Sprintf("127.0.0.1:%d", ports[6+i])
		// No name server unless the test sets one: the samples' 9876
		// may be someone's.
		text := rewrite(rewrite(rewrite(string(sample), map[string]string{"namesrvAddr": ""}), set), map[string]string{
			"rmqlogClientPort":   fmt.Sprint(ports[i]),
			"listenPort":         fmt.Sprint(ports[6+i]),
			"dLegerPeers":        strings.Join(peers, ";"),
			"storePathRootDir":   c.dirs[id],
			"storePathCommitLog": filepath.Join(c.dirs[id], "commitlog"),
			// Small files: the test's log is a few MiB, and each node
			// prepares (writes) a whole next file ahead.
			"mappedFileSizeCommitLog": fmt.Sprint(8 << 20),
		})
		c.confs[id] = filepath.Join(tmp, id+".conf")
		if err := os.WriteFile(c.confs[id], []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *cluster) start(id string) {
	c.procs[id] = start(c.t, "serve", "-c", c.confs[id])
	c.waitServing(id)
}

// waitServing waits until the node answers on its client port.
func (c *cluster) waitServing(id string) {
	c.t.Helper()
	poll.EventuallyNil(c.t, 15*time.Second, fmt.Sprintf("node %s answering on %s", id, c.clients[id]), func() error {
		_, err := meta(c.clients[id])
		return err
	})
}

func (c *cluster) addrs() []string {
	var out []string
	for _, id := range c.ids {
		out = append(out, c.clients[id])
	}
	return out
}

// leader waits for a node that says it leads and is writable.
func (c *cluster) leader() string {
	c.t.Helper()
	var lead string
	poll.Eventually(c.t, 15*time.Second, "a writable leader", func() bool {
		for _, id := range c.ids {
			if c.procs[id] == nil {
				continue
			}
			if m, err := meta(c.clients[id]); err == nil && m.Writable {
				lead = id
				return true
			}
		}
		return false
	})
	return lead
}

// TestClusterFailover is the end-to-end scenario: three nodes from
// the sample configs, appends through the client, kill -9 of the leader
// mid-load, the client carries on, the old leader restarts and catches up,
// every acknowledged entry reads back with the same bytes from every node,
// verify reports the replicas identical, SIGTERM stops every node cleanly,
// and the stopped logs dump and verify offline.
func TestClusterFailover(t *testing.T) {
	c := newCluster(t, nil)
	for _, id := range c.ids {
		c.start(id)
	}
	old := c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, c.addrs())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	acked := newAcks()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := fmt.Appendf(nil, "producer %d message %d %s", w, i, strings.Repeat("x", i%200))
				actx, acancel := context.WithTimeout(ctx, 15*time.Second)
				idx, err := cl.Append(actx, p)
				acancel()
				if err != nil {
					t.Errorf("append during the test (the client must ride out the failover): %v", err)
					return
				}
				acked.add(t, idx, p)
				// A steady load, not a flood: the other packages' tests
				// run on the same cores meanwhile.
				time.Sleep(time.Millisecond)
			}
		}()
	}
	acked.waitFor(t, 500)
	c.procs[old].cmd.Process.Signal(syscall.SIGKILL)
	c.procs[old].wait(t, 5*time.Second)
	killedAt := acked.count()
	acked.waitFor(t, killedAt+1000) // the client continues on the new leader
	newLeader := c.leader()
	if newLeader == old {
		t.Fatalf("the killed node %s still leads", old)
	}
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}

	c.start(old)
	last := acked.max()
	for _, id := range c.ids {
		c.waitCommit(id, last)
	}
	for _, id := range c.ids {
		acked.checkOn(t, id, c.clients[id])
	}
	all := strings.Join(c.addrs(), ",")
	out, code := runCmd(t, "append", "--addr", all, "from the command line")
	if code != 0 {
		t.Fatalf("rmqlog append: exit %d\n%s", code, out)
	}
	out, code = runCmd(t, "get", "--addr", all, strings.TrimSpace(out))
	if code != 0 || out != "from the command line\n" {
		t.Fatalf("rmqlog get: exit %d\n%s", code, out)
	}
	out, code = runCmd(t, "verify", "--addr", all)
	if code != 0 || !strings.Contains(out, "replicas identical") {
		t.Fatalf("rmqlog verify: exit %d\n%s", code, out)
	}
	out, code = runCmd(t, "status", "--addr", strings.Join(c.addrs(), ","), "--json")
	var st []map[string]any
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil || len(st) != 3 {
		t.Fatalf("rmqlog status --json: exit %d, %v\n%s", code, err, out)
	}
	for _, s := range st {
		for _, k := range []string{"self", "role", "term", "leader", "commitIndex", "lastIndex"} {
			if _, ok := s[k]; !ok {
				t.Errorf("status JSON lacks %q: %v", k, s)
			}
		}
	}
	t.Logf("%d entries acknowledged, %d before the kill of %s; %s leads now", acked.count(), killedAt, old, newLeader)

	for _, id := range c.ids {
		c.procs[id].cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, id := range c.ids {
		if code := c.procs[id].wait(t, 20*time.Second); code != 0 || !strings.Contains(c.procs[id].output(), "stopped cleanly") {
			t.Fatalf("node %s after SIGTERM: exit %d", id, code)
		}
	}
	out, code = runCmd(t, "dump", "--to", "5", c.dirs[old])
	if code != 0 || !strings.Contains(out, "noop") || !strings.Contains(out, "msg") {
		t.Fatalf("rmqlog dump: exit %d\n%s", code, out)
	}
	out, code = runCmd(t, "verify", "--dir", strings.Join([]string{c.dirs["n0"], c.dirs["n1"], c.dirs["n2"]}, ","))
	if code != 0 || !strings.Contains(out, "replicas identical") {
		t.Fatalf("rmqlog verify --dir: exit %d\n%s", code, out)
	}
}

// meta asks the node at addr alone for its Meta.
func meta(addr string) (proto.Meta, error) { return bench.Meta(context.Background(), addr) }

// waitCommit waits until node id knows index i committed.
func (c *cluster) waitCommit(id string, i uint64) {
	c.t.Helper()
	poll.EventuallyNil(c.t, 30*time.Second, fmt.Sprintf("commit of %d on node %s", i, id), func() error {
		m, err := meta(c.clients[id])
		if err == nil && m.Commit < i {
			err = fmt.Errorf("its commit index is %d", m.Commit)
		}
		return err
	})
}

// acks records acknowledged appends.
type acks struct {
	mu   sync.Mutex
	m    map[uint64][]byte
	cond chan struct{}
}

func newAcks() *acks { return &acks{m: map[uint64][]byte{}, cond: make(chan struct{}, 1)} }

func (a *acks) add(t *testing.T, i uint64, p []byte) {
	a.mu.Lock()
	if old, ok := a.m[i]; ok {
		t.Errorf("index %d acknowledged twice: %q and %q", i, old, p)
	}
	a.m[i] = p
	a.mu.Unlock()
	select {
	case a.cond <- struct{}{}:
	default:
	}
}

func (a *acks) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.m)
}

func (a *acks) max() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var m uint64
	for i := range a.m {
		m = max(m, i)
	}
	return m
}

func (a *acks) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for a.count() < n {
		select {
		case <-a.cond:
		case <-deadline:
			t.Fatalf("only %d of %d appends acknowledged within 30s", a.count(), n)
		}
	}
}

// checkOn reads every acknowledged entry from the node at addr.
func (a *acks) checkOn(t *testing.T, id, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, []string{addr}, client.WithPinned())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, want := range a.m {
		got, err := cl.Get(ctx, i)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("node %s, acknowledged index %d: %q, %v; want %q", id, i, got, err, want)
		}
	}
}
