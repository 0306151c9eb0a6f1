package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// resolve fills in the defaults that depend on other keys and checks the
// rules between keys, after every key has been set on its own.
func (s *state) resolve() error {
	for _, step := range []func() error{s.membership, s.addresses, s.paths, s.batching, s.relations, s.security} {
		if err := step(); err != nil {
			return err
		}
	}
	s.advise()
	return nil
}

// membership checks that the self and preferred ids are members.
func (s *state) membership() error {
	c := s.c
	if _, ok := c.Peers[c.SelfID]; !ok {
		return s.fail("dLegerSelfId", c.SelfID, fmt.Sprintf("not a member of dLegerPeers%s: allowed %s",
			s.at("dLegerPeers"), orList(c.PeerOrder)))
	}
	if p := c.PreferredLeader; p != "" && c.Peers[p] == "" {
		return s.fail("preferredLeaderId", p, fmt.Sprintf("not a member of dLegerPeers%s: allowed %s, or remove the line",
			s.at("dLegerPeers"), orList(c.PeerOrder)))
	}
	if id := c.SlowConsumerBrokerID; id > int64(len(c.PeerOrder)) {
		return s.fail("whichBrokerWhenConsumeSlowly", strconv.FormatInt(id, 10), fmt.Sprintf(
			"a slave's broker id is its position in dLegerPeers%s: allowed 1 to %d", s.at("dLegerPeers"), len(c.PeerOrder)))
	}
	if c.BrokerName == "" {
		c.BrokerName = c.Group
	}
	if c.ClusterName == "" {
		c.ClusterName = "DefaultCluster"
	}
	return nil
}

// addresses sets RemotingAddr and ClientAddr (brokerIP1 defaults to the
// host of this node's own peer address; rmqlogClientPort to listenPort +
// ClientPortOffset) and checks that no two listeners of this node collide:
// remoting, client, peer and metrics addresses all distinct.
func (s *state) addresses() error {
	c := s.c
	self := c.Peers[c.SelfID]
	if s.brokerIP == "" {
		s.brokerIP = splitHost(self)
	}
	if s.clientPort == 0 {
		s.clientPort = s.listenPort + ClientPortOffset
		if int64(s.clientPort) > ports.hi {
			return s.fail("listenPort", strconv.Itoa(s.listenPort), fmt.Sprintf(
				"rmqlogClientPort defaults to listenPort+%d, which is above 65535: set rmqlogClientPort", ClientPortOffset))
		}
	}
	c.RemotingAddr = net.JoinHostPort(s.brokerIP, strconv.Itoa(s.listenPort))
	c.ClientAddr = net.JoinHostPort(s.brokerIP, strconv.Itoa(s.clientPort))
	if clash(c.RemotingAddr, c.ClientAddr) {
		return s.fail("rmqlogClientPort", strconv.Itoa(s.clientPort), fmt.Sprintf(
			"rmqlog's client port must differ from listenPort (%d, RocketMQ's remoting port): choose another rmqlogClientPort", s.listenPort))
	}
	for _, l := range []struct{ key, what, addr string }{
		{"listenPort", "remoting", c.RemotingAddr}, {"rmqlogClientPort", "client", c.ClientAddr}} {
		if err := s.apartFromPeers(l.key, l.what, l.addr); err != nil {
			return err
		}
	}
	if m := c.MetricsAddr; m != "" && (clash(m, c.ClientAddr) || clash(m, c.RemotingAddr) || clash(m, self)) {
		return s.fail("metricsAddr", m, fmt.Sprintf("clashes with the remoting address %s, the client address %s or the peer address %s: choose another port",
			c.RemotingAddr, c.ClientAddr, self))
	}
	if c.MetricsPprof && c.MetricsAddr == "" {
		return s.fail("metricsPprof", "true", "the profiler is served on the metrics endpoint: set metricsAddr too (for example 127.0.0.1:30915), or remove the line")
	}
	return nil
}

// apartFromPeers checks that addr, this node's listener of key, is no
// member's peer address and cannot collide with this node's own.
func (s *state) apartFromPeers(key, what, addr string) error {
	c := s.c
	for _, id := range c.PeerOrder {
		peer := c.Peers[id]
		if normalize(peer) == normalize(addr) || id == c.SelfID && clash(peer, addr) {
			return s.fail(key, splitPort(addr), fmt.Sprintf("the %s address %s clashes with %s's peer address %s in dLegerPeers%s: choose another %s",
				what, addr, id, peer, s.at("dLegerPeers"), key))
		}
	}
	return nil
}

