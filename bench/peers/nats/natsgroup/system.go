package natsgroup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/load"
)

// The stream every load writes to.
const (
	StreamName = "BENCH"
	Subject    = "bench"
	Replicas   = 3
)

// nodeCount is the group's size.
const nodeCount = 3

// stopGrace is how long Stop waits after SIGTERM (nats-server's graceful
// shutdown) before it sends SIGKILL.
const stopGrace = 10 * time.Second

// adminTimeout bounds one administrative request (stream info, consumer
// create); the waits around them retry within their ctx.
const adminTimeout = time.Second

// System is the NATS JetStream bench.System: see the package doc.
type System struct {
	binary string
}

// New returns the system that runs serverBinary (a nats-server built by
// BuildServer) for each node.
func New(serverBinary string) bench.System {
	return &System{binary: serverBinary}
}

// Name is "nats".
func (s *System) Name() string { return "nats" }

// Start starts three nodes in dir, waits for a meta leader, creates the
// stream (R3, file storage, no limits) and waits until it has a leader
// and every replica is current; then it connects the load's client. mode
// is SYNC_FLUSH (sync_interval: always) or ASYNC_FLUSH (the default). On
// an error every node started is killed.
func (s *System) Start(ctx context.Context, mode, dir string) (bench.Group, error) {
	always, err := syncAlways(mode)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("natsgroup: %w", err)
	}
	ports, err := bench.FreePorts(3 * nodeCount)
	if err != nil {
		return nil, err
	}
	g := &Group{}
	for _, cfg := range groupConfigs(dir, ports, always) {
		n, err := newNode(s.binary, dir, cfg)
		if err != nil {
			return nil, err
		}
		g.nodes = append(g.nodes, n)
	}
	if err := g.boot(ctx); err != nil {
		g.kill()
		return nil, err
	}
	return g, nil
}

// Group is a running three-node JetStream cluster with the stream. It owns
// the node processes and two connections: the load's (Target) and an
// administrative one (stream info, leader, last sequence); Stop releases
// them. Its methods may be called from several goroutines, and while the
// load runs.
type Group struct {
	nodes  []*node // fixed at Start
	target *Target // the load's connection
	admin  *nats.Conn
	js     jetstream.JetStream // over admin

	stopOnce sync.Once
	stopErr  error
}

// boot starts the nodes and brings the stream up.
func (g *Group) boot(ctx context.Context) error {
	for _, n := range g.nodes {
		if err := n.start(); err != nil {
			return err
		}
	}
	for _, n := range g.nodes {
		if err := n.waitUp(ctx); err != nil {
			return err
		}
	}
	if err := g.waitMetaLeader(ctx); err != nil {
		return err
	}
	var err error
	if g.admin, err = dial(g.urls(), "rmqbench-admin"); err != nil {
		return err
	}
	if g.js, err = jetstream.New(g.admin); err != nil {
		return fmt.Errorf("natsgroup: %w", err)
	}
	if err := g.createStream(ctx); err != nil {
		return err
	}
	info, err := g.waitCurrent(ctx)
	if err != nil {
		return err
	}
	g.target, err = dialTarget(g.urlsFrom(info.Cluster.Leader), Subject)
	return err
}

func (g *Group) urls() []string { return g.urlsFrom("") }

// urlsFrom returns the nodes' client URLs, node first's first (if it is
// one of them), the others in order.
func (g *Group) urlsFrom(first string) []string {
	urls := make([]string, 0, len(g.nodes))
	for _, n := range g.nodes {
		u := "nats://" + hostPort(n.cfg.ClientPort)
		if n.cfg.Name == first {
			urls = append([]string{u}, urls...)
		} else {
			urls = append(urls, u)
		}
	}
	return urls
}

// waitMetaLeader waits until every node knows a meta leader.
func (g *Group) waitMetaLeader(ctx context.Context) error {
	return poll(ctx, "a JetStream meta leader", func(ctx context.Context) (bool, error) {
		for _, n := range g.nodes {
			j, err := nodeJsz(ctx, n)
			if err != nil {
				return false, err
			}
			if j.metaLeader() == "" {
				return false, fmt.Errorf("natsgroup: node %s knows no meta leader", n.cfg.Name)
			}
		}
		return true, nil
	})
}

