package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqlog/rmqlog/broker/consumequeue"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// Config configures a Broker. The key in parentheses is the RocketMQ
// broker property it stands for.
type Config struct {
	ClusterName string // brokerClusterName
	BrokerName  string // brokerName
	// BrokerAddr is the address clients reach this broker at
	// ("ip:port", listenPort); it is also the store host written into
	// every message this broker stores as master (message ids).
	BrokerAddr string
	// MemberID is the broker id registered while this node is a slave
	// (its index in the group, > 0); a master registers 0.
	MemberID    int64
	NamesrvAddr string // namesrvAddr, ';'-separated
	// Dir holds the broker's own files: the consume queues and the tables
	// snapshot (storePathRootDir). Required.
	Dir string
	// AutoCreateTopic creates a topic with DefaultQueueNums queues on its
	// first send (autoCreateTopicEnable). Default false: see doc.go.
	AutoCreateTopic  bool
	DefaultQueueNums int           // defaultTopicQueueNums; default 4
	RegisterInterval time.Duration // registerNameServerPeriod; default 30 s
	// SyncInterval is how often the applier makes the consume queues and
	// tables durable while entries keep coming; default 200 ms.
	SyncInterval time.Duration
	// ClientExpiry forgets a consumer client not heard from for this long
	// (RocketMQ's channelExpiredTimeout); default 120 s.
	ClientExpiry time.Duration
	// MaxBody is the largest message body accepted (maxMessageSize);
	// default commitlog.DefaultMaxBody.
	MaxBody int
	// DedupWindow and DedupMaxKeys bound the master's UNIQ_KEY index
	// (docs/broker.md, "Duplicate suppression"): a send whose UNIQ_KEY was
	// appended within the last DedupWindow, and among the last
	// DedupMaxKeys keys, answers the first append's result. Defaults
	// DefaultDedupWindow (60 s) and DefaultDedupMaxKeys (100000, about
	// 32 MB); a negative DedupWindow turns suppression off.
	DedupWindow  time.Duration
	DedupMaxKeys int
	// DelayLevels is the delay of each level, level 1 first
	// (messageDelayLevel; ParseDelayLevels reads RocketMQ's form).
	// Default DefaultDelayLevels, RocketMQ's 18 levels from 1 s to 2 h.
	DelayLevels []time.Duration
	// LockExpiry frees a queue lock not renewed for this long
	// (REBALANCE_LOCK_MAX_LIVE_TIME); default DefaultLockExpiry, 60 s.
	LockExpiry time.Duration
	// SlaveReadEnable lets a pull answer suggest a slave (broker id
	// SlowConsumerBrokerID) when the consumer is more than SlaveReadLag
	// bytes behind the log's end (slaveReadEnable, default false as
	// RocketMQ; whichBrokerWhenConsumeSlowly, default 1; SlaveReadLag
	// default 40% of physical memory, accessMessageInMemoryMaxRatio).
	SlaveReadEnable      bool
	SlowConsumerBrokerID int64
	SlaveReadLag         int64
	// Engine is the node's config for Open (ignored by New/Start).
	Engine engine.Config
	Logger *slog.Logger
}

