package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/load"
)

// Rmqlog is rmqlog as a System: three `rmqlog serve` processes on free
// 127.0.0.1 ports, configured by RocketMQ-style properties files written
// into the group's directory.
type Rmqlog struct {
	// Binary is the rmqlog executable.
	Binary string
	// Set holds properties every node's file gets on top of the defaults
	// below (e.g. raftElectionTimeoutMs); keys of the group's layout
	// (ports, peers, directories, flushDiskType) cannot be overridden.
	Set map[string]string
	// Spares is how many nodes beyond the three Start prepares without
	// starting them (ports, data directory, a properties file with
	// rmqlogJoin=true and a dLegerPeers naming the three members and the
	// spare): the membership scenario starts them to join (StartSpare).
	Spares int
}

// Name is "rmqlog".
func (Rmqlog) Name() string { return "rmqlog" }

// defaultProps are the properties of a benchmark node beyond its layout.
// Everything else is rmqlog's default, which is the user's: 1 GiB segment
// files (RocketMQ's mappedFileSizeCommitLog) among them.
//
// The RocketMQ broker is off: the native scenarios append raw entries,
// which the broker does not store, and would inspect and log one by one.
var defaultProps = map[string]string{
	"enableDLegerCommitLog": "true",
	"dLegerGroup":           "RmqBench",
	"brokerName":            "RmqBench",
	"rmqlogBrokerEnable":    "false",
}

// Props describes the node properties a run uses beyond the group's layout
// and the defaults every user has, for the summaries: the --set ones, the
// segment size always (the one property that changes results most), and
// the broker's switch, which differs from a user's default.
func (r Rmqlog) Props() []string {
	var out []string
	if _, ok := r.Set["mappedFileSizeCommitLog"]; !ok {
		out = append(out, "mappedFileSizeCommitLog=1073741824 (1 GiB, the default)")
	}
	if _, ok := r.Set["rmqlogBrokerEnable"]; !ok {
		out = append(out, "rmqlogBrokerEnable=false (no RocketMQ broker: the load is raw entries)")
	}
	keys := make([]string, 0, len(r.Set))
	for k := range r.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+r.Set[k])
	}
	return out
}

// nodeIDs are the ids of the three members a group starts with; its
// spares follow as n3, n4, ...
var nodeIDs = []string{"n0", "n1", "n2"}

// Start writes the properties files of the three nodes and of r.Spares
// spares into dir, starts the three, waits for a writable leader and
// connects a client.
func (r Rmqlog) Start(ctx context.Context, mode, dir string) (Group, error) {
	if _, err := os.Stat(r.Binary); err != nil {
		return nil, fmt.Errorf("bench: rmqlog binary: %w (run `make build`)", err)
	}
	all := len(nodeIDs) + max(r.Spares, 0)
	ports, err := FreePorts(3 * all) // client, peer, listenPort (unused: no broker)
	if err != nil {
		return nil, err
	}
	g := &rmqGroup{bin: r.Binary, dir: dir, procs: map[string]*Process{}, addrs: map[string]string{},
		peers: map[string]string{}, nodes: slices.Clone(nodeIDs)}
	var ids []string
	for i := range all {
		id := fmt.Sprintf("n%d", i)
		ids = append(ids, id)
		g.addrs[id] = fmt.Sprintf("127.0.0.1:%d", ports[i])
		g.peers[id] = fmt.Sprintf("127.0.0.1:%d", ports[all+i])
		if i >= len(nodeIDs) {
			g.spares = append(g.spares, id)
		}
	}
	var members []string
	for _, id := range nodeIDs {
		members = append(members, id+"-"+g.peers[id])
	}
	for i, id := range ids {
		peers, join := members, i >= len(nodeIDs)
		if join {
			peers = append(slices.Clone(members), id+"-"+g.peers[id])
		}
		if err := writeProps(filepath.Join(dir, id+".conf"), r.nodeProps(mode, dir, id, ports[i], ports[2*all+i], peers, join)); err != nil {
			return nil, err
		}
	}
	if err := g.start(ctx); err != nil {
		g.Stop()
		return nil, err
	}
	return g, nil
}

