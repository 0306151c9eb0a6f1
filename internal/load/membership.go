package load

import "time"

// Step kinds of the membership scenario, in the words its reports use.
// The four changes are AddLearner, Promote, RemoveFollower and
// RemoveLeader; StartNode and Retire are the processes around them.
const (
	StartNode      = "start node"      // a spare started with rmqlogJoin, until it answers
	AddLearner     = "add learner"     // the configuration change, until committed
	Promote        = "promote"         // from the first attempt (refused while it lags) to the commit
	RemoveFollower = "remove follower" // the configuration change, until committed
	RemoveLeader   = "remove leader"   // the same, on the leader itself (it hands off)
	Retire         = "retire"          // SIGTERM of a removed member, until it exited
)

// IsChange reports whether kind is a membership change (a configuration
// entry), not a process started or stopped.
func IsChange(kind string) bool {
	return kind == AddLearner || kind == Promote || kind == RemoveFollower || kind == RemoveLeader
}

// Membership is what the membership scenario measured: every step it took
// under the load, the load's own longest gap for comparison, and the
// check of every acknowledged append on the final members.
type Membership struct {
	Steps []Step `json:"steps"`
	// Baseline is the longest stretch without an acknowledgement that
	// overlaps no step: the gaps the load has anyway.
	Baseline time.Duration `json:"baseline_ns"`
	// ElectionTimeout is the nodes' raftElectionTimeoutMs, the bound a
	// leader removal's outage is held to.
	ElectionTimeout time.Duration `json:"election_timeout_ns"`
	// Members are the voters at the end.
	Members []string `json:"members"`
	Verification
}

// Step is one step of the membership scenario.
type Step struct {
	Kind string `json:"kind"` // StartNode, AddLearner, ...
	Node string `json:"node"` // the node started, added, promoted, removed or stopped
	// At is when the step started, since the run's start; Took how long
	// it took.
	At   time.Duration `json:"at_ns"`
	Took time.Duration `json:"took_ns"`
	// Outage is the longest stretch without an acknowledged append that
	// overlaps [At, At+Took], at the load's 1 ms resolution (Result.Ticks).
	Outage time.Duration `json:"outage_ns"`
	// Attempts counts the calls a change needed (a promotion is refused
	// while the learner lags); 0 for a process step.
	Attempts int `json:"attempts,omitempty"`
	// Voters is how many voters the configuration has after the step.
	Voters int `json:"voters"`
}

// Verification is what the check of a run's acknowledged appends found.
type Verification struct {
	Acknowledged int64    `json:"acknowledged"`
	Lost         []uint64 `json:"lost"`       // acknowledged sequences missing or different on some node
	Duplicates   int64    `json:"duplicates"` // operation ids found at more than one sequence
	// Diverged names the first entry that differs between two nodes ("":
	// none found).
	Diverged string `json:"diverged,omitempty"`
	Verified bool   `json:"verified"` // the check ran to completion
	Detail   string `json:"detail,omitempty"`
}

// Failed reports whether the check found a fault: an acknowledged append
// lost, replicas that diverge, or no check at all.
func (v *Verification) Failed() bool { return len(v.Lost) > 0 || v.Diverged != "" || !v.Verified }

// Within reports whether step s met issue 18's target, and whether one
// applies: a leader removal's outage at most one election timeout; any
// other change's no longer than the load's own longest gap (Baseline).
// Starting and stopping processes has no target.
func (m *Membership) Within(s Step) (ok, applies bool) {
	switch {
	case s.Kind == RemoveLeader:
		return s.Outage <= m.ElectionTimeout, true
	case IsChange(s.Kind):
		return s.Outage <= m.Baseline, true
	}
	return false, false
}