// streamConfig is the stream's: R3 on file storage, no limit that would
// discard a message during a run.
func streamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              StreamName,
		Subjects:          []string{Subject},
		Storage:           jetstream.FileStorage,
		Replicas:          Replicas,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgsPerSubject: -1,
		MaxMsgSize:        -1,
		MaxConsumers:      -1,
	}
}

// createStream creates the stream, retrying while the cluster cannot
// place it yet (peers still registering).
func (g *Group) createStream(ctx context.Context) error {
	return poll(ctx, "stream "+StreamName+" to be created", func(ctx context.Context) (bool, error) {
		actx, cancel := context.WithTimeout(ctx, adminTimeout)
		defer cancel()
		_, err := g.js.CreateStream(actx, streamConfig())
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // an earlier attempt that timed out created it
		}
		return err == nil, err
	})
}

// streamInfo asks the stream's leader for its info.
func (g *Group) streamInfo(ctx context.Context) (*jetstream.StreamInfo, error) {
	actx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	s, err := g.js.Stream(actx, StreamName)
	if err != nil {
		return nil, err
	}
	return s.CachedInfo(), nil
}

// waitCurrent waits until the stream has a running leader and every
// running node's replica reports current with lag 0, and returns the
// info.
func (g *Group) waitCurrent(ctx context.Context) (*jetstream.StreamInfo, error) {
	var info *jetstream.StreamInfo
	err := poll(ctx, "stream "+StreamName+"'s replicas to be current", func(ctx context.Context) (bool, error) {
		var err error
		if info, err = g.streamInfo(ctx); err != nil {
			return false, err
		}
		return true, g.replicasCurrent(info)
	})
	return info, err
}

// replicasCurrent returns nil if info names a running leader and reports
// every other running node current with lag 0.
func (g *Group) replicasCurrent(info *jetstream.StreamInfo) error {
	c := info.Cluster
	if c == nil || c.Leader == "" || g.node(c.Leader) == nil || g.node(c.Leader).running() == nil {
		return fmt.Errorf("natsgroup: stream %s has no running leader", StreamName)
	}
	for _, n := range g.nodes {
		if n.cfg.Name == c.Leader || n.running() == nil {
			continue
		}
		i := slices.IndexFunc(c.Replicas, func(p *jetstream.PeerInfo) bool { return p.Name == n.cfg.Name })
		if i < 0 {
			return fmt.Errorf("natsgroup: stream %s: leader %s does not list replica %s", StreamName, c.Leader, n.cfg.Name)
		}
		if p := c.Replicas[i]; !p.Current || p.Offline || p.Lag != 0 {
			return fmt.Errorf("natsgroup: stream %s: replica %s current=%v offline=%v lag=%d", StreamName, p.Name, p.Current, p.Offline, p.Lag)
		}
	}
	return nil
}

// node returns the node called name, or nil.
func (g *Group) node(name string) *node {
	for _, n := range g.nodes {
		if n.cfg.Name == name {
			return n
		}
	}
	return nil
}

// mustNode returns the node called name, or an error naming the nodes.
func (g *Group) mustNode(name string) (*node, error) {
	if n := g.node(name); n != nil {
		return n, nil
	}
	return nil, fmt.Errorf("natsgroup: no node %q (nodes: %v)", name, g.Nodes())
}

// Target is the load's client: one connection to all three servers.
func (g *Group) Target() load.Target { return g.target }

// Nodes returns "n0", "n1", "n2": the servers' server_name.
func (g *Group) Nodes() []string {
	names := make([]string, len(g.nodes))
	for i, n := range g.nodes {
		names[i] = n.cfg.Name
	}
	return names
}

