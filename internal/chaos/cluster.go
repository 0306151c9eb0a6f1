package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/chaos/netfault"
	"github.com/rmqlog/rmqlog/internal/fault"
)

// Config describes a group for a campaign run.
type Config struct {
	Binary string // the rmqlog executable
	Dir    string // scratch directory: data, properties, logs, fault files
	Nodes  int    // 3 or 5
	// Spares are nodes prepared (ports, proxy links) but not started:
	// the membership class starts them to join the group (Join).
	Spares int
	Mode   string // SYNC_FLUSH or ASYNC_FLUSH
	// Props are extra node properties (e.g. a smaller segment size).
	Props  map[string]string
	Seed   uint64
	Logger *slog.Logger
}

// nodeProps are the campaign's node settings: small segments so that
// rollovers (and a full disk) happen within seconds, timers as shipped.
var nodeProps = map[string]string{
	// 64 KiB segments: a run rolls over to a new file every few hundred
	// appends, so a full disk (which fails only the allocation of the next
	// file: files are preallocated) bites within a cycle.
	"mappedFileSizeCommitLog": fmt.Sprint(64 << 10),
	"enableDLegerCommitLog":   "true",
	"dLegerGroup":             "RmqChaos",
	"brokerName":              "RmqChaos",
	// The RocketMQ broker is off: the campaign appends raw entries, which
	// the broker would inspect and log one by one.
	"rmqlogBrokerEnable":     "false",
	"flushIntervalCommitLog": "200",
	"maxMessageSize":         "4096",
}

// Cluster is a group of real `rmqlog serve` processes on 127.0.0.1 whose
// peer links all go through a fault proxy (netfault.Net), each node with
// the fault seams of package fault switched on: a write journal (power
// loss) and a control file (disk full, clock).
type Cluster struct {
	cfg     Config
	ids     []string          // the members (and nodes joining), in order
	spares  []string          // prepared nodes not started yet (Join takes them in order)
	peers   map[string]string // id -> real peer address
	clients map[string]string // id -> client address
	listens map[string]string // id -> listenPort (bound by no one: the broker is off)
	net     *netfault.Net
	log     *slog.Logger

	mu     sync.Mutex // guards procs, paused, killed and unexpected
	procs  map[string]*bench.Process
	paused map[string]bool
	// killed marks processes the driver killed; any other exit is a finding
	// (a node's own safety check, a refusal to start), recorded in
	// unexpected with the tail of its log.
	killed     map[*bench.Process]bool
	unexpected []string
}

