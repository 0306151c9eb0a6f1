package config

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/flush"
)

// key is one row of the key table: a file key, its default and how to read
// it into a Config and show it back.
type key struct {
	name string
	// def is the default as a file would write it. "" means no default
	// here: the key is required (missing is set), optional with an empty
	// default, or defaulted from other keys by resolve.
	def string
	// missing, for a required key, is the hint of the error for its absence.
	missing string
	// set parses a trimmed value into s.c; its error states what is allowed.
	set func(s *state, v string) error
	// get shows the effective value of c as a file would write it.
	get func(c *Config) string
}

// span is the allowed range of a whole-number key.
type span struct {
	lo, hi int64
	step   int64  // values must be multiples of step; 0 or 1 = any
	unit   string // shown in the message: "bytes", "milliseconds", ...
}

// Ranges shared by several keys. Segment and index limits mirror package
// segment's (a segment is a multiple of 4 KiB up to 4 GiB; an index file a
// multiple of 512 entries).
var (
	ports    = span{lo: 1, hi: 65535}
	millis   = span{lo: 1, hi: 60000, unit: "milliseconds"}
	sizes    = span{lo: 1, hi: 1 << 30, unit: "bytes"}
	counts   = span{lo: 1, hi: 1 << 20}
	inflight = span{lo: 1, hi: 65536}
	segments = span{lo: 4096, hi: 4 << 30, step: 4096, unit: "bytes"}
	indexes  = span{lo: 512, hi: 1 << 30, step: 512, unit: "entries"}
	hours    = span{lo: 0, hi: 876000, unit: "hours (0 = keep forever)"}
)

// entryHeader is the bytes a segment adds to every message
// (segment.HeaderSize): maxMessageSize+entryHeader must fit in a segment.
const entryHeader = 32

// rocketmqKeys are the keys rmqlog reads, RocketMQ's spelling and meaning.
var rocketmqKeys = []key{
	text("brokerName", "", nil, func(c *Config) *string { return &c.BrokerName }),
	text("brokerClusterName", "DefaultCluster", checkOptionalName, func(c *Config) *string { return &c.ClusterName }),
	namesrvKey(),
	boolean("autoCreateTopicEnable", false, func(c *Config) *bool { return &c.AutoCreateTopic }),
	required(text("dLegerGroup", "", checkName, func(c *Config) *string { return &c.Group }),
		"set it to the raft group's name, the same on every member (e.g. RaftNode00)"),
	required(peersKey(), "set it to every member as id-host:port, separated by ';' "+
		"(e.g. n0-127.0.0.1:40911;n1-127.0.0.1:40912;n2-127.0.0.1:40913)"),
	required(text("dLegerSelfId", "", checkID, func(c *Config) *string { return &c.SelfID }),
		"set it to this node's id in dLegerPeers (e.g. n0)"),
	dledgerKey(),
	listenPortKey(),
	brokerIPKey(),
	text("storePathRootDir", "", checkPath, func(c *Config) *string { return &c.RootDir }),
	text("storePathCommitLog", "", checkPath, func(c *Config) *string { return &c.LogDir }),
	flushKey(),
	number("flushIntervalCommitLog", 500, millis, time.Millisecond, func(c *Config) *time.Duration { return &c.FlushInterval }),
	number("mappedFileSizeCommitLog", 1<<30, segments, 1, func(c *Config) *int64 { return &c.SegmentSize }),
	number("fileReservedTime", 72, hours, time.Hour, func(c *Config) *time.Duration { return &c.FileReserved }),
	text("preferredLeaderId", "", checkOptionalID, func(c *Config) *string { return &c.PreferredLeader }),
	boolean("enableBatchPush", true, func(c *Config) *bool { return &c.BatchPush }),
	number("maxMessageSize", 4<<20, sizes, 1, func(c *Config) *int { return &c.MaxMessageSize }),
	number("sendMessageThreadPoolNums", 16, span{lo: 1, hi: 1024}, 1, func(c *Config) *int { return &c.SendThreads }),
	delayLevelKey(),
	boolean("slaveReadEnable", false, func(c *Config) *bool { return &c.SlaveReadEnable }),
	number("whichBrokerWhenConsumeSlowly", 1, span{lo: 1, hi: 64}, 1, func(c *Config) *int64 { return &c.SlowConsumerBrokerID }),
	number("accessMessageInMemoryMaxRatio", 40, span{lo: 1, hi: 100, unit: "percent of physical memory"}, 1,
		func(c *Config) *int { return &c.InMemoryMaxRatio }),
}