// nodeProps are node id's properties: the defaults, r.Set, then the
// group's layout.
func (r Rmqlog) nodeProps(mode, dir, id string, clientPort, listenPort int, peers []string, join bool) map[string]string {
	props := map[string]string{}
	for k, v := range defaultProps {
		props[k] = v
	}
	for k, v := range r.Set {
		props[k] = v
	}
	for k, v := range map[string]string{
		"rmqlogClientPort": fmt.Sprint(clientPort), "listenPort": fmt.Sprint(listenPort),
		"dLegerPeers": strings.Join(peers, ";"), "dLegerSelfId": id,
		"storePathRootDir": filepath.Join(dir, id), "storePathCommitLog": filepath.Join(dir, id, "commitlog"),
		"flushDiskType": mode,
	} {
		props[k] = v
	}
	if join {
		props["rmqlogJoin"] = "true"
	}
	return props
}

// ElectionTimeout is the nodes' raftElectionTimeoutMs: r.Set's, else
// rmqlog's default (300 ms).
func (r Rmqlog) ElectionTimeout() time.Duration {
	if v, ok := r.Set["raftElectionTimeoutMs"]; ok {
		if ms, err := strconv.Atoi(v); err == nil {
			return time.Duration(ms) * time.Millisecond
		}
	}
	return 300 * time.Millisecond
}

func writeProps(path string, props map[string]string) error {
	return WriteProps(path, "written by rmqbench", props)
}

// WriteProps writes a node's properties file: a comment line, then the
// properties sorted by key.
func WriteProps(path, comment string, props map[string]string) error {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# " + comment + "\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// FreePorts returns n distinct 127.0.0.1 ports that were free a moment ago,
// chosen below the kernel's ephemeral range: a node that is restarted on
// its port (failover, the fault campaign) must find it free, and a port in
// the ephemeral range can meanwhile become the local end of any outbound
// connection (the fault campaign lost a node this way: "bind: address
// already in use" on every restart).
func FreePorts(n int) ([]int, error) {
	lo := ephemeralLow()
	var ports []int
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			ln.Close()
		}
	}()
	for tries := 0; len(ports) < n && tries < 1000 && lo > minPort+n; tries++ {
		p := minPort + rand.IntN(lo-minPort)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue // in use
		}
		held = append(held, ln)
		ports = append(ports, p)
	}
	for len(ports) < n { // no room below the ephemeral range: any free port
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("bench: finding a free port: %w", err)
		}
		held = append(held, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// minPort is the lowest port FreePorts picks: above the well-known and
// most registered services' ports.
const minPort = 10000

// ephemeralLow is the first port of the kernel's ephemeral range (32768 if
// it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil || lo <= 0 {
		return 32768
	}
	return lo
}

// rmqGroup is a running Rmqlog group.
type rmqGroup struct {
	bin, dir string
	addrs    map[string]string // node id -> client address, spares included; set by Start
	peers    map[string]string // node id -> peer address (dLegerPeers), spares included; set by Start
	cl       *client.Client

	mu    sync.Mutex // guards procs, nodes and spares
	procs map[string]*Process
	// nodes are the current members, and spares started to join, in the
	// order they came; a retired member leaves it.
	nodes  []string
	spares []string // prepared and not started yet, in order
}

func (g *rmqGroup) start(ctx context.Context) error {
	for _, id := range nodeIDs {
		if err := g.startNode(id); err != nil {
			return err
		}
	}
	if _, err := g.Leader(ctx); err != nil {
		return err
	}
	cl, err := client.Dial(ctx, g.addrList())
	if err != nil {
		return fmt.Errorf("bench: connecting to the group: %w", err)
	}
	g.cl = cl
	return nil
}

func (g *rmqGroup) startNode(id string) error {
	p, err := StartProcess(filepath.Join(g.dir, id+".log"), g.bin, "serve", "-c", filepath.Join(g.dir, id+".conf"))
	if err != nil {
		return fmt.Errorf("bench: starting node %s: %w", id, err)
	}
	g.mu.Lock()
	g.procs[id] = p
	g.mu.Unlock()
	return nil
}

func (g *rmqGroup) addrList() []string {
	var out []string
	for _, id := range g.Nodes() {
		out = append(out, g.addrs[id])
	}
	return out
}

// Addrs returns the current nodes' client addresses.
func (g *rmqGroup) Addrs() []string { return g.addrList() }

func (g *rmqGroup) Target() load.Target { return ClientTarget{g.cl} }

// Nodes returns the current nodes: the members, and spares started to
// join.
func (g *rmqGroup) Nodes() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.nodes)
}

