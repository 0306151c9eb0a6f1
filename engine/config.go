package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/segment"
)

// Config configures a Node. cmd/rmqlog fills it from a RocketMQ broker
// properties file (the key in parentheses); a zero field takes the default.
type Config struct {
	Group string            // raft group name (dLegerGroup); peers must agree
	ID    string            // this node's id (dLegerSelfId), e.g. "n0"
	Peers map[string]string // every member's peer address, ID included (dLegerPeers)
	// ClientAddr is this node's client address ("host:port", rmqlogClientPort),
	// sent to every peer in the connection handshake so that the others can
	// tell clients where the leader is. Optional.
	ClientAddr string
	// ClientAddrs are members' client addresses known in advance; they take
	// precedence over the addresses peers advertise. Optional.
	ClientAddrs map[string]string
	// Join (rmqlogJoin): this node joins an existing group as a new
	// member. Until the leader's log names it (rmqlog member add), it is
	// no member: it never votes or campaigns, whatever Peers says. Peers
	// must still name this node (its peer address) and the members to
	// answer. Ignored once the node's log holds a configuration.
	Join   bool
	Dir    string // data directory (storePathRootDir): the raft-state file lives here
	LogDir string // the log's directory (storePathCommitLog); default Dir/commitlog

	FlushMode     flush.Mode    // flushDiskType; default SYNC_FLUSH
	FlushInterval time.Duration // flushIntervalCommitLog (ASYNC_FLUSH); default 500ms
	SegmentSize   int64         // mappedFileSizeCommitLog; default 1 GiB
	IndexEntries  int64         // entries per index file; default 4 Mi

	// Timers. Ticks drive the core; the others are rounded to whole ticks.
	TickInterval      time.Duration // default 10ms
	HeartbeatInterval time.Duration // default 50ms
	ElectionTimeout   time.Duration // a follower campaigns after [T, 2T) without a leader; default 300ms
	RetransmitTimeout time.Duration // resend unacknowledged batches after this; default 500ms

	MaxBatchBytes int // bytes per replication batch; default 1 MiB
	MaxBatchCount int // entries per batch; default 4096
	WindowBatches int // batches in flight per follower; default 16
	WindowBytes   int // bytes in flight per follower; default 8 MiB
	MaxEntrySize  int // largest payload accepted (maxMessageSize); default 4 MiB
	// NoPrewrite turns off the zero-fill of new segment files under
	// SYNC_FLUSH (ASYNC_FLUSH never zero-fills); PrewriteRate paces the
	// background zero-fill in bytes per second (0: as fast as the disk
	// goes). See segment.Options and docs/durability.md.
	NoPrewrite   bool
	PrewriteRate int64
	// CacheKeep is how many bytes of synced log stay in memory behind the
	// synced position; older ones are evicted from the page cache
	// (segment.Options.CacheKeep: 0 the default, 256 MiB; negative never).
	CacheKeep int64
	// MaxPendingBytes bounds the appends waiting for their commit; beyond
	// it Propose returns ErrBusy. Default 64 MiB.
	MaxPendingBytes int

	PreferredLeader string // preferredLeaderId: leadership moves there when it is healthy

	// OnRoleChange receives every role change, in order, on a goroutine of
	// its own (a slow callback delays later reports, never the node; one
	// more than 256 behind skips the oldest). Leader is reported only once
	// the leader's no-op is committed. It must not call Close (Close waits
	// for it to return).
	OnRoleChange func(RoleChange)
	// OnSync, if set, is called after every successful fsync of the log with
	// the number of entries it made durable and its duration (metrics). It
	// runs on the flusher goroutine and must return quickly.
	OnSync func(entries uint64, took time.Duration)
	// Stamp, if set, is called on the leader for every entry proposed
	// through Propose, ProposeAs, Append or AppendBatch, in log order, as
	// the entry is appended to the leader's log and before it is
	// checksummed: typ is the type it was proposed with (TypeNormal, or what
	// ProposeAs gave), index its index, offset the global byte offset of its
	// payload in the log
	// files, which is the same on every member with the same SegmentSize.
	// Stamp may rewrite the payload in place, keeping its length (the
	// proposer hands the payload over); followers store the result byte for
	// byte and never call Stamp. It runs under the node's lock: it must be
	// short and must not call the node. The broker writes RocketMQ's queue
	// and physical offsets here (docs/broker.md).
	Stamp func(typ segment.Type, index, offset uint64, payload []byte)

	Logger   *slog.Logger // default slog.Default()
	FS       segment.FS   // default the OS
	Clock    Clock        // default the real clock
	Listener net.Listener // accept peers here instead of listening on Peers[ID] (tests)
	Seed     uint64       // seeds election timeout randomization; 0 = random
}

