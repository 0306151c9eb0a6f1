package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/magiconair/properties"

	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/pki"
)

// Config is a node's configuration, every field defaulted and validated.
// The comment of each field names its key; docs/config.md has the table.
type Config struct {
	File       string // the file it was loaded from ("" for Parse with no name)
	BrokerName string // brokerName: the broker group's name clients see; default dLegerGroup
	// ClusterName is brokerClusterName; default "DefaultCluster" (RocketMQ's).
	ClusterName string
	// NamesrvAddr is namesrvAddr: the name servers ("host:port;host:port"),
	// normalized to ';' between items; "" = the broker registers nowhere.
	NamesrvAddr string
	// AutoCreateTopic is autoCreateTopicEnable; default false (docs/broker.md).
	AutoCreateTopic bool
	// BrokerEnable is rmqlogBrokerEnable: run the RocketMQ broker on
	// listenPort; default true. false serves rmqlog's client protocol only
	// (the native benchmarks and fault campaigns, whose raw entries the
	// broker would otherwise inspect and log one by one).
	BrokerEnable bool
	// DelayLevels is messageDelayLevel: the delay of each level, level 1
	// first; default RocketMQ's 18 levels from 1s to 2h (DefaultDelayLevels).
	DelayLevels []time.Duration
	// SlaveReadEnable is slaveReadEnable: a pull answer suggests a slave
	// (SlowConsumerBrokerID) to a consumer far behind; default false.
	SlaveReadEnable bool
	// SlowConsumerBrokerID is whichBrokerWhenConsumeSlowly: the broker id
	// suggested; default 1; 1 to the number of members.
	SlowConsumerBrokerID int64
	// InMemoryMaxRatio is accessMessageInMemoryMaxRatio: how far behind
	// (percent of physical memory, in bytes of log) a consumer is "slow";
	// default 40.
	InMemoryMaxRatio int
	// DedupWindow is rmqlogDedupWindowMs: how long the master remembers a
	// message's UNIQ_KEY to suppress a resend; default 60s; 0 = off.
	DedupWindow time.Duration
	// DedupMaxKeys is rmqlogDedupMaxKeys: the most UNIQ_KEYs remembered
	// (about 320 bytes each); default 100000.
	DedupMaxKeys int
	// LockExpiry is rmqlogQueueLockExpiryMs: a queue lock (orderly
	// consumption) not renewed for this long is freed; default 60s.
	LockExpiry time.Duration
	Group      string            // dLegerGroup (required)
	SelfID     string            // dLegerSelfId (required, a member of Peers)
	Peers      map[string]string // dLegerPeers: id -> host:port (replication port), self included (required)
	PeerOrder  []string          // ids in the order written in dLegerPeers
	// RemotingAddr is brokerIP1 + ":" + listenPort: where the broker serves
	// RocketMQ's remoting protocol and what it registers with the name servers.
	RemotingAddr string
	// ClientAddr is brokerIP1 + ":" + rmqlogClientPort: where rmqlog's own
	// client protocol (client/, rmqlog status/append/...) binds and what the
	// node advertises to redirected clients.
	ClientAddr string
	RootDir    string // storePathRootDir; default $HOME/store (as RocketMQ); absolute
	LogDir     string // storePathCommitLog; default RootDir/commitlog; absolute

	FlushMode      flush.Mode    // flushDiskType; default flush.SyncFlush
	FlushInterval  time.Duration // flushIntervalCommitLog (ms); default 500ms
	SegmentSize    int64         // mappedFileSizeCommitLog (bytes); default 1 GiB
	FileReserved   time.Duration // fileReservedTime (hours); default 72h; 0 = keep forever
	BatchPush      bool          // enableBatchPush; default true
	MaxMessageSize int           // maxMessageSize (bytes); default 4 MiB; MaxMessageSize+32 <= SegmentSize

	// PreferredLeader is preferredLeaderId: optional, a member of Peers.
	PreferredLeader string
	// Join is rmqlogJoin: this node joins a running group as a new member
	// (rmqlog member add); until the leader's log names it, it neither
	// votes nor campaigns. dLegerPeers must name this node and the members
	// to reach. Ignored once the node's log holds a configuration; default
	// false.
	Join bool
	// SendThreads is sendMessageThreadPoolNums (default 16). It is accepted
	// and validated (>= 1) for RocketMQ compatibility but has no effect:
	// appends are batched by the log's single append loop, and there is no
	// thread pool to size.
	SendThreads int

	// rmqlog's own keys.
	TickInterval      time.Duration // raftTickIntervalMs; default 10ms
	HeartbeatInterval time.Duration // raftHeartbeatIntervalMs; default 50ms
	ElectionTimeout   time.Duration // raftElectionTimeoutMs; default 300ms
	RetransmitTimeout time.Duration // raftRetransmitTimeoutMs; default 500ms
	MaxBatchBytes     int           // raftMaxBatchBytes; default 1 MiB
	MaxBatchCount     int           // raftMaxBatchCount; default 4096, 1 when enableBatchPush=false
	WindowBatches     int           // raftWindowBatches; default 16
	WindowBytes       int           // raftWindowBytes; default 8 MiB
	MaxPendingBytes   int           // raftMaxPendingBytes; default 64 MiB
	IndexEntries      int64         // raftIndexEntries; default 4 Mi
	Prewrite          bool          // storePrewrite: zero-fill new segment files under SYNC_FLUSH; default false (results/performance.md)
	PrewriteMiBps     int           // storePrewriteMiBps: the background zero-fill's pace; default 0 = unbounded
	CacheKeepMiB      int           // storeCacheKeepMiB: synced log kept in memory behind the tail; default 256, 0 = never evict
	MetricsAddr       string        // metricsAddr: host:port of the Prometheus /metrics endpoint; "" = off
	MetricsPprof      bool          // metricsPprof: Go's profiler at /debug/pprof/ on the metrics endpoint
	MaxConnections    int           // clientMaxConnections; default 1024
	MaxInflight       int           // clientMaxInflight: requests in flight per client connection; default 1024
	LogLevel          slog.Level    // logLevel: debug, info, warn or error; default info
	LogFormat         string        // logFormat: text or json; default text

	// Security (docs/security.md). The file paths are absolute.
	TLSPeerEnable   bool   // tlsPeerEnable: mutual TLS on the peer links; default false
	TLSClientEnable bool   // tlsClientEnable: TLS with client certificates on the client port; default false
	TLSCAFile       string // tlsCaFile: the CA(s) the members' certificates chain to
	TLSCertFile     string // tlsCertFile: this node's certificate (identity rmqlog-node:<dLegerSelfId>)
	TLSKeyFile      string // tlsKeyFile: its private key
	TLSClientCAFile string // tlsClientCaFile: the CA(s) client certificates chain to; default tlsCaFile
	// PeerTLS is loaded from tlsCaFile, tlsCertFile and tlsKeyFile when
	// tlsPeerEnable is true; nil otherwise.
	PeerTLS *pki.Creds
	// ClientTLS is this node's certificate and tlsClientCaFile's CAs when
	// tlsClientEnable is true; nil otherwise.
	ClientTLS *pki.Creds

	lines map[string]int // key -> line of its effective definition, for Describe
}

