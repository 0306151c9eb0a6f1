package check

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Options tune Check. The zero value is the defaults.
type Options struct {
	// Timeout bounds the linearizability search (default 30 s); past it
	// the result is porcupine.Unknown.
	Timeout time.Duration
	// MaxReported bounds each anomaly list of the Report (default 100);
	// Report.Counts has the totals.
	MaxReported int
	// DuplicatesFail makes an id committed at two indexes fail the
	// check. Off by default: appends are at least once (a client retries
	// an append whose outcome it does not know), so duplicates are
	// expected, rarely, and only reported.
	DuplicatesFail bool
	// WindowOps is the size of the windows the linearizability search
	// cuts the history into (default 500; see the package doc): a window
	// ends at its last quiescent point once it holds WindowOps operations,
	// or at the first one after if it has none before. Smaller is cheaper;
	// a stretch without a quiescent point is searched whole, up to
	// MaxWindow.
	WindowOps int
	// MaxWindow bounds the operations of one search (default 30000): the
	// search's memory grows with the square of it (about 2 GB at 26000).
	// A longer stretch without a quiescent point is not searched, and the
	// result is porcupine.Unknown.
	MaxWindow int
}

// DefaultTimeout is Options.Timeout's default.
const DefaultTimeout = 30 * time.Second

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxReported <= 0 {
		o.MaxReported = 100
	}
	if o.WindowOps <= 0 {
		o.WindowOps = 500
	}
	if o.MaxWindow <= 0 {
		o.MaxWindow = 30000
	}
	return o
}

// Report is what Check found. Each anomaly list holds at most
// Options.MaxReported items, in the order of the log or of the history;
// Counts holds the totals.
type Report struct {
	// Ops is len(history); Appends and Reads count them by kind; Acked,
	// Failed and UnknownOutcome count the appends by outcome.
	Ops, Appends, Acked, Failed, UnknownOutcome, Reads int
	// Nodes is how many node logs could be read; First and Last bound the
	// indexes any of them holds (the union is the "final log").
	Nodes       int
	First, Last uint64
	// NodeErrors: logs that could not be read or are not a contiguous
	// run of indexes; they take no part in the checks.
	NodeErrors []string
	// Unverifiable counts acknowledged appends and found reads whose
	// index lies below every node's first index (deleted by retention):
	// nothing to compare them with.
	Unverifiable int

	// Malformed: operations the checker cannot interpret (an invalid kind
	// or outcome, an acknowledged append at index 0, an id 0, Return
	// before Call); they take no part in the checks.
	Malformed []Anomaly
	// Lost: acknowledged appends whose id is not at the acknowledged
	// index on some node that holds that index, or that no node holds.
	Lost []Lost
	// Duplicates: ids committed at two or more indexes.
	Duplicates []Duplicate
	// DuplicatesFail is Options.DuplicatesFail: whether Duplicates fail OK.
	DuplicatesFail bool
	// Divergent: indexes where two nodes hold different entries.
	Divergent []Divergence
	// NonMonotonic: a client's read that went backwards: an index it had
	// seen present (or one below it) later absent, or another id at an
	// index than it saw before.
	NonMonotonic []Anomaly
	// Unknown: committed normal entries whose payload carries no id, or
	// an id that no client appended.
	Unknown []Entry
	// FailedApplied: appends reported Failed whose id was committed, or
	// seen by a read.
	FailedApplied []Anomaly
	// ReadMismatch: reads that saw, at an index, an id other than the one
	// the final log holds there, or an index the final log does not reach.
	ReadMismatch []Anomaly

	Counts       Counts
	Linearizable Linearizability
	Took         time.Duration // the whole check

	vis *visual // the first illegal window, for Visualize
}

// Counts are the totals of a Report's anomaly lists.
type Counts struct {
	Malformed, Lost, Duplicates, Divergent, NonMonotonic, Unknown, FailedApplied, ReadMismatch int
}

// Lost is an acknowledged append that the final log does not hold where
// it was acknowledged.
type Lost struct {
	Op     int // position in the history
	Client int
	ID     uint64
	Index  uint64 // acknowledged
	// Node is the first node whose entry at Index is not the append's
	// (Got is that entry); "" if no node holds Index.
	Node string
	Got  Entry
	// Elsewhere lists the indexes of the final log that hold the id.
	Elsewhere []uint64
}

func (l Lost) String() string {
	s := fmt.Sprintf("append %#x by client %d (op %d) acknowledged at %d: ", l.ID, l.Client, l.Op, l.Index)
	if l.Node == "" {
		s += "no node holds that index"
	} else {
		s += fmt.Sprintf("node %s holds %v", l.Node, l.Got)
	}
	if len(l.Elsewhere) > 0 {
		s += fmt.Sprintf("; the id is at %v", l.Elsewhere)
	}
	return s
}

// Duplicate is an id committed at several indexes.
type Duplicate struct {
	ID      uint64
	Indexes []uint64
}

func (d Duplicate) String() string { return fmt.Sprintf("id %#x at indexes %v", d.ID, d.Indexes) }

// Divergence is an index where two nodes hold different entries. Each
// index is reported once, for the first pair of nodes (in the order of
// the logs given to Check) that differ.
type Divergence struct {
	Index        uint64
	NodeA, NodeB string
	A, B         Entry
}

func (d Divergence) String() string {
	return fmt.Sprintf("index %d: node %s holds %v, node %s holds %v", d.Index, d.NodeA, d.A, d.NodeB, d.B)
}

