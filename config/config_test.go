package config_test

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/config"
	"github.com/rmqlog/rmqlog/flush"
)

var threePeers = map[string]string{"n0": "127.0.0.1:40911", "n1": "127.0.0.1:40912", "n2": "127.0.0.1:40913"}

// TestSamples loads the seed's file and the three shipped samples.
func TestSamples(t *testing.T) {
	tests := []struct {
		file, self, broker, client, root string
		warnKeys                         []string
	}{
		{"seed-broker-n0.conf", "n0", "RaftNode00", "127.0.0.1:30911", "/tmp/rmqstore/node00", nil},
		{"broker-n0.conf", "n0", "RaftNode00", "127.0.0.1:30911", "/tmp/rmqstore/node00", nil},
		{"broker-n1.conf", "n1", "RaftNode00", "127.0.0.1:30921", "/tmp/rmqstore/node01", nil},
		{"broker-n2.conf", "n2", "RaftNode00", "127.0.0.1:30931", "/tmp/rmqstore/node02", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, warns, err := config.Load(filepath.Join("..", "conf", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := warningKeys(warns); !slices.Equal(got, tt.warnKeys) {
				t.Errorf("warnings on %v, want %v: %v", got, tt.warnKeys, warns)
			}
			if !maps.Equal(c.Peers, threePeers) || !slices.Equal(c.PeerOrder, []string{"n0", "n1", "n2"}) {
				t.Errorf("peers %v in order %v", c.Peers, c.PeerOrder)
			}
			check(t, "SelfID", c.SelfID, tt.self)
			check(t, "Group", c.Group, "RaftNode00")
			check(t, "BrokerName", c.BrokerName, tt.broker)
			check(t, "RemotingAddr", c.RemotingAddr, tt.client)
			host, port, _ := net.SplitHostPort(tt.client)
			n, _ := strconv.Atoi(port)
			check(t, "ClientAddr", c.ClientAddr, net.JoinHostPort(host, strconv.Itoa(n+config.ClientPortOffset)))
			check(t, "RootDir", c.RootDir, tt.root)
			check(t, "LogDir", c.LogDir, tt.root+"/commitlog")
			check(t, "FlushMode", c.FlushMode, flush.SyncFlush)
			check(t, "SendThreads", c.SendThreads, 16)
		})
	}
}

// minimal is the least a file must say; line 4 is the next one.
const minimal = "dLegerGroup=g\ndLegerPeers=n0-127.0.0.1:40911;n1-127.0.0.1:40912;n2-127.0.0.1:40913\ndLegerSelfId=n0\n"

func TestDefaults(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	c := parse(t, minimal)
	fields := []struct {
		name      string
		got, want any
	}{
		{"BrokerName", c.BrokerName, "g"},
		{"ClientAddr", c.ClientAddr, "127.0.0.1:10913"},
		{"RootDir", c.RootDir, filepath.Join(home, "store")},
		{"LogDir", c.LogDir, filepath.Join(home, "store", "commitlog")},
		{"FlushMode", c.FlushMode, flush.SyncFlush},
		{"FlushInterval", c.FlushInterval, 500 * time.Millisecond},
		{"SegmentSize", c.SegmentSize, int64(1 << 30)},
		{"FileReserved", c.FileReserved, 72 * time.Hour},
		{"PreferredLeader", c.PreferredLeader, ""},
		{"BatchPush", c.BatchPush, true},
		{"MaxMessageSize", c.MaxMessageSize, 4 << 20},
		{"SendThreads", c.SendThreads, 16},
		{"TickInterval", c.TickInterval, 10 * time.Millisecond},
		{"HeartbeatInterval", c.HeartbeatInterval, 50 * time.Millisecond},
		{"ElectionTimeout", c.ElectionTimeout, 300 * time.Millisecond},
		{"RetransmitTimeout", c.RetransmitTimeout, 500 * time.Millisecond},
		{"MaxBatchBytes", c.MaxBatchBytes, 1 << 20},
		{"MaxBatchCount", c.MaxBatchCount, 4096},
		{"WindowBatches", c.WindowBatches, 16},
		{"WindowBytes", c.WindowBytes, 8 << 20},
		{"MaxPendingBytes", c.MaxPendingBytes, 64 << 20},
		{"IndexEntries", c.IndexEntries, int64(4 << 20)},
		{"MetricsAddr", c.MetricsAddr, ""},
		{"RemotingAddr", c.RemotingAddr, "127.0.0.1:10911"},
		{"ClusterName", c.ClusterName, "DefaultCluster"},
		{"NamesrvAddr", c.NamesrvAddr, ""},
		{"AutoCreateTopic", c.AutoCreateTopic, false},
		{"BrokerEnable", c.BrokerEnable, true},
		{"Join", c.Join, false},
		{"DelayLevels", len(c.DelayLevels), 18},
		{"SlaveReadEnable", c.SlaveReadEnable, false},
		{"SlowConsumerBrokerID", c.SlowConsumerBrokerID, int64(1)},
		{"InMemoryMaxRatio", c.InMemoryMaxRatio, 40},
		{"DedupWindow", c.DedupWindow, 60 * time.Second},
		{"DedupMaxKeys", c.DedupMaxKeys, 100000},
		{"LockExpiry", c.LockExpiry, 60 * time.Second},
		{"MaxConnections", c.MaxConnections, 1024},
		{"MaxInflight", c.MaxInflight, 1024},
		{"LogLevel", c.LogLevel, slog.LevelInfo},
		{"LogFormat", c.LogFormat, "text"},
	}
	for _, f := range fields {
		check(t, f.name, f.got, f.want)
	}
}

// TestValues checks values that are accepted and what they become.
func TestValues(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, extra string
		got         func(*config.Config) any
		want        any
	}{
		{"trimmed", "listenPort =   30911   \t", func(c *config.Config) any { return c.RemotingAddr }, "127.0.0.1:30911"},
		{"colon and space separators", "listenPort: 1\nbrokerIP1 10.0.0.1", func(c *config.Config) any { return c.RemotingAddr + " " + c.ClientAddr }, "10.0.0.1:1 10.0.0.1:3"},
		{"client port", "rmqlogClientPort=31000", func(c *config.Config) any { return c.ClientAddr }, "127.0.0.1:31000"},
		{"client port below", "listenPort=30911\nrmqlogClientPort=30910", func(c *config.Config) any { return c.ClientAddr }, "127.0.0.1:30910"},
		{"namesrv list", "namesrvAddr= 127.0.0.1:9876 ;; localhost:9877;", func(c *config.Config) any { return c.NamesrvAddr }, "127.0.0.1:9876;localhost:9877"},
		{"cluster", "brokerClusterName=RaftCluster\nautoCreateTopicEnable=true", func(c *config.Config) any { return fmt.Sprint(c.ClusterName, c.AutoCreateTopic) }, "RaftClustertrue"},
		{"empty cluster", "brokerClusterName=", func(c *config.Config) any { return c.ClusterName }, "DefaultCluster"},
		{"relative root", "storePathRootDir=data", func(c *config.Config) any { return c.LogDir }, filepath.Join(wd, "data", "commitlog")},
		{"relative log", "storePathCommitLog=./cl", func(c *config.Config) any { return c.LogDir }, filepath.Join(wd, "cl")},
		{"no expansion", "brokerName=${user.home}", func(c *config.Config) any { return c.BrokerName }, "${user.home}"},
		{"batch push off", "enableBatchPush=FALSE", func(c *config.Config) any { return c.MaxBatchCount }, 1},
		{"batch push off, count 1", "enableBatchPush=false\nraftMaxBatchCount=1", func(c *config.Config) any { return c.MaxBatchCount }, 1},
		{"async", "flushDiskType=ASYNC_FLUSH\nflushIntervalCommitLog=200", func(c *config.Config) any { return c.FlushInterval }, 200 * time.Millisecond},
		{"keep forever", "fileReservedTime=0", func(c *config.Config) any { return c.FileReserved }, time.Duration(0)},
		{"log level", "logLevel=DEBUG\nlogFormat=JSON", func(c *config.Config) any { return c.LogFormat + c.LogLevel.String() }, "jsonDEBUG"},
		{"metrics", "metricsAddr=:30915", func(c *config.Config) any { return c.MetricsAddr }, ":30915"},
		{"preferred", "preferredLeaderId=n2", func(c *config.Config) any { return c.PreferredLeader }, "n2"},
		{"join", "rmqlogJoin=true", func(c *config.Config) any { return c.Join }, true},
		{"join off", "rmqlogJoin=FALSE", func(c *config.Config) any { return c.Join }, false},
		{"last wins", "listenPort=1\nlistenPort=2", func(c *config.Config) any { return c.RemotingAddr }, "127.0.0.1:2"},
		{"delay levels", "messageDelayLevel= 1s  100ms 2m 1h 1d ", func(c *config.Config) any { return fmt.Sprint(c.DelayLevels) }, "[1s 100ms 2m0s 1h0m0s 24h0m0s]"},
		{"slave read", "slaveReadEnable=TRUE\nwhichBrokerWhenConsumeSlowly=3\naccessMessageInMemoryMaxRatio=25",
			func(c *config.Config) any {
				return fmt.Sprint(c.SlaveReadEnable, c.SlowConsumerBrokerID, c.InMemoryMaxRatio)
			}, "true 3 25"},
		{"dedup", "rmqlogDedupWindowMs=5000\nrmqlogDedupMaxKeys=10", func(c *config.Config) any { return fmt.Sprint(c.DedupWindow, c.DedupMaxKeys) }, "5s 10"},
		{"dedup off", "rmqlogDedupWindowMs=0", func(c *config.Config) any { return c.DedupWindow }, time.Duration(0)},
		{"lock expiry", "rmqlogQueueLockExpiryMs=1000", func(c *config.Config) any { return c.LockExpiry }, time.Second},
		{"segment fits message", "mappedFileSizeCommitLog=8192\nmaxMessageSize=8160", func(c *config.Config) any { return c.SegmentSize }, int64(8192)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, tt.name, tt.got(parse(t, minimal+tt.extra)), tt.want)
		})
	}
}