// Warning is a non-fatal finding, e.g. an unknown key.
type Warning struct {
	File string
	Line int // 0 when no single line is at fault
	Key  string
	Msg  string
}

// String formats the warning as "file:line: key: msg".
func (w Warning) String() string {
	return fmt.Sprintf("%s: %s: %s", where(w.File, w.Line), w.Key, w.Msg)
}

// Error is a bad value or a missing required key.
type Error struct {
	File  string
	Line  int    // the line of the key's effective definition; 0 when the key is missing or at its default
	Key   string // "" for a line the properties parser rejected
	Value string // the value at fault ("" when the key is missing)
	Msg   string // what is allowed, or what to do
}

// ErrConfig matches every *Error with errors.Is.
var ErrConfig = errors.New("config: bad configuration")

// Error formats e as `file:line: key = "value": msg`, or `file: key is
// missing: msg` for a missing key.
func (e *Error) Error() string {
	at := where(e.File, e.Line)
	switch {
	case e.Key == "":
		return fmt.Sprintf("%s: %s", at, e.Msg)
	case e.Line == 0 && e.Value == "":
		return fmt.Sprintf("%s: %s is missing: %s", at, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s = %q: %s", at, e.Key, e.Value, e.Msg)
}

// Is reports whether target is ErrConfig.
func (e *Error) Is(target error) bool { return target == ErrConfig }

// where formats a position: "file:line", "file", "line N" or "config".
func where(file string, line int) string {
	switch {
	case file != "" && line > 0:
		return file + ":" + strconv.Itoa(line)
	case file != "":
		return file
	case line > 0:
		return "line " + strconv.Itoa(line)
	}
	return "config"
}

// Load reads and parses the properties file at path (see Parse). An error
// reading the file is returned as the os error, which names the path.
func Load(path string) (*Config, []Warning, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses a RocketMQ broker properties file named name (used in
// messages only) into a validated Config. Values are taken literally (no
// ${...} expansion) and trimmed; relative store paths are made absolute
// against the process's working directory. A bad value or a missing
// required key is an *Error (errors.Is(err, ErrConfig)); the Config is then
// nil, and the warnings found so far are still returned.
func Parse(name string, data []byte) (*Config, []Warning, error) {
	lines := keyLines(data)
	if empty := lines[""]; len(empty) > 0 {
		// Caught here: the parser rejects these too, less clearly, and leaves
		// its lexer goroutine blocked for good.
		return nil, nil, &Error{File: name, Line: empty[0], Msg: "no key before the '=' or ':': write key=value"}
	}
	loader := properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
	props, err := loader.LoadBytes(data)
	if err != nil {
		return nil, nil, syntaxError(name, err)
	}
	s := &state{c: &Config{File: name, lines: map[string]int{}}, lines: lines}
	values := s.scan(props)
	if err := s.apply(values); err != nil {
		return nil, s.warns, err
	}
	if err := s.resolve(); err != nil {
		return nil, s.warns, err
	}
	return s.c, s.warns, nil
}

// syntaxError turns the parser's "properties: Line N: msg" into an *Error.
// With empty keys caught before, what is left are bad escapes.
func syntaxError(name string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "properties: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "Line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			line, _ = strconv.Atoi(n)
			msg = after
		}
	}
	return &Error{File: name, Line: line,
		Msg: "cannot parse: " + msg + ` (a backslash starts an escape: \uXXXX takes four hex digits, \\ is one backslash)`}
}

// state is one Parse in progress.
type state struct {
	c          *Config
	lines      map[string][]int // key -> lines of its definitions (keyLines)
	warns      []Warning
	listenPort int    // listenPort, joined into RemotingAddr by resolve
	clientPort int    // rmqlogClientPort, 0 until set; joined into ClientAddr by resolve
	brokerIP   string // brokerIP1, "" until set or defaulted
}

// scan warns about unknown and repeated keys and returns the trimmed values
// of the known ones.
func (s *state) scan(props *properties.Properties) map[string]string {
	values := map[string]string{}
	for _, k := range props.Keys() {
		line := lastLine(s.lines, k)
		if _, known := lookup(k); !known {
			s.warn(line, k, unknownMsg(k))
			continue
		}
		v, _ := props.Get(k)
		values[k], s.c.lines[k] = strings.TrimSpace(v), line
		if defs := s.lines[k]; len(defs) > 1 {
			s.warn(line, k, fmt.Sprintf("defined on lines %s: the last one wins", andList(defs)))
		}
	}
	return values
}

// apply sets every key from its value in the file or its default.
func (s *state) apply(values map[string]string) error {
	for _, k := range table {
		v, ok := values[k.name]
		switch {
		case !ok && k.missing != "":
			return &Error{File: s.c.File, Key: k.name, Msg: k.missing}
		case !ok && k.def == "":
			continue // empty default, or filled in by resolve
		case !ok:
			v = k.def
		}
		if err := k.set(s, v); err != nil {
			return s.fail(k.name, v, err.Error())
		}
	}
	return nil
}

// fail returns an *Error for key holding value.
func (s *state) fail(key, value, msg string) *Error {
	if strings.Contains(value, "#") {
		msg += " (a # starts a comment only at the start of a line)"
	}
	return &Error{File: s.c.File, Line: s.c.lines[key], Key: key, Value: value, Msg: msg}
}

func (s *state) warn(line int, key, msg string) {
	s.warns = append(s.warns, Warning{File: s.c.File, Line: line, Key: key, Msg: msg})
}

// rocketmqOnly are RocketMQ broker keys that rmqlog reads no meaning from.
var rocketmqOnly = strings.Fields(`brokerId brokerRole
	brokerIP2 haListenPort fastListenPort deleteWhen diskMaxUsedSpaceRatio
	autoCreateSubscriptionGroup defaultTopicQueueNums storePathConsumeQueue
	storePathIndex storeCheckpoint abortFile mappedFileSizeConsumeQueue
	flushCommitLogLeastPages flushConsumeQueueLeastPages transientStorePoolEnable
	pullMessageThreadPoolNums sendThreadPoolQueueCapacity aclEnable traceTopicEnable`)

// unknownMsg explains an unknown key, suggesting the known key nearest to
// it (a different case, or a few letters off).
func unknownMsg(name string) string {
	for _, k := range table {
		if strings.EqualFold(k.name, name) {
			return fmt.Sprintf("unknown to rmqlog, ignored (did you mean %s? keys are case-sensitive)", k.name)
		}
	}
	for _, k := range rocketmqOnly {
		if k == name {
			return "unknown to rmqlog, ignored (RocketMQ broker key)"
		}
	}
	if near := nearestKey(name); near != "" {
		return fmt.Sprintf("unknown to rmqlog, IGNORED: did you mean %s? (its default applies)", near)
	}
	return "unknown to rmqlog, ignored (check the spelling; keys are case-sensitive)"
}

// nearestKey returns the key rmqlog reads that is nearest to name by edit
// distance (ignoring case), if it is within a quarter of name's length
// (at least 1, at most 3 edits), else "".
func nearestKey(name string) string {
	limit := min(3, max(1, len(name)/4))
	best, bestD := "", limit+1
	for _, k := range table {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k.name)); d < bestD {
			best, bestD = k.name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// andList writes lines as "3, 7 and 9".
func andList(lines []int) string {
	s := make([]string, len(lines))
	for i, l := range lines {
		s[i] = strconv.Itoa(l)
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// Describe returns the effective configuration as "key=value (source)"
// lines, one per key rmqlog reads, RocketMQ's keys first; the source is
// "file:line" for a key set in the file and "default" otherwise. It
// describes the fields of c as they are now.
func (c *Config) Describe() []string {
	out := make([]string, 0, len(table))
	for _, k := range table {
		src := "default"
		if line, ok := c.lines[k.name]; ok {
			src = where(c.File, line)
		}
		out = append(out, fmt.Sprintf("%s=%s (%s)", k.name, k.get(c), src))
	}
	return out
}