// Anomaly is one suspicious operation.
type Anomaly struct {
	Op     int // position in the history
	Client int
	Index  uint64
	ID     uint64
	Detail string // what is wrong, for a person
}

func (a Anomaly) String() string {
	return fmt.Sprintf("op %d, client %d: %s", a.Op, a.Client, a.Detail)
}

// Linearizability is the result of the linearizability search.
type Linearizability struct {
	// Result is porcupine.Ok, porcupine.Illegal, or porcupine.Unknown if
	// the search ran out of Options.Timeout before deciding, or a window
	// was over Options.MaxWindow (Reason says which).
	Result porcupine.CheckResult
	Reason string
	// Ops went into the search; Pruned reads were left out as certainly
	// legal and without effect; Dropped appends were left out as without
	// effect (failed, or unknown and neither committed nor seen).
	Ops, Pruned, Dropped int
	// Windows is how many stretches the history was cut into at
	// quiescent points; Largest is the size of the largest.
	Windows, Largest int
	// Window is the first illegal window (0-based; -1 if none), From and
	// To the times it spans.
	Window   int
	From, To time.Duration
	Took     time.Duration
}

func (l Linearizability) String() string {
	s := fmt.Sprintf("%s: %d ops (%d reads pruned, %d appends dropped) in %d windows (largest %d), %v",
		l.Result, l.Ops, l.Pruned, l.Dropped, l.Windows, l.Largest, l.Took.Round(time.Millisecond))
	switch l.Result {
	case porcupine.Illegal:
		s += fmt.Sprintf("; window %d [%v, %v] is not linearizable", l.Window, l.From, l.To)
	case porcupine.Unknown:
		s += "; inconclusive: " + l.Reason
	}
	return s
}

// OK reports whether the run passed: every node log read, no malformed
// operation, nothing lost, no divergence, no read going backwards or
// contradicting the final log, no unknown entry, no failed append
// applied, no duplicate if DuplicatesFail, and the history linearizable.
// A linearizability search that timed out (porcupine.Unknown) is not OK:
// a check that did not finish proves nothing; raise Options.Timeout or
// give the history more quiescent points.
func (r Report) OK() bool {
	c := r.Counts
	return len(r.NodeErrors) == 0 && c.Malformed == 0 && c.Lost == 0 && c.Divergent == 0 &&
		c.NonMonotonic == 0 && c.Unknown == 0 && c.FailedApplied == 0 && c.ReadMismatch == 0 &&
		(!r.DuplicatesFail || c.Duplicates == 0) && r.Linearizable.Result == porcupine.Ok
}

// shown is how many items of each list String details.
const shown = 3

// String is a short summary: the counts, the verdict, and the first few
// anomalies of each kind in detail.
func (r Report) String() string {
	var b strings.Builder
	verdict := "OK"
	if !r.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "check %s: %d ops: %d appends (%d acked, %d failed, %d unknown), %d reads; final log %d..%d from %d nodes\n",
		verdict, r.Ops, r.Appends, r.Acked, r.Failed, r.UnknownOutcome, r.Reads, r.First, r.Last, r.Nodes)
	fmt.Fprintf(&b, "linearizable %v; checked in %v\n", r.Linearizable, r.Took.Round(time.Millisecond))
	list(&b, "node errors", len(r.NodeErrors), r.NodeErrors)
	list(&b, "malformed ops", r.Counts.Malformed, r.Malformed)
	list(&b, "lost", r.Counts.Lost, r.Lost)
	list(&b, "divergent", r.Counts.Divergent, r.Divergent)
	list(&b, "non-monotonic reads", r.Counts.NonMonotonic, r.NonMonotonic)
	list(&b, "reads not matching the final log", r.Counts.ReadMismatch, r.ReadMismatch)
	list(&b, "failed appends applied", r.Counts.FailedApplied, r.FailedApplied)
	list(&b, "unknown entries", r.Counts.Unknown, r.Unknown)
	list(&b, "duplicates", r.Counts.Duplicates, r.Duplicates)
	if r.Unverifiable > 0 {
		fmt.Fprintf(&b, "%d acked or read indexes lie below every node's first index: not verified\n", r.Unverifiable)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// list writes a heading with the total and the first items.
func list[T any](b *strings.Builder, what string, total int, items []T) {
	if total == 0 {
		return
	}
	fmt.Fprintf(b, "%s: %d\n", what, total)
	for _, it := range items[:min(shown, len(items))] {
		fmt.Fprintf(b, "  %v\n", it)
	}
	if total > shown {
		fmt.Fprintf(b, "  ...\n")
	}
}

// ErrNothingToShow is Visualize's error when the search found no illegal
// window.
var ErrNothingToShow = errors.New("check: no illegal window to visualize")

// Visualize writes porcupine's HTML visualization of the first window
// that is not linearizable to path: its operations, and the longest
// linearizable prefixes the search found.
func (r Report) Visualize(path string) error {
	if r.vis == nil {
		return ErrNothingToShow
	}
	if err := porcupine.VisualizePath(r.vis.model, r.vis.info, path); err != nil {
		return fmt.Errorf("check: visualize: %w", err)
	}
	return nil
}

// capped appends v to *l unless it holds max items, and counts it.
func capped[T any](l *[]T, n *int, max int, v T) {
	*n++
	if len(*l) < max {
		*l = append(*l, v)
	}
}
