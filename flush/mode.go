package flush

import (
	"fmt"
	"time"
)

// Mode is the flush policy, RocketMQ's flushDiskType. The zero value is
// SyncFlush, the safe one.
type Mode int

const (
	// SyncFlush ("SYNC_FLUSH") makes an entry durable before Wait returns,
	// with group commit.
	SyncFlush Mode = iota
	// AsyncFlush ("ASYNC_FLUSH") syncs every Options.Interval if the log grew.
	AsyncFlush
)

// String returns the RocketMQ spelling, "SYNC_FLUSH" or "ASYNC_FLUSH".
func (m Mode) String() string {
	switch m {
	case SyncFlush:
		return "SYNC_FLUSH"
	case AsyncFlush:
		return "ASYNC_FLUSH"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses a flushDiskType value. It accepts exactly "SYNC_FLUSH" and
// "ASYNC_FLUSH" (case-sensitive, as RocketMQ does); the error names the bad
// value and the allowed ones.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "SYNC_FLUSH":
		return SyncFlush, nil
	case "ASYNC_FLUSH":
		return AsyncFlush, nil
	}
	return 0, fmt.Errorf("flush: unknown flush mode %q: want SYNC_FLUSH or ASYNC_FLUSH", s)
}

// Defaults applied by New to zero Options fields.
const (
	// DefaultInterval is RocketMQ's default flushIntervalCommitLog.
	DefaultInterval = 500 * time.Millisecond
	// DefaultCheckpointInterval is the default minimum time between checkpoints.
	DefaultCheckpointInterval = time.Second
)

// Options configure a Flusher. The zero value is SYNC_FLUSH with the defaults.
type Options struct {
	// Mode is the flush policy.
	Mode Mode
	// Interval is the ASYNC_FLUSH sync period (flushIntervalCommitLog);
	// 0 means DefaultInterval. Unused in SYNC_FLUSH.
	Interval time.Duration
	// CheckpointInterval is the minimum time between two Checkpoint calls;
	// 0 means DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// OnSync, if set, is called by the flusher goroutine after every
	// successful sync with the number of entries it made durable (0 when
	// it covered nothing new) and how long Log.Sync took: metrics. It must
	// return quickly; it delays the next sync.
	OnSync func(entries uint64, took time.Duration)
}

// withDefaults validates opt and fills in zero fields.
func (opt Options) withDefaults() (Options, error) {
	if opt.Mode != SyncFlush && opt.Mode != AsyncFlush {
		return opt, fmt.Errorf("flush: invalid Options.Mode %v: want SyncFlush or AsyncFlush", opt.Mode)
	}
	if opt.Interval < 0 || opt.CheckpointInterval < 0 {
		return opt, fmt.Errorf("flush: negative interval in Options (Interval %v, CheckpointInterval %v)",
			opt.Interval, opt.CheckpointInterval)
	}
	if opt.Interval == 0 {
		opt.Interval = DefaultInterval
	}
	if opt.CheckpointInterval == 0 {
		opt.CheckpointInterval = DefaultCheckpointInterval
	}
	return opt, nil
}
