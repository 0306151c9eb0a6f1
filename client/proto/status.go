package proto

// RepairUnknown is StatusDoc.RepairTo for a node that may have acknowledged
// entries it no longer holds without knowing which (an unclean stop under
// ASYNC_FLUSH): the engine's RepairUnknown, which package server checks is
// the same number.
const RepairUnknown = ^uint64(0)

// StatusDoc is a node's status as the TypeStatus request returns it (JSON)
// and `rmqlog status --json` prints it. Package server fills it; it holds
// only strings and numbers, so a reader needs no other package of rmqlog.
type StatusDoc struct {
	Self         string        `json:"self"`
	Group        string        `json:"group"`
	Role         string        `json:"role"`
	Term         uint64        `json:"term"`
	Leader       string        `json:"leader"`
	LeaderAddr   string        `json:"leaderAddr"`
	Writable     bool          `json:"writable"`
	ClientAddr   string        `json:"clientAddr"`
	FlushMode    string        `json:"flushMode"`
	FirstIndex   uint64        `json:"firstIndex"`
	LastIndex    uint64        `json:"lastIndex"`
	CommitIndex  uint64        `json:"commitIndex"`
	DurableIndex uint64        `json:"durableIndex"`
	Followers    []FollowerDoc `json:"followers,omitempty"`
	// Membership is the configuration in force on this node (absent while
	// it starts).
	Membership *MembershipDoc `json:"membership,omitempty"`
	Elections  uint64         `json:"elections"`
	// RepairTo is set while the node repairs a log that may lack entries it
	// acknowledged (its vote counts only when every member votes);
	// 18446744073709551615 (RepairUnknown) after an unclean stop under
	// ASYNC_FLUSH. See docs/durability.md.
	RepairTo uint64 `json:"repairTo,omitempty"`
	// TermLost: the node lost its hard state and waits to hear every
	// member's term before its vote counts normally.
	TermLost bool `json:"termLost,omitempty"`
	// Waiting: the members such a node has not heard yet.
	Waiting []string `json:"waiting,omitempty"`
	// Contradiction: a leader asked this node to overwrite committed
	// entries, and it refused (see docs/durability.md).
	Contradiction string `json:"contradiction,omitempty"`
	// Starting says what a node that is still opening its log is doing
	// (Role is then "starting").
	Starting    string            `json:"starting,omitempty"`
	Batches     uint64            `json:"batchesSent"`
	Entries     uint64            `json:"entriesSent"`
	Error       string            `json:"error,omitempty"`
	Connections int               `json:"clientConnections"`
	Peers       map[string]string `json:"peers"`
	// Broker is the RocketMQ broker running on the node, if any.
	Broker *BrokerDoc `json:"broker,omitempty"`
}

// BrokerDoc is the state of a node's RocketMQ broker (package broker).
type BrokerDoc struct {
	Name         string `json:"brokerName"`
	Cluster      string `json:"brokerClusterName"`
	RemotingAddr string `json:"remotingAddr"` // listenPort: where RocketMQ clients connect
	NamesrvAddr  string `json:"namesrvAddr,omitempty"`
	Applied      uint64 `json:"appliedIndex"` // the last entry in its consume queues and tables
	Ready        bool   `json:"ready"`        // a master taking sends
	Error        string `json:"error,omitempty"`
}

// FollowerDoc is what the leader knows of one follower.
type FollowerDoc struct {
	ID           string `json:"id"`
	MatchIndex   uint64 `json:"matchIndex"`
	DurableIndex uint64 `json:"durableIndex"`
	NextIndex    uint64 `json:"nextIndex"`
	State        string `json:"state"`
	Lag          uint64 `json:"lag"`
	// Learner: a member that receives the log but does not vote (rmqlog
	// member promote makes it a voter once it has caught up).
	Learner bool `json:"learner,omitempty"`
	// Retiring: removed by the configuration being committed; it receives
	// the log until that commits.
	Retiring bool `json:"retiring,omitempty"`
}

// MembershipDoc is the configuration in force on a node (docs/membership.md).
type MembershipDoc struct {
	Voters   []string `json:"voters"`
	Learners []string `json:"learners,omitempty"`
	// Index is the configuration entry's index: 0 for the bootstrap
	// configuration from dLegerPeers (or none, on a node that joins and
	// has not been added yet).
	Index uint64 `json:"confIndex"`
	// Committed: the entry is committed; while it is not, a change is under way.
	Committed bool `json:"committed"`
}