// ownKeys are rmqlog's own keys, unknown to RocketMQ.
var ownKeys = []key{
	clientPortKey(),
	boolean("rmqlogBrokerEnable", true, func(c *Config) *bool { return &c.BrokerEnable }),
	boolean("rmqlogJoin", false, func(c *Config) *bool { return &c.Join }),
	number("rmqlogDedupWindowMs", 60000, span{lo: 0, hi: 3600000, unit: "milliseconds (0 = no duplicate suppression)"},
		time.Millisecond, func(c *Config) *time.Duration { return &c.DedupWindow }),
	number("rmqlogDedupMaxKeys", 100000, span{lo: 1, hi: 10000000, unit: "keys"}, 1, func(c *Config) *int { return &c.DedupMaxKeys }),
	number("rmqlogQueueLockExpiryMs", 60000, span{lo: 1000, hi: 3600000, unit: "milliseconds"},
		time.Millisecond, func(c *Config) *time.Duration { return &c.LockExpiry }),
	number("raftTickIntervalMs", 10, millis, time.Millisecond, func(c *Config) *time.Duration { return &c.TickInterval }),
	number("raftHeartbeatIntervalMs", 50, millis, time.Millisecond, func(c *Config) *time.Duration { return &c.HeartbeatInterval }),
	number("raftElectionTimeoutMs", 300, millis, time.Millisecond, func(c *Config) *time.Duration { return &c.ElectionTimeout }),
	number("raftRetransmitTimeoutMs", 500, millis, time.Millisecond, func(c *Config) *time.Duration { return &c.RetransmitTimeout }),
	number("raftMaxBatchBytes", 1<<20, sizes, 1, func(c *Config) *int { return &c.MaxBatchBytes }),
	number("raftMaxBatchCount", 4096, counts, 1, func(c *Config) *int { return &c.MaxBatchCount }),
	number("raftWindowBatches", 16, span{lo: 1, hi: 4096}, 1, func(c *Config) *int { return &c.WindowBatches }),
	number("raftWindowBytes", 8<<20, sizes, 1, func(c *Config) *int { return &c.WindowBytes }),
	number("raftMaxPendingBytes", 64<<20, sizes, 1, func(c *Config) *int { return &c.MaxPendingBytes }),
	number("raftIndexEntries", 4<<20, indexes, 1, func(c *Config) *int64 { return &c.IndexEntries }),
	boolean("storePrewrite", false, func(c *Config) *bool { return &c.Prewrite }),
	number("storePrewriteMiBps", 0, span{lo: 0, hi: 1 << 20, unit: "MiB per second (0 = as fast as the disk goes)"}, 1,
		func(c *Config) *int { return &c.PrewriteMiBps }),
	number("storeCacheKeepMiB", 256, span{lo: 0, hi: 1 << 20, unit: "MiB (0 = never evict)"}, 1,
		func(c *Config) *int { return &c.CacheKeepMiB }),
	text("metricsAddr", "", checkMetricsAddr, func(c *Config) *string { return &c.MetricsAddr }),
	boolean("metricsPprof", false, func(c *Config) *bool { return &c.MetricsPprof }),
	number("clientMaxConnections", 1024, counts, 1, func(c *Config) *int { return &c.MaxConnections }),
	number("clientMaxInflight", 1024, inflight, 1, func(c *Config) *int { return &c.MaxInflight }),
	logLevelKey(),
	choice("logFormat", "text", []string{"text", "json"}, func(c *Config) *string { return &c.LogFormat }),
	boolean("tlsPeerEnable", false, func(c *Config) *bool { return &c.TLSPeerEnable }),
	boolean("tlsClientEnable", false, func(c *Config) *bool { return &c.TLSClientEnable }),
	text("tlsCaFile", "", nil, func(c *Config) *string { return &c.TLSCAFile }),
	text("tlsCertFile", "", nil, func(c *Config) *string { return &c.TLSCertFile }),
	text("tlsKeyFile", "", nil, func(c *Config) *string { return &c.TLSKeyFile }),
	text("tlsClientCaFile", "", nil, func(c *Config) *string { return &c.TLSClientCAFile }),
}

// table is every key rmqlog reads, in the order Describe lists them.
var table = append(append([]key{}, rocketmqKeys...), ownKeys...)

// lookup finds a key's row.
func lookup(name string) (key, bool) {
	for _, k := range table {
		if k.name == name {
			return k, true
		}
	}
	return key{}, false
}