// Leader waits for a node that says it leads and is writable. It fails
// at once if no node is running, quoting the end of a node's log.
func (g *rmqGroup) Leader(ctx context.Context) (string, error) {
	var lead string
	err := poll(ctx, "writable leader", func() (bool, error) {
		var last error
		running := 0
		for _, id := range g.Nodes() {
			if !g.running(id) {
				continue
			}
			running++
			m, err := Meta(ctx, g.addrs[id])
			if err == nil && m.Writable {
				lead = id
				return true, nil
			}
			last = err
		}
		if running == 0 {
			return false, g.allExited()
		}
		return false, last
	})
	return lead, err
}

// allExited is the error for a group whose processes all exited: it
// quotes the last lines of the first node's log.
func (g *rmqGroup) allExited() error {
	g.mu.Lock()
	var p *Process
	if len(g.nodes) > 0 {
		p = g.procs[g.nodes[0]]
	}
	g.mu.Unlock()
	if p == nil {
		return &stopError{errors.New("no node is running")}
	}
	return &stopError{fmt.Errorf("every node exited; the end of %s:\n%s", p.LogPath(), tail(p.LogPath(), 5))}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// stopError ends a poll at once.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

func (g *rmqGroup) running(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.procs[id]
	return p != nil && !p.Exited()
}

func (g *rmqGroup) Kill(id string) error {
	g.mu.Lock()
	p := g.procs[id]
	g.mu.Unlock()
	if p == nil {
		return fmt.Errorf("bench: no node %s", id)
	}
	return p.Kill()
}

// Restart starts node id again and waits until it answers.
func (g *rmqGroup) Restart(ctx context.Context, id string) error {
	if g.running(id) {
		return fmt.Errorf("bench: node %s is running", id)
	}
	if err := g.startNode(id); err != nil {
		return err
	}
	return poll(ctx, "node "+id+" answering", func() (bool, error) {
		_, err := Meta(ctx, g.addrs[id])
		return err == nil, err
	})
}

// WaitCaughtUp waits until node id holds seq and knows it committed.
func (g *rmqGroup) WaitCaughtUp(ctx context.Context, id string, seq uint64) error {
	return poll(ctx, fmt.Sprintf("node %s committing index %d", id, seq), func() (bool, error) {
		m, err := Meta(ctx, g.addrs[id])
		return err == nil && m.Commit >= seq && m.Last >= seq, err
	})
}

// LastSeq is the leader's commit index.
func (g *rmqGroup) LastSeq(ctx context.Context) (uint64, error) {
	lead, err := g.Leader(ctx)
	if err != nil {
		return 0, err
	}
	m, err := Meta(ctx, g.addrs[lead])
	return m.Commit, err
}

// CPU returns the CPU time of the current nodes' processes.
func (g *rmqGroup) CPU() map[string]time.Duration {
	pids := map[string]int{}
	g.mu.Lock()
	for _, id := range g.nodes {
		if p := g.procs[id]; p != nil && !p.Exited() {
			pids[id] = p.Pid()
		}
	}
	g.mu.Unlock()
	return CPUOf(pids)
}

// Stop sends SIGTERM to every node process still running (a retired one
// has exited) and waits (30 s at most each, then SIGKILL), and closes the
// client.
func (g *rmqGroup) Stop() error {
	if g.cl != nil {
		g.cl.Close()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(g.procs)) {
		if p := g.procs[id]; !p.Exited() {
			if err := p.Stop(30 * time.Second); err != nil {
				errs = append(errs, fmt.Errorf("node %s: %w (log: %s)", id, err, p.LogPath()))
			}
		}
	}
	return errors.Join(errs...)
}

// Meta asks the node at addr for its Meta, within a second.
func Meta(ctx context.Context, addr string) (proto.Meta, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := client.Dial(ctx, []string{addr}, client.WithPinned())
	if err != nil {
		return proto.Meta{}, err
	}
	defer c.Close()
	return c.Meta(ctx)
}

// poll calls cond every 20 ms until it holds or ctx ends; the error then
// names what was awaited and cond's last error.
func poll(ctx context.Context, what string, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if se := (*stopError)(nil); errors.As(err, &se) {
			return fmt.Errorf("bench: no %s: %w", what, se.err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: no %s: %w (last: %v)", what, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