// Start writes the nodes' properties and starts them; it returns once a
// leader is writable.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Nodes == 0 {
		cfg.Nodes = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if _, err := os.Stat(cfg.Binary); err != nil {
		return nil, fmt.Errorf("chaos: rmqlog binary: %w (run `make build`)", err)
	}
	all := cfg.Nodes + cfg.Spares
	ports, err := bench.FreePorts(3 * all)
	if err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, clients: map[string]string{}, listens: map[string]string{}, log: cfg.Logger,
		procs: map[string]*bench.Process{}, paused: map[string]bool{}, killed: map[*bench.Process]bool{}}
	peers := map[string]string{}
	for i := range all {
		id := fmt.Sprintf("n%d", i)
		if i < cfg.Nodes {
			c.ids = append(c.ids, id)
		} else {
			c.spares = append(c.spares, id)
		}
		c.clients[id] = fmt.Sprintf("127.0.0.1:%d", ports[i])
		peers[id] = fmt.Sprintf("127.0.0.1:%d", ports[all+i])
		c.listens[id] = fmt.Sprint(ports[2*all+i])
	}
	c.peers = peers
	c.net, err = netfault.New(peers, netfault.Options{Seed: cfg.Seed, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	for _, id := range c.ids {
		if err := c.writeProps(id, false); err != nil {
			c.Stop()
			return nil, err
		}
		if err := c.start(id); err != nil {
			c.Stop()
			return nil, err
		}
	}
	if _, err := c.Leader(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) nodeDir(id string) string { return filepath.Join(c.cfg.Dir, id) }
func (c *Cluster) journal(id string) string { return filepath.Join(c.cfg.Dir, id+".journal") }
func (c *Cluster) control(id string) string { return filepath.Join(c.cfg.Dir, id+".control") }

// LogDir is node id's commit log directory.
func (c *Cluster) LogDir(id string) string { return filepath.Join(c.nodeDir(id), "commitlog") }

// NodeLog is the path of node id's output.
func (c *Cluster) NodeLog(id string) string { return filepath.Join(c.cfg.Dir, id+".log") }

// writeProps writes node id's properties: dLegerPeers names the members
// (each through its proxy link) and id itself; join starts it as a new
// member (rmqlogJoin).
func (c *Cluster) writeProps(id string, join bool) error {
	var list []string
	for _, p := range c.ids {
		addr := c.peers[p]
		if p != id {
			addr = c.net.Addr(id, p) // every peer through its proxy link
		}
		list = append(list, p+"-"+addr)
	}
	if !slices.Contains(c.ids, id) {
		list = append(list, id+"-"+c.peers[id])
	}
	props := map[string]string{}
	for k, v := range nodeProps {
		props[k] = v
	}
	for k, v := range c.cfg.Props {
		props[k] = v
	}
	_, port, _ := strings.Cut(c.clients[id], ":")
	for k, v := range map[string]string{
		"rmqlogClientPort": port, "listenPort": c.listens[id], "dLegerPeers": strings.Join(list, ";"), "dLegerSelfId": id,
		"storePathRootDir": c.nodeDir(id), "storePathCommitLog": c.LogDir(id), "flushDiskType": c.cfg.Mode,
		"rmqlogJoin": fmt.Sprint(join),
	} {
		props[k] = v
	}
	return bench.WriteProps(filepath.Join(c.cfg.Dir, id+".conf"), "written by the rmqlog fault campaign", props)
}

// start starts node id's process with the fault seams on.
func (c *Cluster) start(id string) error {
	env := []string{fault.EnvJournal + "=" + c.journal(id), fault.EnvControl + "=" + c.control(id)}
	p, err := bench.StartProcessEnv(c.NodeLog(id), env, c.cfg.Binary, "serve", "-c", filepath.Join(c.cfg.Dir, id+".conf"))
	if err != nil {
		return fmt.Errorf("chaos: starting %s: %w", id, err)
	}
	c.mu.Lock()
	c.procs[id] = p
	c.paused[id] = false
	c.mu.Unlock()
	return nil
}

// Join starts the next spare node as a new member-to-be (rmqlogJoin) and
// counts it among the nodes from now on; it returns its id, peer and
// client addresses (for rmqlog member add). Members reach it directly:
// the configuration entry carries one peer address, not a proxy link per
// member; its own links to the members go through the proxy.
func (c *Cluster) Join() (id, peer, clientAddr string, err error) {
	if len(c.spares) == 0 {
		return "", "", "", errors.New("chaos: no spare node left to join")
	}
	id = c.spares[0]
	c.spares = c.spares[1:]
	if err := c.writeProps(id, true); err != nil {
		return "", "", "", err
	}
	if err := c.start(id); err != nil {
		return "", "", "", err
	}
	c.ids = append(c.ids, id)
	return id, c.peers[id], c.clients[id], nil
}

// Retire stops node id for good (it was removed from the group) and no
// longer counts it among the nodes; its data and log stay.
func (c *Cluster) Retire(id string) error {
	c.ids = slices.DeleteFunc(c.ids, func(x string) bool { return x == id })
	if c.isPaused(id) {
		_ = c.Resume(id)
	}
	p := c.proc(id)
	if p == nil || p.Exited() {
		return nil
	}
	c.mu.Lock()
	c.killed[p] = true
	c.mu.Unlock()
	c.log.Info("chaos: retire", "node", id)
	return p.Stop(10 * time.Second)
}

// IDs are the node ids.
func (c *Cluster) IDs() []string { return slices.Clone(c.ids) }

// Addrs are the nodes' client addresses.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, id := range c.ids {
		out = append(out, c.clients[id])
	}
	return out
}

// Addr is node id's client address.
func (c *Cluster) Addr(id string) string { return c.clients[id] }

// Net is the fault proxy between the nodes' peer ports.
func (c *Cluster) Net() *netfault.Net { return c.net }

// Running reports whether node id's process is alive (paused or not).
func (c *Cluster) Running(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.procs[id]
	return p != nil && !p.Exited()
}

func (c *Cluster) proc(id string) *bench.Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[id]
}

// Kill kills node id with SIGKILL (a crash: its page cache survives).
func (c *Cluster) Kill(id string) error {
	p := c.proc(id)
	if p == nil {
		return nil
	}
	c.log.Info("chaos: kill -9", "node", id)
	c.mu.Lock()
	c.killed[p] = true
	c.mu.Unlock()
	return p.Kill()
}