func required(k key, hint string) key {
	k.missing = hint
	return k
}

// text is a string key; check (optional) validates a value from the file.
func text(name, def string, check func(string) error, f func(*Config) *string) key {
	return key{name: name, def: def,
		set: func(s *state, v string) error {
			if check != nil {
				if err := check(v); err != nil {
					return err
				}
			}
			*f(s.c) = v
			return nil
		},
		get: func(c *Config) string { return *f(c) }}
}

// choice is a key with a fixed set of values, matched case-insensitively
// and stored in the spelling of choices.
func choice(name, def string, choices []string, f func(*Config) *string) key {
	return key{name: name, def: def,
		set: func(s *state, v string) error {
			for _, ch := range choices {
				if strings.EqualFold(v, ch) {
					*f(s.c) = ch
					return nil
				}
			}
			return fmt.Errorf("allowed %s", orList(choices))
		},
		get: func(c *Config) string { return *f(c) }}
}

func boolean(name string, def bool, f func(*Config) *bool) key {
	return key{name: name, def: strconv.FormatBool(def),
		set: func(s *state, v string) (err error) {
			*f(s.c), err = parseBool(v)
			return err
		},
		get: func(c *Config) string { return strconv.FormatBool(*f(c)) }}
}

// number is a whole-number key; the field holds the number times unit
// (time.Millisecond for a key in milliseconds, 1 for a plain number).
func number[T ~int | ~int64](name string, def int64, r span, unit T, f func(*Config) *T) key {
	return key{name: name, def: strconv.FormatInt(def, 10),
		set: func(s *state, v string) error {
			n, err := parseNumber(v, r)
			*f(s.c) = T(n) * unit
			return err
		},
		get: func(c *Config) string { return strconv.FormatInt(int64(*f(c)/unit), 10) }}
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("allowed true or false")
}

// parseNumber parses a decimal whole number within r.
func parseNumber(v string, r span) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < r.lo || n > r.hi || (r.step > 1 && n%r.step != 0) {
		return 0, fmt.Errorf("allowed %s", r)
	}
	return n, nil
}

// String describes the range, e.g. "a whole number from 1 to 65535".
func (r span) String() string {
	s := fmt.Sprintf("a whole number from %d to %d", r.lo, r.hi)
	if r.step > 1 {
		s = fmt.Sprintf("a multiple of %d from %d to %d", r.step, r.lo, r.hi)
	}
	if r.unit != "" {
		s += " " + r.unit
	}
	return s
}

func peersKey() key {
	return key{name: "dLegerPeers",
		set: func(s *state, v string) (err error) {
			s.c.Peers, s.c.PeerOrder, err = parsePeers(v)
			return err
		},
		get: formatPeers}
}

func dledgerKey() key {
	return key{name: "enableDLegerCommitLog", def: "true",
		set: func(_ *state, v string) error {
			on, err := parseBool(v)
			if err == nil && !on {
				err = fmt.Errorf("rmqlog always runs the DLedger commit log: set it to true or remove the line")
			}
			return err
		},
		get: func(*Config) string { return "true" }}
}

// listenPortKey, clientPortKey and brokerIPKey fill parse state; resolve
// joins them into RemotingAddr and ClientAddr, which is what get splits
// again.
func listenPortKey() key {
	return key{name: "listenPort", def: "10911",
		set: func(s *state, v string) error {
			n, err := parseNumber(v, ports)
			s.listenPort = int(n)
			return err
		},
		get: func(c *Config) string { return splitPort(c.RemotingAddr) }}
}

// ClientPortOffset is rmqlogClientPort's default distance from listenPort:
// +2 is none of the ports a RocketMQ broker derives from listenPort
// (fastListenPort = listenPort-2, haListenPort = listenPort+1), and stays
// inside the 10-port block RocketMQ's multi-broker examples give each broker
// (10911, 10921, ...; this repository's conf/ uses 30911, 30921, 30931 and
// metrics on 30915-30917). docs/config.md has the reason.
const ClientPortOffset = 2

// clientPortKey is rmqlog's own client protocol port; no default here,
// resolve sets listenPort+ClientPortOffset.
func clientPortKey() key {
	return key{name: "rmqlogClientPort",
		set: func(s *state, v string) error {
			n, err := parseNumber(v, ports)
			s.clientPort = int(n)
			return err
		},
		get: func(c *Config) string { return splitPort(c.ClientAddr) }}
}