func TestPeers(t *testing.T) {
	tests := []struct {
		peers string
		want  map[string]string
		order []string
	}{
		{"n0-127.0.0.1:40911", map[string]string{"n0": "127.0.0.1:40911"}, []string{"n0"}},
		{" n1-127.0.0.1:2 ;; n0-127.0.0.1:1 ; ", map[string]string{"n0": "127.0.0.1:1", "n1": "127.0.0.1:2"}, []string{"n1", "n0"}},
		{"n0-my-host.example:1;a_b.c-[::1]:2;x-h:3", map[string]string{"n0": "my-host.example:1", "a_b.c": "[::1]:2", "x": "h:3"}, []string{"n0", "a_b.c", "x"}},
	}
	for _, tt := range tests {
		c := parse(t, "dLegerGroup=g\ndLegerSelfId=n0\nlistenPort=30911\ndLegerPeers="+tt.peers)
		if !maps.Equal(c.Peers, tt.want) || !slices.Equal(c.PeerOrder, tt.order) {
			t.Errorf("%q: got %v %v, want %v %v", tt.peers, c.Peers, c.PeerOrder, tt.want, tt.order)
		}
	}
}

// TestErrors checks that every bad file gives an *Error on the right line
// and key, saying what is allowed. Added lines start at line 4 of minimal.
func TestErrors(t *testing.T) {
	const peers = "dLegerGroup=g\ndLegerSelfId=n0\ndLegerPeers="
	tests := []struct {
		name, file string
		line       int
		key, want  string
	}{
		{"flush type", minimal + "flushDiskType=SYNC", 4, "flushDiskType", "allowed SYNC_FLUSH or ASYNC_FLUSH"},
		{"port garbage", minimal + "listenPort=abc", 4, "listenPort", "from 1 to 65535"},
		{"comment after value", minimal + "listenPort=30911 # client", 4, "listenPort", "a # starts a comment only at the start of a line"},
		{"port 0", minimal + "listenPort=0", 4, "listenPort", "from 1 to 65535"},
		{"port 70000", minimal + "listenPort=70000", 4, "listenPort", "from 1 to 65535"},
		{"port negative", minimal + "\nlistenPort=-1", 5, "listenPort", "from 1 to 65535"},
		{"size negative", minimal + "mappedFileSizeCommitLog=-4096", 4, "mappedFileSizeCommitLog", "multiple of 4096 from 4096 to 4294967296 bytes"},
		{"size unaligned", minimal + "mappedFileSizeCommitLog=5000", 4, "mappedFileSizeCommitLog", "multiple of 4096"},
		{"overflow", minimal + "maxMessageSize=99999999999999999999", 4, "maxMessageSize", "from 1 to 1073741824 bytes"},
		{"fraction", minimal + "flushIntervalCommitLog=1.5", 4, "flushIntervalCommitLog", "from 1 to 60000 milliseconds"},
		{"hours negative", minimal + "fileReservedTime=-1", 4, "fileReservedTime", "from 0 to 876000 hours"},
		{"index entries", minimal + "raftIndexEntries=1000", 4, "raftIndexEntries", "multiple of 512"},
		{"bool", minimal + "enableBatchPush=yes", 4, "enableBatchPush", "allowed true or false"},
		{"dledger off", minimal + "enableDLegerCommitLog=false", 4, "enableDLegerCommitLog", "set it to true or remove the line"},
		{"dledger bool", minimal + "enableDLegerCommitLog=1", 4, "enableDLegerCommitLog", "allowed true or false"},
		{"self not member", strings.Replace(minimal, "SelfId=n0", "SelfId=n5", 1), 3, "dLegerSelfId", "allowed n0, n1 or n2"},
		{"self bad id", strings.Replace(minimal, "SelfId=n0", "SelfId=", 1), 3, "dLegerSelfId", "allowed 1 to 64 characters"},
		{"duplicate id", peers + "n0-127.0.0.1:1;n0-127.0.0.1:2", 3, "dLegerPeers", "id n0 appears twice"},
		{"duplicate address", peers + "n0-127.0.0.1:1;n1-127.0.0.1:01", 3, "dLegerPeers", "n0 and n1 share the address"},
		{"no dash", peers + "n0127.0.0.1:40911", 3, "dLegerPeers", "has no '-': allowed id-host:port"},
		{"no port", peers + "n0-127.0.0.1", 3, "dLegerPeers", "allowed host:port with a port from 1 to 65535"},
		{"peer port 0", peers + "n0-127.0.0.1:0", 3, "dLegerPeers", "port from 1 to 65535"},
		{"peer host", peers + "n0-bad host:1", 3, "dLegerPeers", "allowed host:port"},
		{"peer id", peers + "n@0-h:1", 3, "dLegerPeers", "allowed 1 to 64 characters of A-Z a-z 0-9 _ ."},
		{"no members", peers + " ; ;", 3, "dLegerPeers", "no members: allowed id-host:port items"},
		{"no group", "dLegerSelfId=n0\ndLegerPeers=n0-h:1", 0, "dLegerGroup", "set it to the raft group's name"},
		{"no self", "dLegerGroup=g\ndLegerPeers=n0-h:1", 0, "dLegerSelfId", "set it to this node's id in dLegerPeers"},
		{"no peers", "dLegerGroup=g\ndLegerSelfId=n0", 0, "dLegerPeers", "e.g. n0-127.0.0.1:40911;"},
		{"bad group", minimal + "dLegerGroup=my group", 4, "dLegerGroup", "allowed 1 to 64 characters"},
		{"tick", minimal + "raftTickIntervalMs=100", 4, "raftTickIntervalMs", "allowed raftTickIntervalMs <= raftHeartbeatIntervalMs"},
		{"heartbeat", minimal + "raftHeartbeatIntervalMs=200", 4, "raftHeartbeatIntervalMs", "raftElectionTimeoutMs >= 2 x raftHeartbeatIntervalMs"},
		{"election", minimal + "raftElectionTimeoutMs=60", 4, "raftElectionTimeoutMs", "raftElectionTimeoutMs >= 2 x raftHeartbeatIntervalMs"},
		{"retransmit", minimal + "raftRetransmitTimeoutMs=20", 4, "raftRetransmitTimeoutMs", "raftRetransmitTimeoutMs >= raftHeartbeatIntervalMs"},
		{"timer zero", minimal + "raftElectionTimeoutMs=0", 4, "raftElectionTimeoutMs", "from 1 to 60000 milliseconds"},
		{"message too big", minimal + "mappedFileSizeCommitLog=8192\nmaxMessageSize=8161", 5, "maxMessageSize", "maxMessageSize + 32 (an entry's header) <= mappedFileSizeCommitLog"},
		{"segment too small", minimal + "mappedFileSizeCommitLog=4096", 4, "mappedFileSizeCommitLog", "maxMessageSize=4194304, mappedFileSizeCommitLog=4096"},
		{"preferred", minimal + "preferredLeaderId=n9", 4, "preferredLeaderId", "not a member of dLegerPeers (line 2): allowed n0, n1 or n2"},
		{"metrics", minimal + "metricsAddr=localhost", 4, "metricsAddr", "allowed host:port"},
		{"metrics clash", minimal + "metricsAddr=:10911", 4, "metricsAddr", "clashes with the remoting address 127.0.0.1:10911"},
		{"metrics clash client", minimal + "metricsAddr=:10913", 4, "metricsAddr", "the client address 127.0.0.1:10913"},
		{"client port is listenPort", minimal + "rmqlogClientPort=10911", 4, "rmqlogClientPort", "must differ from listenPort (10911"},
		{"client port on a peer", minimal + "rmqlogClientPort=40912", 4, "rmqlogClientPort", "the client address 127.0.0.1:40912 clashes with n1's peer address"},
		{"default client port past 65535", minimal + "listenPort=65534", 4, "listenPort", "set rmqlogClientPort"},
		{"client port range", minimal + "rmqlogClientPort=0", 4, "rmqlogClientPort", "from 1 to 65535"},
		{"namesrv item", minimal + "namesrvAddr=127.0.0.1:9876;nameserver", 4, "namesrvAddr", `"nameserver": allowed host:port items separated by ';'`},
		{"namesrv port", minimal + "namesrvAddr=127.0.0.1:98760", 4, "namesrvAddr", "allowed host:port items"},
		{"cluster name", minimal + "brokerClusterName=my cluster", 4, "brokerClusterName", "allowed 1 to 64 characters"},
		{"auto create", minimal + "autoCreateTopicEnable=yes", 4, "autoCreateTopicEnable", "allowed true or false"},
		{"delay level unit", minimal + "messageDelayLevel=1s 5x", 4, "messageDelayLevel", `level "5x" is not a positive duration`},
		{"delay level zero", minimal + "messageDelayLevel=1s 0s", 4, "messageDelayLevel", `level "0s" is not a positive duration`},
		{"delay level empty", minimal + "messageDelayLevel=", 4, "messageDelayLevel", "no levels"},
		{"delay level count", minimal + "messageDelayLevel=" + strings.Repeat("1s ", 65), 4, "messageDelayLevel", "65 levels: allowed at most 64"},
		{"slave read", minimal + "slaveReadEnable=1", 4, "slaveReadEnable", "allowed true or false"},
		{"join", minimal + "rmqlogJoin=yes", 4, "rmqlogJoin", "allowed true or false"},
		{"slow broker id", minimal + "whichBrokerWhenConsumeSlowly=4", 4, "whichBrokerWhenConsumeSlowly", "position in dLegerPeers (line 2): allowed 1 to 3"},
		{"slow broker id zero", minimal + "whichBrokerWhenConsumeSlowly=0", 4, "whichBrokerWhenConsumeSlowly", "from 1 to 64"},
		{"memory ratio", minimal + "accessMessageInMemoryMaxRatio=0", 4, "accessMessageInMemoryMaxRatio", "from 1 to 100 percent"},
		{"dedup window", minimal + "rmqlogDedupWindowMs=-1", 4, "rmqlogDedupWindowMs", "0 = no duplicate suppression"},
		{"dedup keys", minimal + "rmqlogDedupMaxKeys=0", 4, "rmqlogDedupMaxKeys", "from 1 to 10000000 keys"},
		{"lock expiry", minimal + "rmqlogQueueLockExpiryMs=10", 4, "rmqlogQueueLockExpiryMs", "from 1000 to 3600000"},
		{"pprof without metrics", minimal + "metricsPprof=true", 4, "metricsPprof", "set metricsAddr too"},
		{"pprof value", minimal + "metricsPprof=yes", 4, "metricsPprof", "allowed true or false"},
		{"log level", minimal + "logLevel=verbose", 4, "logLevel", "allowed debug, info, warn or error"},
		{"log format", minimal + "logFormat=xml", 4, "logFormat", "allowed text or json"},
		{"own peer port", minimal + "listenPort=40911", 4, "listenPort", "clashes with n0's peer address 127.0.0.1:40911"},
		{"other peer port", minimal + "listenPort=40912", 4, "listenPort", "clashes with n1's peer address"},
		{"any interface", minimal + "brokerIP1=0.0.0.0\nlistenPort=40911", 5, "listenPort", "choose another listenPort"},
		{"broker ip", minimal + "brokerIP1=a b", 4, "brokerIP1", "allowed an IP address or a host name"},
		{"batch count", minimal + "raftMaxBatchCount=8\nenableBatchPush=false", 4, "raftMaxBatchCount", "enableBatchPush=false (line 5)"},
		{"empty path", minimal + "storePathRootDir=", 4, "storePathRootDir", "remove the line for the default"},
		{"no key", minimal + "  = 1", 4, "", "no key before the '=' or ':'"},
		{"bad escape", minimal + "\n\nbrokerName=\\u12", 6, "", "cannot parse: invalid unicode literal (a backslash starts an escape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := config.Parse("test.conf", []byte(tt.file))
			var e *config.Error
			if !errors.As(err, &e) || !errors.Is(err, config.ErrConfig) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if e.Line != tt.line || e.Key != tt.key || !strings.Contains(e.Msg, tt.want) {
				t.Errorf("got line %d key %q msg %q; want line %d key %q msg containing %q", e.Line, e.Key, e.Msg, tt.line, tt.key, tt.want)
			}
			if prefix := "test.conf:"; tt.line == 0 {
				if want := "test.conf: " + tt.key + " is missing: "; !strings.HasPrefix(err.Error(), want) {
					t.Errorf("%q does not start with %q", err, want)
				}
			} else if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("%q does not start with %q", err, prefix)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct{ file, want string }{
		{"brokerName=a\n" + minimal + "\n\n\n\nflushDiskType=SYNC\n",
			`broker-n0.conf:9: flushDiskType = "SYNC": allowed SYNC_FLUSH or ASYNC_FLUSH`},
		{"dLegerGroup=g\ndLegerPeers=n0-127.0.0.1:40911\n",
			`broker-n0.conf: dLegerSelfId is missing: set it to this node's id in dLegerPeers (e.g. n0)`},
	}
	for _, tt := range tests {
		_, _, err := config.Parse("broker-n0.conf", []byte(tt.file))
		if err == nil || err.Error() != tt.want {
			t.Errorf("got %v\nwant %s", err, tt.want)
		}
	}
}

// TestWarnings also checks the line finder: comments, continued values,
// escaped keys, every separator, CRLF and a byte order mark.
func TestWarnings(t *testing.T) {
	tricky := "# a comment = x\n! another: y\n\nbrokerRole = a;\\\n   b=c;\\\n   d\nbrokerId 0\nodd\\ key: 1\n" +
		"deleteWhen\n" + minimal
	tests := []struct {
		name, file string
		want       []string
	}{
		{"unknown", "brokerId=0\nhaListenPort=30912\n" + minimal + "deleteWhen=04\nfoo=1\nfoo=2\nListenPort=1",
			[]string{
				"t.conf:1: brokerId: unknown to rmqlog, ignored (RocketMQ broker key)",
				"t.conf:2: haListenPort: unknown to rmqlog, ignored (RocketMQ broker key)",
				"t.conf:6: deleteWhen: unknown to rmqlog, ignored (RocketMQ broker key)",
				"t.conf:8: foo: unknown to rmqlog, ignored (check the spelling; keys are case-sensitive)",
				"t.conf:9: ListenPort: unknown to rmqlog, ignored (did you mean listenPort? keys are case-sensitive)",
			}},
		{"typos (issue 13: flushDiskTyp silently ran SYNC_FLUSH)", minimal + "flushDiskTyp=ASYNC_FLUSH\nmappedFileSizeComitLog=1024\nlistnPort=1\nstorePathRootdir=/x",
			[]string{
				"t.conf:4: flushDiskTyp: unknown to rmqlog, IGNORED: did you mean flushDiskType? (its default applies)",
				"t.conf:5: mappedFileSizeComitLog: unknown to rmqlog, IGNORED: did you mean mappedFileSizeCommitLog? (its default applies)",
				"t.conf:6: listnPort: unknown to rmqlog, IGNORED: did you mean listenPort? (its default applies)",
				"t.conf:7: storePathRootdir: unknown to rmqlog, ignored (did you mean storePathRootDir? keys are case-sensitive)",
			}},
		{"duplicate", "listenPort=1\n" + minimal + "listenPort=2\nlistenPort=3",
			[]string{"t.conf:6: listenPort: defined on lines 1, 5 and 6: the last one wins"}},
		{"two members", "dLegerGroup=g\ndLegerSelfId=n0\ndLegerPeers=n0-127.0.0.1:1;n1-127.0.0.1:2",
			[]string{"t.conf:3: dLegerPeers: two members cannot fail over: a majority of two is both, so losing either stops writes; use three members to survive one failure"}},
		{"any interface", minimal + "brokerIP1=0.0.0.0", []string{"t.conf:4: brokerIP1: binds every interface, but it is also the address given to clients sent to this node, who cannot use it: set the address clients reach",
			"t.conf:4: brokerIP1: CLIENT TRAFFIC IS UNAUTHENTICATED AND UNENCRYPTED: the client port listens on 0.0.0.0:10913"}},
		{"single node", "dLegerGroup=g\ndLegerSelfId=n0\ndLegerPeers=n0-localhost:1", nil},
		{"line finder", tricky, []string{"t.conf:4: brokerRole", "t.conf:7: brokerId", "t.conf:8: odd key", "t.conf:9: deleteWhen"}},
		{"crlf", strings.ReplaceAll(tricky, "\n", "\r\n"), []string{"t.conf:4: brokerRole", "t.conf:5: b", "t.conf:6: d", "t.conf:7: brokerId", "t.conf:8: odd key", "t.conf:9: deleteWhen"}},
		{"bom", "\uFEFFbrokerId=0\n" + minimal, []string{"t.conf:1: brokerId"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warns, err := config.Parse("t.conf", []byte(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(warns) != len(tt.want) {
				t.Fatalf("got %d warnings %v, want %d", len(warns), warns, len(tt.want))
			}
			for i, w := range warns {
				if !strings.HasPrefix(w.String(), tt.want[i]) {
					t.Errorf("warning %d: got %q, want %q", i, w, tt.want[i])
				}
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	c, _, err := config.Load("../conf/seed-broker-n0.conf")
	if err != nil {
		t.Fatal(err)
	}
	lines := c.Describe()
	for _, want := range []string{
		"listenPort=30911 (../conf/seed-broker-n0.conf:3)",
		"dLegerPeers=n0-127.0.0.1:40911;n1-127.0.0.1:40912;n2-127.0.0.1:40913 (../conf/seed-broker-n0.conf:9)",
		"brokerIP1=127.0.0.1 (default)",
		"flushDiskType=SYNC_FLUSH (default)",
		"raftTickIntervalMs=10 (default)",
		"metricsAddr= (default)",
		"logLevel=info (default)",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("Describe has no %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	// Describe's key=value parts are a file that loads to the same config.
	var file strings.Builder
	for _, l := range lines {
		file.WriteString(l[:strings.LastIndex(l, " (")] + "\n")
	}
	again := parse(t, file.String())
	for i, l := range again.Describe() {
		if before, _, _ := strings.Cut(l, " ("); !strings.HasPrefix(lines[i], before+" (") {
			t.Errorf("reloaded %q, was %q", l, lines[i])
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.conf")
	_, _, err := config.Load(path)
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, config.ErrConfig) || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v, want a not-exist error naming %s", err, path)
	}
}

func parse(t *testing.T, file string) *config.Config {
	t.Helper()
	c, _, err := config.Parse("t.conf", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func check(t *testing.T, name string, got, want any) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

func warningKeys(warns []config.Warning) []string {
	var keys []string
	for _, w := range warns {
		keys = append(keys, w.Key)
	}
	return keys
}