// Unexpected lists the nodes that exited without the driver killing them,
// each with the end of its log.
func (c *Cluster) Unexpected() []string {
	for _, id := range c.ids {
		c.checkExit(id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.unexpected)
}

// checkExit records node id's process if it exited by itself.
func (c *Cluster) checkExit(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.procs[id]
	if p == nil || !p.Exited() || c.killed[p] {
		return
	}
	c.killed[p] = true // report once
	c.unexpected = append(c.unexpected, fmt.Sprintf("%s exited (%v): %s", id, p.ExitErr(), tail(c.NodeLog(id), 3)))
}

// LogCount counts the lines of node id's output that contain s (the
// evidence that a fault took effect: "disk full", "damaged log").
func (c *Cluster) LogCount(id, s string) int {
	b, err := os.ReadFile(c.NodeLog(id))
	if err != nil {
		return 0
	}
	return strings.Count(string(b), s)
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// Restart starts node id again if it is not running.
func (c *Cluster) Restart(id string) error {
	if c.Running(id) {
		return nil
	}
	c.checkExit(id)
	c.log.Info("chaos: restart", "node", id)
	return c.start(id)
}

// Wipe kills node id and removes its whole data directory (and its power
// cut journal, which describes files that are gone): a disk replaced or
// wiped. It stays down.
func (c *Cluster) Wipe(id string) error {
	if err := c.Kill(id); err != nil {
		return err
	}
	c.log.Info("chaos: wipe", "node", id, "dir", c.nodeDir(id))
	if err := os.RemoveAll(c.nodeDir(id)); err != nil {
		return err
	}
	if err := os.Remove(c.journal(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Pause stops node id with SIGSTOP; Resume continues it.
func (c *Cluster) Pause(id string) error { return c.signal(id, syscall.SIGSTOP, true) }

// Resume sends SIGCONT to a paused node.
func (c *Cluster) Resume(id string) error { return c.signal(id, syscall.SIGCONT, false) }

func (c *Cluster) signal(id string, sig syscall.Signal, paused bool) error {
	p := c.proc(id)
	if p == nil || p.Exited() {
		return nil
	}
	c.log.Info("chaos: signal", "node", id, "signal", sig.String())
	if err := p.Signal(sig); err != nil {
		return err
	}
	c.mu.Lock()
	c.paused[id] = paused
	c.mu.Unlock()
	return nil
}

// PowerLoss cuts node id's power: SIGKILL, then every write it had not
// synced is lost (fault.PowerLoss over its journal). It stays down.
func (c *Cluster) PowerLoss(id string) (fault.LossReport, error) {
	if err := c.Kill(id); err != nil {
		return fault.LossReport{}, err
	}
	r, err := fault.PowerLoss(c.journal(id))
	c.log.Info("chaos: power loss", "node", id, "report", fmt.Sprintf("%+v", r), "err", err)
	return r, err
}

// PowerLossAll cuts every node's power at once: all are killed first
// (none acknowledges anything after the cut), then each loses what it had
// not synced. It returns the time of the cut and the bytes lost.
func (c *Cluster) PowerLossAll() (time.Time, int64, error) {
	for _, id := range c.ids {
		if err := c.Kill(id); err != nil {
			return time.Time{}, 0, err
		}
	}
	cut := time.Now()
	var lost int64
	for _, id := range c.ids {
		r, err := fault.PowerLoss(c.journal(id))
		if err != nil {
			return cut, lost, fmt.Errorf("chaos: power loss of %s: %w", id, err)
		}
		lost += r.BytesZeroed
	}
	c.log.Info("chaos: power loss of every node", "bytes", lost)
	return cut, lost, nil
}

// Control sends node id's fault seams a command (see package fault).
func (c *Cluster) Control(id string, cmds ...string) error {
	c.log.Info("chaos: control", "node", id, "cmds", cmds)
	return fault.WriteControl(c.control(id), cmds...)
}

// Meta is one node's view, from its client port.
type Meta struct {
	ID                   string
	Role                 string
	Term                 uint64
	Leader               string
	Writable             bool
	Last, Commit, Repair uint64
}

// Status asks node id for its status.
func (c *Cluster) Status(ctx context.Context, id string) (Meta, error) {
	cl, err := client.Dial(ctx, []string{c.clients[id]}, client.WithPinned(), client.WithDialTimeout(time.Second))
	if err != nil {
		return Meta{}, err
	}
	defer cl.Close()
	b, err := cl.Status(ctx)
	if err != nil {
		return Meta{}, err
	}
	var d struct {
		Self     string `json:"self"`
		Role     string `json:"role"`
		Term     uint64 `json:"term"`
		Leader   string `json:"leader"`
		Writable bool   `json:"writable"`
		Last     uint64 `json:"lastIndex"`
		Commit   uint64 `json:"commitIndex"`
		Repair   uint64 `json:"repairTo"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return Meta{}, fmt.Errorf("chaos: status of %s: %w", id, err)
	}
	return Meta{ID: d.Self, Role: d.Role, Term: d.Term, Leader: d.Leader, Writable: d.Writable,
		Last: d.Last, Commit: d.Commit, Repair: d.Repair}, nil
}

// Leader waits for a writable leader (the one of the highest term if two
// claim it) and returns its id.
func (c *Cluster) Leader(ctx context.Context) (string, error) {
	var lead string
	err := poll(ctx, "a writable leader", func() (bool, error) {
		if err := c.allExited(); err != nil {
			return false, err
		}
		lead = ""
		var term uint64
		for _, id := range c.ids {
			if !c.Running(id) || c.isPaused(id) {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			m, err := c.Status(sctx, id)
			cancel()
			if err == nil && m.Role == "leader" && m.Writable && m.Term >= term {
				lead, term = id, m.Term
			}
		}
		return lead != "", nil
	})
	return lead, err
}

func (c *Cluster) isPaused(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused[id]
}

// allExited fails if no node process is alive: nothing will ever lead.
func (c *Cluster) allExited() error {
	for _, id := range c.ids {
		if c.Running(id) {
			return nil
		}
	}
	return fmt.Errorf("chaos: every node has exited; see %s", c.NodeLog(c.ids[0]))
}

// Control commands of package fault's control file.
const (
	cmdDiskFull = "disk full"
	cmdDiskOK   = "disk ok"
)

// Heal ends every fault: the network is healed, paused nodes continue,
// disks have room, and stopped nodes start again (clock faults end by
// themselves: each lasts a given time).
func (c *Cluster) Heal() error {
	c.net.Heal()
	var errs []error
	for _, id := range c.ids {
		if c.isPaused(id) {
			errs = append(errs, c.Resume(id))
		}
		errs = append(errs, c.Control(id, cmdDiskOK))
		errs = append(errs, c.Restart(id))
	}
	return errors.Join(errs...)
}

// Converge waits until every node runs, none is repairing, and all hold
// and have committed the same last index (the load must have stopped).
func (c *Cluster) Converge(ctx context.Context) (uint64, error) {
	var last uint64
	var why string
	err := poll(ctx, "every node committed the same log", func() (bool, error) {
		if err := c.allExited(); err != nil {
			return false, err
		}
		lead, err := c.Leader(ctx)
		if err != nil {
			return false, err
		}
		lm, err := c.Status(ctx, lead)
		if err != nil {
			why = err.Error()
			return false, nil
		}
		for _, id := range c.ids {
			m, err := c.Status(ctx, id)
			switch {
			case err != nil:
				why = fmt.Sprintf("%s: %v", id, err)
				return false, nil
			case m.Commit != lm.Commit || m.Last != lm.Last:
				why = fmt.Sprintf("%s at commit %d last %d, leader %s at %d/%d", id, m.Commit, m.Last, lead, lm.Commit, lm.Last)
				return false, nil
			case m.Repair != 0:
				why = fmt.Sprintf("%s still repairing (to %d)", id, m.Repair)
				return false, nil
			}
		}
		last = lm.Commit
		return true, nil
	})
	if err != nil && why != "" {
		err = fmt.Errorf("%w (last seen: %s)", err, why)
	}
	return last, err
}

// Stop stops every node (SIGTERM, then SIGKILL) and the proxy.
func (c *Cluster) Stop() error {
	var errs []error
	for _, id := range c.ids {
		if c.isPaused(id) {
			_ = c.Resume(id)
		}
		c.checkExit(id)
		if p := c.proc(id); p != nil && !p.Exited() {
			c.mu.Lock()
			c.killed[p] = true
			c.mu.Unlock()
			if err := p.Stop(10 * time.Second); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", id, err))
			}
		}
	}
	if c.net != nil {
		errs = append(errs, c.net.Close())
	}
	return errors.Join(errs...)
}

// poll calls cond every 50 ms until it reports true, fails, or ctx ends.
func poll(ctx context.Context, what string, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chaos: waiting for %s: %w", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