// paths defaults the store directories and makes them absolute, relative
// to the working directory as RocketMQ does.
func (s *state) paths() error {
	c := s.c
	if c.RootDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return &Error{File: c.File, Key: "storePathRootDir", Msg: "$HOME is not set, so there is no default: set it to the store directory"}
		}
		c.RootDir = filepath.Join(home, "store")
	}
	if err := s.absolute("storePathRootDir", &c.RootDir); err != nil {
		return err
	}
	if c.LogDir == "" {
		c.LogDir = filepath.Join(c.RootDir, "commitlog")
	}
	return s.absolute("storePathCommitLog", &c.LogDir)
}

func (s *state) absolute(key string, dir *string) error {
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return s.fail(key, *dir, fmt.Sprintf("cannot make it absolute (%v): give an absolute path", err))
	}
	*dir = abs
	return nil
}

// batching makes enableBatchPush=false mean one entry per batch.
func (s *state) batching() error {
	c := s.c
	if c.BatchPush {
		return nil
	}
	if _, set := c.lines["raftMaxBatchCount"]; set && c.MaxBatchCount != 1 {
		return s.fail("raftMaxBatchCount", strconv.Itoa(c.MaxBatchCount), fmt.Sprintf(
			"enableBatchPush=false%s sends one entry per batch: allowed 1, or remove one of the two lines", s.at("enableBatchPush")))
	}
	c.MaxBatchCount = 1
	return nil
}

// relation is a rule between two keys.
type relation struct {
	a, b string // the keys; an error is reported on a if the file sets it, else on b
	ok   func(c *Config) bool
	rule string
}

var relations = []relation{
	{"raftTickIntervalMs", "raftHeartbeatIntervalMs",
		func(c *Config) bool { return c.TickInterval <= c.HeartbeatInterval },
		"allowed raftTickIntervalMs <= raftHeartbeatIntervalMs"},
	{"raftElectionTimeoutMs", "raftHeartbeatIntervalMs",
		func(c *Config) bool { return c.ElectionTimeout >= 2*c.HeartbeatInterval },
		"allowed raftElectionTimeoutMs >= 2 x raftHeartbeatIntervalMs, so a follower misses two heartbeats before it campaigns"},
	{"raftRetransmitTimeoutMs", "raftHeartbeatIntervalMs",
		func(c *Config) bool { return c.RetransmitTimeout >= c.HeartbeatInterval },
		"allowed raftRetransmitTimeoutMs >= raftHeartbeatIntervalMs"},
	{"maxMessageSize", "mappedFileSizeCommitLog",
		func(c *Config) bool { return int64(c.MaxMessageSize)+entryHeader <= c.SegmentSize },
		"allowed maxMessageSize + 32 (an entry's header) <= mappedFileSizeCommitLog, so a message fits in one segment"},
}

// relations checks every relation.
func (s *state) relations() error {
	for _, r := range relations {
		if r.ok(s.c) {
			continue
		}
		blame := r.a
		if _, set := s.c.lines[r.a]; !set {
			blame = r.b
		}
		msg := fmt.Sprintf("%s (here %s=%s, %s=%s)", r.rule, r.a, s.value(r.a), r.b, s.value(r.b))
		return s.fail(blame, s.value(blame), msg)
	}
	return nil
}

// advise adds the warnings about a valid but doubtful configuration.
func (s *state) advise() {
	c := s.c
	if len(c.Peers) == 2 {
		s.warn(c.lines["dLegerPeers"], "dLegerPeers", "two members cannot fail over: a majority of two is both, "+
			"so losing either stops writes; use three members to survive one failure")
	}
	if unspecified(s.brokerIP) {
		s.warn(c.lines["brokerIP1"], "brokerIP1", "binds every interface, but it is also the address given to "+
			"clients sent to this node, who cannot use it: set the address clients reach")
	}
	s.advisePlaintext()
}

// value shows a key's current value.
func (s *state) value(name string) string {
	k, _ := lookup(name)
	return k.get(s.c)
}

// at returns " (line N)" for a key set in the file, "" otherwise.
func (s *state) at(name string) string {
	if line := s.c.lines[name]; line > 0 {
		return fmt.Sprintf(" (line %d)", line)
	}
	return ""
}