// Leader returns the stream leader's server name from the stream info,
// waiting within ctx until the stream has a leader that is running (a
// killed leader the info still names is waited out).
func (g *Group) Leader(ctx context.Context) (string, error) {
	var leader string
	err := poll(ctx, "a leader of stream "+StreamName, func(ctx context.Context) (bool, error) {
		info, err := g.streamInfo(ctx)
		if err != nil {
			return false, err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" {
			return false, fmt.Errorf("natsgroup: stream %s has no leader", StreamName)
		}
		leader = info.Cluster.Leader
		if n := g.node(leader); n == nil || n.running() == nil {
			return false, fmt.Errorf("natsgroup: stream %s names leader %s, which is not running", StreamName, leader)
		}
		return true, nil
	})
	return leader, err
}

// Kill sends SIGKILL to node and waits until it exited.
func (g *Group) Kill(node string) error {
	n, err := g.mustNode(node)
	if err != nil {
		return err
	}
	return n.stop(syscall.SIGKILL, 0)
}

// Restart starts a killed node again on its config and store, and waits
// until it listens (not until it caught up: see WaitCaughtUp).
func (g *Group) Restart(ctx context.Context, node string) error {
	n, err := g.mustNode(node)
	if err != nil {
		return err
	}
	if err := n.start(); err != nil {
		return err
	}
	return n.waitUp(ctx)
}

// WaitCaughtUp waits until node's own store of the stream holds seq: the
// last_seq of the stream's state in the node's /jsz?streams=true, which
// each server reports from its local replica. That is exact for "holds
// every entry up to seq" as long as nothing was deleted (Check verifies
// the contents).
func (g *Group) WaitCaughtUp(ctx context.Context, node string, seq uint64) error {
	n, err := g.mustNode(node)
	if err != nil {
		return err
	}
	return poll(ctx, fmt.Sprintf("node %s to hold sequence %d", node, seq), func(ctx context.Context) (bool, error) {
		j, err := nodeJsz(ctx, n)
		if err != nil {
			return false, err
		}
		st, ok := j.replica(StreamName)
		if !ok {
			return false, fmt.Errorf("natsgroup: node %s holds no replica of %s yet", node, StreamName)
		}
		if st.LastSeq < seq {
			return false, fmt.Errorf("natsgroup: node %s holds up to %d", node, st.LastSeq)
		}
		return true, nil
	})
}

// LastSeq is the stream's last sequence (the stream info's state, from
// the leader), waiting within ctx for an answer.
func (g *Group) LastSeq(ctx context.Context) (uint64, error) {
	var last uint64
	err := poll(ctx, "stream "+StreamName+"'s last sequence", func(ctx context.Context) (bool, error) {
		info, err := g.streamInfo(ctx)
		if err != nil {
			return false, err
		}
		last = info.State.LastSeq
		return true, nil
	})
	return last, err
}

// CPU returns the CPU time of each running node's process.
func (g *Group) CPU() map[string]time.Duration { return bench.CPUOf(g.Pids()) }

// Pids returns the process id of each running node.
func (g *Group) Pids() map[string]int {
	pids := make(map[string]int, len(g.nodes))
	for _, n := range g.nodes {
		if pid := n.pid(); pid != 0 {
			pids[n.cfg.Name] = pid
		}
	}
	return pids
}

// Stop closes the connections, then stops the running nodes at once:
// SIGTERM (nats-server shuts down gracefully), SIGKILL after stopGrace.
// Later calls return the first's result.
func (g *Group) Stop() error {
	g.stopOnce.Do(func() {
		if g.target != nil {
			g.target.close()
		}
		if g.admin != nil {
			g.admin.Close()
		}
		g.stopErr = g.signalAll(syscall.SIGTERM, stopGrace)
	})
	return g.stopErr
}

// kill SIGKILLs every running node (Start's cleanup).
func (g *Group) kill() {
	if g.admin != nil {
		g.admin.Close()
	}
	_ = g.signalAll(syscall.SIGKILL, 0)
}

// signalAll stops every running node in parallel.
func (g *Group) signalAll(sig syscall.Signal, grace time.Duration) error {
	errs := make([]error, len(g.nodes))
	var wg sync.WaitGroup
	for i, n := range g.nodes {
		if n.running() == nil {
			continue
		}
		wg.Go(func() { errs[i] = n.stop(sig, grace) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

var _ bench.Group = (*Group)(nil)
