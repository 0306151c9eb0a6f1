package load

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Form is the shape of a load.
type Form string

const (
	// Closed: Producers goroutines, each sending one append and waiting
	// for its acknowledgement before the next.
	Closed Form = "closed"
	// Pipelined: one sender keeping Producers appends in flight.
	Pipelined Form = "pipelined"
	// Open: appends sent at a fixed Rate whatever the answers do (at most
	// Producers in flight; a sender held back by that cap is late, and the
	// lateness counts). Latency is measured from each append's intended
	// send time, so a stall shows in the percentiles (no coordinated
	// omission).
	Open Form = "open"
)

// Spec is one load run.
type Spec struct {
	System    string        `json:"system"`          // "rmqlog", "nats"
	Mode      string        `json:"mode"`            // SYNC_FLUSH or ASYNC_FLUSH (a peer runs its equivalent)
	Payload   int           `json:"payload_bytes"`   // bytes per append
	Form      Form          `json:"form"`            // closed, pipelined or open
	Producers int           `json:"producers"`       // closed: goroutines; pipelined: in flight; open: cap in flight
	Rate      int           `json:"rate,omitempty"`  // open: appends per second
	Duration  time.Duration `json:"duration_ns"`     // how long to send (unless Count)
	Count     int           `json:"count,omitempty"` // if > 0: send exactly Count appends
	// OpTimeout bounds one append (its retries included). Default 10 s.
	OpTimeout time.Duration `json:"op_timeout_ns"`
	// RecordAcks keeps every acknowledged (sequence, id) for a checker.
	RecordAcks bool `json:"-"`
}

// Ack is one acknowledged append: the sequence the system gave it and the
// operation id its payload carries (FillPayload).
type Ack struct {
	Seq uint64
	ID  uint64
}

// Second is one second of a run, as printed live.
type Second struct {
	At     float64 `json:"at_s"`   // end of the second, seconds since the start
	Acked  int64   `json:"acked"`  // appends acknowledged in it
	Errors int64   `json:"errors"` // appends that failed in it
	P50    int64   `json:"p50_us"` // latency percentiles of those acknowledged in it
	P99    int64   `json:"p99_us"`
	Max    int64   `json:"max_us"`
}

// Latency is a latency summary in microseconds.
type Latency struct {
	P50   int64   `json:"p50_us"`
	P90   int64   `json:"p90_us"`
	P99   int64   `json:"p99_us"`
	P999  int64   `json:"p99_9_us"`
	P9999 int64   `json:"p99_99_us"`
	Max   int64   `json:"max_us"`
	Mean  float64 `json:"mean_us"`
}

// Result is what one run measured.
type Result struct {
	Name string `json:"name"` // unique within a results directory; file names derive from it
	// Round is the repetition this run belongs to when a scenario runs
	// several rounds (1, 2, ...); 0 when it ran once.
	Round   int              `json:"round,omitempty"`
	Spec    Spec             `json:"spec"`
	Start   time.Time        `json:"start"`
	Elapsed time.Duration    `json:"elapsed_ns"` // first send to last answer
	Sent    int64            `json:"sent"`
	Acked   int64            `json:"acked"`
	Errors  map[string]int64 `json:"errors"` // by Target.Kind
	Latency Latency          `json:"latency"`
	// MsgsPerSec and MBPerSec are Acked (and its payload bytes, MB =
	// 1e6 bytes) over Elapsed.
	MsgsPerSec float64  `json:"msgs_per_s"`
	MBPerSec   float64  `json:"mb_per_s"`
	Seconds    []Second `json:"seconds"`
	// NodeCPU is the CPU time (user + system) of each node process during
	// the run, by node name; filled by the caller that owns the processes.
	NodeCPU map[string]time.Duration `json:"node_cpu_ns,omitempty"`
	// Failover is set by the failover scenario.
	Failover *Failover `json:"failover,omitempty"`
	// Membership is set by the membership scenario.
	Membership *Membership `json:"membership,omitempty"`

	Hist  *hdrhistogram.Histogram `json:"-"` // every acknowledged append's latency, us
	Acks  []Ack                   `json:"-"` // with Spec.RecordAcks
	Ticks []int32                 `json:"-"` // acknowledgements per millisecond since Start
}

// Failover is what the failover scenario measured.
type Failover struct {
	OldLeader string        `json:"old_leader"`
	NewLeader string        `json:"new_leader"`
	KillAt    time.Duration `json:"kill_at_ns"` // since the run's start
	// Outage: from the last acknowledgement before the kill to the first
	// after it.
	Outage    time.Duration `json:"outage_ns"`
	RestartAt time.Duration `json:"restart_at_ns"`
	// CatchUp: from the restart to the old leader's log holding the
	// commit index the leader had at the restart.
	CatchUp time.Duration `json:"catch_up_ns"`
	// Verification: the check of every acknowledged append (its JSON
	// fields sit beside the ones above, as before).
	Verification
}

// Summarize returns the latency summary of h.
func Summarize(h *hdrhistogram.Histogram) Latency {
	v := h.ValueAtPercentiles([]float64{50, 90, 99, 99.9, 99.99})
	return Latency{P50: v[50], P90: v[90], P99: v[99], P999: v[99.9], P9999: v[99.99], Max: h.Max(), Mean: h.Mean()}
}