// RoleChange is a role transition reported to the embedder. Role is
// PreCandidate while the node asks whether it could win an election (its
// term is not raised yet: Term is the current one), Candidate once it
// campaigns in Term, as Status reports them.
type RoleChange struct {
	Role   Role
	Term   uint64
	Leader string // the leader's id if known ("" during elections)
}

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("engine: bad config")

func (c Config) withDefaults() (Config, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.FlushInterval, 500*time.Millisecond)
	def(&c.TickInterval, 10*time.Millisecond)
	def(&c.HeartbeatInterval, 50*time.Millisecond)
	def(&c.ElectionTimeout, 300*time.Millisecond)
	def(&c.RetransmitTimeout, 500*time.Millisecond)
	defInt(&c.MaxBatchBytes, 1<<20)
	defInt(&c.MaxBatchCount, 4096)
	defInt(&c.WindowBatches, 16)
	defInt(&c.WindowBytes, 8<<20)
	defInt(&c.MaxEntrySize, 4<<20)
	defInt(&c.MaxPendingBytes, 64<<20)
	if c.SegmentSize == 0 {
		c.SegmentSize = 1 << 30
	}
	if c.LogDir == "" && c.Dir != "" {
		c.LogDir = filepath.Join(c.Dir, "commitlog")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.FS == nil {
		c.FS = segment.OSFS{}
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	return c, c.validate()
}

func (c Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.ID == "":
		return bad("no node id (dLegerSelfId)")
	case c.Peers[c.ID] == "" && c.Listener == nil:
		return bad("node id %q is not in the peers (dLegerPeers) %v", c.ID, c.Peers)
	case c.Dir == "":
		return bad("no data directory")
	case c.HeartbeatInterval < c.TickInterval || c.ElectionTimeout < 2*c.HeartbeatInterval:
		return bad("timers: tick %v, heartbeat %v, election timeout %v; need tick <= heartbeat and election timeout >= 2 heartbeats",
			c.TickInterval, c.HeartbeatInterval, c.ElectionTimeout)
	case c.RetransmitTimeout < c.HeartbeatInterval:
		return bad("retransmit timeout %v is below the heartbeat interval %v", c.RetransmitTimeout, c.HeartbeatInterval)
	case c.MaxBatchBytes < 0 || c.MaxBatchCount < 0 || c.WindowBatches < 0 || c.WindowBytes < 0 || c.MaxEntrySize < 0 || c.MaxPendingBytes < 0:
		return bad("negative batch, window or entry size")
	case c.MaxEntrySize+segment.HeaderSize > int(c.SegmentSize):
		return bad("max entry size %d does not fit a %d-byte segment", c.MaxEntrySize, c.SegmentSize)
	case c.PreferredLeader != "" && c.Peers[c.PreferredLeader] == "":
		return bad("preferred leader %q is not a member %v", c.PreferredLeader, c.Peers)
	}
	for id := range c.Peers {
		if id == "" || len(id) > maxVoteLen {
			return bad("node id %q: 1 to %d bytes", id, maxVoteLen)
		}
	}
	return nil
}

func (c Config) ticks(d time.Duration) int { return max(1, int(d/c.TickInterval)) }

// Clock is the node's source of time: only tickers. Tests may drive a node
// with their own.
type Clock interface {
	NewTicker(d time.Duration) Ticker
}

// Ticker is the part of time.Ticker a node uses.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

type realClock struct{}

func (realClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }
