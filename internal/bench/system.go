package bench

import (
	"context"
	"time"

	"github.com/rmqlog/rmqlog/internal/load"
)

// System is something rmqbench can start as a local group and load:
// rmqlog itself (Rmqlog) or a peer (bench/peers/nats).
type System interface {
	// Name is the system's name in reports ("rmqlog", "nats").
	Name() string
	// Start starts a fresh local group in flush mode (SYNC_FLUSH or
	// ASYNC_FLUSH, which a peer maps to its own setting), waits until it
	// accepts appends, and returns it. dir is an empty directory the group
	// owns for its data, configs and logs.
	Start(ctx context.Context, mode, dir string) (Group, error)
}

// Group is a running local group of node processes.
type Group interface {
	// Target is the load's way in: a client connected to the group.
	Target() load.Target
	// Nodes names the node processes.
	Nodes() []string
	// Leader returns the node that leads now (for a peer: the leader of
	// the stream the load writes to), waiting within ctx for one.
	Leader(ctx context.Context) (string, error)
	// Kill sends SIGKILL to a node and waits until it exited.
	Kill(node string) error
	// Restart starts a killed node again on its data.
	Restart(ctx context.Context, node string) error
	// WaitCaughtUp waits until node's log holds every entry up to seq.
	WaitCaughtUp(ctx context.Context, node string, seq uint64) error
	// LastSeq is the sequence of the last acknowledged entry (the commit
	// index; a stream's last sequence).
	LastSeq(ctx context.Context) (uint64, error)
	// CPU returns the CPU time (user + system) each node process used so
	// far; a restarted node counts from its restart.
	CPU() map[string]time.Duration
	// Check reads back every acknowledged append from every node that can
	// serve it and reports what it found. payload is the run's payload
	// size (load.FillPayload).
	Check(ctx context.Context, acks []load.Ack, payload int) (CheckReport, error)
	// Stop stops every node (gracefully where the system has a way) and
	// releases the group's resources.
	Stop() error
}

// Pids is implemented by groups that can name their node processes, for
// reading their CPU time: CPUOf turns pids into the CPU map.
func CPUOf(pids map[string]int) map[string]time.Duration {
	out := make(map[string]time.Duration, len(pids))
	for name, pid := range pids {
		if d, err := ProcessCPU(pid); err == nil {
			out[name] = d
		}
	}
	return out
}

// CheckReport is what Group.Check found.
type CheckReport struct {
	// Lost lists the acknowledged sequences that some node lacks or holds
	// with other bytes than the append wrote.
	Lost []uint64
	// Duplicates counts operation ids found at more than one sequence
	// (appends are at least once).
	Duplicates int64
	// Diverged names the first entry that differs between two nodes
	// where no ack names it ("" if none, or if the system cannot compare
	// such entries).
	Diverged string
	// Detail says what was read and how.
	Detail string
}