func brokerIPKey() key {
	return key{name: "brokerIP1",
		set: func(s *state, v string) error {
			s.brokerIP = v
			return checkHost(v)
		},
		get: func(c *Config) string { return splitHost(c.ClientAddr) }}
}

// namesrvKey reads RocketMQ's ';'-separated name server list: every item
// host:port (spaces and empty items ignored), stored joined by ';'.
func namesrvKey() key {
	return key{name: "namesrvAddr",
		set: func(s *state, v string) error {
			var addrs []string
			for _, a := range strings.Split(v, ";") {
				if a = strings.TrimSpace(a); a == "" {
					continue
				}
				if err := checkAddr(a, false); err != nil {
					return fmt.Errorf("%q: allowed host:port items separated by ';' (e.g. 127.0.0.1:9876;10.0.0.2:9876)", a)
				}
				addrs = append(addrs, a)
			}
			s.c.NamesrvAddr = strings.Join(addrs, ";")
			return nil
		},
		get: func(c *Config) string { return c.NamesrvAddr }}
}

func flushKey() key {
	return key{name: "flushDiskType", def: flush.SyncFlush.String(),
		set: func(s *state, v string) (err error) {
			if s.c.FlushMode, err = flush.ParseMode(v); err != nil {
				return fmt.Errorf("allowed %s or %s", flush.SyncFlush, flush.AsyncFlush)
			}
			return nil
		},
		get: func(c *Config) string { return c.FlushMode.String() }}
}

var logLevels = []string{"debug", "info", "warn", "error"}

func logLevelKey() key {
	return key{name: "logLevel", def: "info",
		set: func(s *state, v string) error {
			for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
				if strings.EqualFold(v, l.String()) {
					s.c.LogLevel = l
					return nil
				}
			}
			return fmt.Errorf("allowed %s", orList(logLevels))
		},
		get: func(c *Config) string { return strings.ToLower(c.LogLevel.String()) }}
}

// orList writes "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// DefaultDelayLevels is RocketMQ's messageDelayLevel (broker.DefaultDelayLevels).
const DefaultDelayLevels = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

// delayLevelKey reads messageDelayLevel: durations separated by spaces,
// units s, m, h, d (RocketMQ's) or any Go duration ("100ms"), each
// positive, at most maxDelayLevels of them. The grammar is
// broker.ParseDelayLevels' (cmd/rmqlog's test checks that they agree).
func delayLevelKey() key {
	return key{name: "messageDelayLevel", def: DefaultDelayLevels,
		set: func(s *state, v string) (err error) {
			s.c.DelayLevels, err = parseDelayLevels(v)
			return err
		},
		get: func(c *Config) string { return formatDelayLevels(c.DelayLevels) }}
}

// maxDelayLevels bounds messageDelayLevel: the schedule topic has a queue
// per level, and a client's delayTimeLevel above the last is clamped to it.
const maxDelayLevels = 64

func parseDelayLevels(v string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Fields(v) {
		d, err := time.ParseDuration(f)
		if n, nerr := strconv.Atoi(strings.TrimSuffix(f, "d")); strings.HasSuffix(f, "d") && nerr == nil {
			d, err = time.Duration(n)*24*time.Hour, nil
		}
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("level %q is not a positive duration: allowed durations separated by spaces, e.g. %q", f, "1s 5s 10m 2h 1d")
		}
		out = append(out, d)
	}
	switch {
	case len(out) == 0:
		return nil, fmt.Errorf("no levels: allowed durations separated by spaces, e.g. %q, or remove the line for RocketMQ's 18 levels", "1s 5s 10m 2h")
	case len(out) > maxDelayLevels:
		return nil, fmt.Errorf("%d levels: allowed at most %d", len(out), maxDelayLevels)
	}
	return out, nil
}

// formatDelayLevels writes levels as RocketMQ does: 1s, 10m, 2h, 1d.
func formatDelayLevels(levels []time.Duration) string {
	out := make([]string, len(levels))
	for i, d := range levels {
		switch {
		case d%(24*time.Hour) == 0:
			out[i] = fmt.Sprintf("%dd", d/(24*time.Hour))
		case d%time.Hour == 0:
			out[i] = fmt.Sprintf("%dh", d/time.Hour)
		case d%time.Minute == 0:
			out[i] = fmt.Sprintf("%dm", d/time.Minute)
		default:
			out[i] = d.String()
		}
	}
	return strings.Join(out, " ")
}