func (c *Config) fill() error {
	if c.Dir == "" || c.BrokerName == "" {
		return fmt.Errorf("broker: config needs Dir and BrokerName")
	}
	if _, err := netip.ParseAddrPort(c.BrokerAddr); err != nil {
		return fmt.Errorf("broker: BrokerAddr %q must be ip:port: %w", c.BrokerAddr, err)
	}
	if c.ClusterName == "" {
		c.ClusterName = "DefaultCluster"
	}
	if c.DefaultQueueNums == 0 {
		c.DefaultQueueNums = 4
	}
	if c.RegisterInterval == 0 {
		c.RegisterInterval = 30 * time.Second
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = 200 * time.Millisecond
	}
	if c.ClientExpiry == 0 {
		c.ClientExpiry = 120 * time.Second
	}
	if c.MaxBody == 0 {
		c.MaxBody = 4 << 20
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	if c.DedupMaxKeys <= 0 {
		c.DedupMaxKeys = DefaultDedupMaxKeys
	}
	if c.SlowConsumerBrokerID == 0 {
		c.SlowConsumerBrokerID = 1
	}
	if c.SlaveReadLag == 0 {
		c.SlaveReadLag = physicalMemory() * 40 / 100
	}
	if c.LockExpiry == 0 {
		c.LockExpiry = DefaultLockExpiry
	}
	if len(c.DelayLevels) == 0 {
		c.DelayLevels, _ = ParseDelayLevels(DefaultDelayLevels)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Broker is one member of a RocketMQ broker group over one engine node.
// Its goroutines: the applier, the role loop (takeover and registration),
// the registration ticker and the remoting server's; Close stops them all.
type Broker struct {
	cfg       Config
	storeHost netip.AddrPort
	cq        *consumequeue.Store
	cqInfo    consumequeue.Info
	snap      snapshot
	snapOK    bool
	tables    *tables
	clients   *clients
	locks     *locks
	node      *engine.Node
	ownNode   bool
	segSize   int64             // the node's SegmentSize (Hooks)
	memberID  string            // the node's engine id (Hooks)
	peers     map[string]string // the group's members (Hooks)

	// stampMu guards the stamp's state: ready, next and epoch. The stamp
	// runs under the node's lock; nothing here calls the node with it held.
	stampMu sync.Mutex
	ready   bool               // master with next computed: sends accepted
	next    map[queueKey]int64 // the next queue offset per queue (master)
	epoch   uint64             // role changes seen
	role    engine.RoleChange  // the last one

	roleCh chan struct{}
	hint   locHint
	phys   physIndex // the applier's last entries by payload offset
	// uniq is the master's UNIQ_KEY index: set by the takeover before the
	// broker is ready, nil from the next role change on.
	uniq     atomic.Pointer[dedup]
	pullOffs pullOffsets
	maxPhys  atomic.Int64 // the byte after the last applied entry
	// creating holds the retry topics being created from heartbeats.
	creating sync.Map

	applied  atomic.Uint64
	stopped  atomic.Pointer[error] // the applier's fatal error
	waiters  appliedWaiters        // waitFor's, by index
	arrivals arrivals              // held pulls, by queue

	server *rpc.Server
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// ErrStopped is the applier's stop: the consume queues contradict the log,
// or a storage error. Status().Err carries the cause.
var ErrStopped = errors.New("broker: applier stopped")

// New opens the broker's own files (consume queues, tables snapshot) in
// cfg.Dir. Install its hooks in the engine config with Hooks, open the
// node, then Start.
func New(cfg Config) (*Broker, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	b := &Broker{cfg: cfg, tables: newTables(), clients: newClients(), locks: newLocks(), roleCh: make(chan struct{}, 1)}
	b.storeHost = netip.MustParseAddrPort(cfg.BrokerAddr)
	if raw, err := os.ReadFile(b.snapPath()); err == nil {
		s, err := decodeSnapshot(raw)
		if err != nil {
			cfg.Logger.Warn("broker: tables snapshot unreadable; rebuilding from the log", "file", b.snapPath(), "err", err)
		} else {
			b.snap, b.snapOK = s, true
		}
	}
	cq, info, err := consumequeue.Open(cfg.Dir, consumequeue.Options{})
	if err != nil {
		return nil, err
	}
	if !info.Reset && !b.snapMatches(info.Index) {
		cq.Close()
		cfg.Logger.Warn("broker: consume queue checkpoint matches no tables snapshot; rebuilding them from the log", "index", info.Index)
		if cq, info, err = consumequeue.Open(cfg.Dir, consumequeue.Options{Rebuild: true}); err != nil {
			return nil, err
		}
	}
	b.cq, b.cqInfo = cq, info
	if b.snapOK {
		b.tables.restore(&b.snap)
	}
	return b, nil
}

func (b *Broker) snapPath() string { return filepath.Join(b.cfg.Dir, "broker.tables") }

// snapMatches reports whether the snapshot knows the next physical offset
// after index (its own index or its previous one).
func (b *Broker) snapMatches(index uint64) bool {
	return b.snapOK && (b.snap.Index == index || b.snap.PrevIndex == index)
}

// truncatePoint is the physical offset of the first message after the
// consume queues' checkpoint.
func (b *Broker) truncatePoint() int64 {
	switch {
	case b.cqInfo.Reset:
		return 0
	case b.snap.Index == b.cqInfo.Index:
		return b.snap.NextPhys
	default:
		return b.snap.PrevPhys
	}
}

// Hooks installs the broker's Stamp and OnRoleChange in cfg, keeping an
// OnRoleChange already set (called first).
func (b *Broker) Hooks(cfg *engine.Config) {
	cfg.Stamp = b.stamp
	b.segSize, b.memberID, b.peers = cfg.SegmentSize, cfg.ID, cfg.Peers
	if b.segSize == 0 {
		b.segSize = 1 << 30 // engine.Config's default
	}
	prev := cfg.OnRoleChange
	cfg.OnRoleChange = func(rc engine.RoleChange) {
		if prev != nil {
			prev(rc)
		}
		b.roleChanged(rc)
	}
}

// Start attaches the broker to node (opened with Hooks installed),
// recovers the consume queues, starts the applier and the registration,
// and serves RocketMQ's remoting protocol on l (nil: serve nothing; Mux
// gives the handlers to a server of the caller's).
func (b *Broker) Start(node *engine.Node, l net.Listener) error {
	if err := b.cq.TruncateFrom(b.truncatePoint()); err != nil {
		return err
	}
	b.node = node
	b.ctx, b.cancel = context.WithCancel(context.Background())
	from := b.cqInfo.Index + 1
	b.applied.Store(b.cqInfo.Index)
	b.wg.Add(3)
	go b.applyLoop(from)
	go b.roleLoop()
	go b.pullOffsetLoop()
	if l != nil {
		b.server = rpc.NewServer(b.Mux().Handle, rpc.ServerOptions{Logger: b.cfg.Logger, OnClose: b.ConnClosed,
			Bodyless: func(code int32) bool { return code == int32(remoting.PullMessage) }})
		b.wg.Add(1)
		go func() { defer b.wg.Done(); _ = b.server.Serve(l) }()
	}
	return nil
}

// Open opens a broker with a node of its own (cfg.Engine, the hooks
// installed) and serves on l.
func Open(cfg Config, l net.Listener) (*Broker, error) {
	b, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ecfg := cfg.Engine
	b.Hooks(&ecfg)
	node, err := engine.Open(ecfg)
	if err != nil {
		b.cq.Close()
		return nil, err
	}
	b.ownNode = true
	if err := b.Start(node, l); err != nil {
		node.Close()
		b.cq.Close()
		return nil, err
	}
	return b, nil
}

// ConnClosed forgets the consumer clients heard on a connection that
// ended; a caller serving Mux on a server of its own passes it as
// rpc.ServerOptions.OnClose.
func (b *Broker) ConnClosed(peer net.Addr) { b.clients.closed(peer.String()) }

// Node returns the engine node the broker runs on.
func (b *Broker) Node() *engine.Node { return b.node }

// Close stops serving, the applier and registration, makes what was
// applied durable, and closes the node if Open opened it.
func (b *Broker) Close() error {
	if b.server != nil {
		b.server.Close()
	}
	if b.cancel != nil {
		b.cancel()
	}
	b.wg.Wait()
	var err error
	if b.ownNode && b.node != nil {
		err = b.node.Close()
	}
	return errors.Join(err, b.cq.Close())
}

// Status is a snapshot of the broker.
type Status struct {
	Applied uint64 // the last entry applied to the consume queues and tables
	Ready   bool   // master taking sends
	Err     error  // why the applier stopped (a contradiction), nil while it runs
}

// Status returns the broker's state.
func (b *Broker) Status() Status {
	b.stampMu.Lock()
	ready := b.ready
	b.stampMu.Unlock()
	s := Status{Applied: b.applied.Load(), Ready: ready}
	if e := b.stopped.Load(); e != nil {
		s.Err = *e
	}
	return s
}

// waitFor blocks until the applier reached index i, ctx ends or it stops.
func (b *Broker) waitFor(ctx context.Context, i uint64) error {
	for b.applied.Load() < i {
		ch := b.waiters.add(i)
		if b.applied.Load() >= i {
			return nil
		}
		if e := b.stopped.Load(); e != nil {
			return *e
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
