package check

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Builders of hand-written histories; times are in milliseconds.

func ms(t int) time.Duration { return time.Duration(t) * time.Millisecond }

func ack(client int, id, index uint64, call, ret int) Op {
	return Op{Client: client, Kind: Append, ID: id, Index: index, Outcome: OK, Call: ms(call), Return: ms(ret)}
}

func unsure(client int, id uint64, call int) Op {
	return Op{Client: client, Kind: Append, ID: id, Outcome: Unknown, Call: ms(call)}
}

func refused(client int, id uint64, call, ret int) Op {
	return Op{Client: client, Kind: Append, ID: id, Outcome: Failed, Call: ms(call), Return: ms(ret)}
}

func found(client int, index, id uint64, call, ret int) Op {
	return Op{Client: client, Kind: Read, Index: index, Found: true, ReadID: id, Outcome: OK, Call: ms(call), Return: ms(ret)}
}

func absent(client int, index uint64, call, ret int) Op {
	return Op{Client: client, Kind: Read, Index: index, Outcome: OK, Call: ms(call), Return: ms(ret)}
}

// entries builds a log from index first: id 0 is a no-op, any other a
// normal entry carrying it; every entry in term 1.
func entries(first uint64, ids ...uint64) []Entry {
	es := make([]Entry, len(ids))
	for k, id := range ids {
		i := first + uint64(k)
		es[k] = Entry{Index: i, Term: 1, Type: TypeNoop, CRC: uint32(mix(i, id))}
		if id != 0 {
			es[k].Type, es[k].ID, es[k].HasID = TypeNormal, id, true
		}
	}
	return es
}

// group returns three nodes holding the same log.
func group(first uint64, ids ...uint64) []NodeLog {
	return []NodeLog{{Node: "a", Entries: entries(first, ids...)}, {Node: "b", Entries: entries(first, ids...)},
		{Node: "c", Entries: entries(first, ids...)}}
}

// with returns logs with node n's entry at index i changed by f.
func with(logs []NodeLog, n int, i uint64, f func(*Entry)) []NodeLog {
	l := &logs[n]
	f(&l.Entries[i-l.Entries[0].Index])
	return logs
}

// want is what a scenario expects of the report: the totals, and the
// linearizability verdict.
type want struct {
	counts   Counts
	lin      porcupine.CheckResult
	ok       bool
	nodeErrs int
	unverif  int
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		history []Op
		logs    []NodeLog
		opts    Options
		want    want
	}{
		{"clean", []Op{ack(0, 11, 2, 0, 10), ack(1, 12, 3, 5, 12), found(2, 2, 11, 11, 13), absent(2, 4, 14, 15), found(0, 1, 0, 20, 21)},
			group(1, 0, 11, 12), Options{}, want{lin: porcupine.Ok, ok: true}},
		{"empty", nil, nil, Options{}, want{lin: porcupine.Ok, ok: true}},
		{"lost: no node holds the acked index", []Op{ack(0, 11, 1, 0, 1), ack(0, 12, 2, 2, 3)},
			group(1, 11), Options{}, want{counts: Counts{Lost: 1}, lin: porcupine.Ok}},
		{"lost: another entry at the acked index", []Op{ack(0, 11, 1, 0, 1), ack(0, 12, 2, 2, 3), refused(1, 13, 0, 1)},
			group(1, 11, 0), Options{}, want{counts: Counts{Lost: 1}, lin: porcupine.Ok}},
		{"lost on one node only", []Op{ack(0, 11, 1, 0, 1), ack(0, 12, 2, 2, 3)},
			with(group(1, 11, 12), 2, 2, func(e *Entry) { *e = entries(2, 0)[0] }),
			Options{}, want{counts: Counts{Lost: 1, Divergent: 1}, lin: porcupine.Ok}},
		{"wrong index acked", []Op{ack(0, 11, 1, 0, 1), ack(0, 12, 2, 2, 3)},
			group(1, 11, 0, 12), Options{}, want{counts: Counts{Lost: 1}, lin: porcupine.Ok}},
		{"divergent term", []Op{ack(0, 11, 1, 0, 1), ack(0, 12, 2, 2, 3)},
			with(group(1, 11, 12), 1, 1, func(e *Entry) { e.Term = 2 }), Options{}, want{counts: Counts{Divergent: 1}, lin: porcupine.Ok}},
		{"divergent crc on two nodes: one report", []Op{ack(0, 11, 1, 0, 1)},
			with(with(group(1, 11), 1, 1, func(e *Entry) { e.CRC++ }), 2, 1, func(e *Entry) { e.CRC += 2 }),
			Options{}, want{counts: Counts{Divergent: 1}, lin: porcupine.Ok}},
		{"duplicate reported", []Op{ack(0, 11, 2, 0, 1)}, group(1, 11, 11), Options{},
			want{counts: Counts{Duplicates: 1}, lin: porcupine.Ok, ok: true}},
		{"duplicate fails if asked", []Op{ack(0, 11, 2, 0, 1)}, group(1, 11, 11), Options{DuplicatesFail: true},
			want{counts: Counts{Duplicates: 1}, lin: porcupine.Ok}},
		{"unknown entry: an id nobody appended", []Op{ack(0, 11, 1, 0, 1)}, group(1, 11, 99), Options{},
			want{counts: Counts{Unknown: 1}, lin: porcupine.Ok}},
		{"unknown entry: no id", []Op{ack(0, 11, 1, 0, 1)},
			with(group(1, 11, 99), 0, 2, func(e *Entry) { e.HasID, e.ID = false, 0 }),
			Options{}, want{counts: Counts{Unknown: 1, Divergent: 1}, lin: porcupine.Ok}},
		{"read going backwards: present, then absent", []Op{ack(0, 11, 1, 0, 1), found(1, 1, 11, 2, 3), absent(1, 1, 4, 5)},
			group(1, 11), Options{}, want{counts: Counts{NonMonotonic: 1}, lin: porcupine.Illegal}},
		{"read going backwards: an index below one seen", []Op{ack(0, 11, 1, 0, 1), ack(0, 12, 2, 2, 3), found(1, 2, 12, 4, 5), absent(1, 1, 6, 7)},
			group(1, 11, 12), Options{}, want{counts: Counts{NonMonotonic: 1}, lin: porcupine.Illegal}},
		{"read going backwards: another id", []Op{ack(0, 11, 1, 0, 1), found(1, 1, 11, 2, 3), found(1, 1, 12, 4, 5), ack(0, 12, 2, 2, 3)},
			group(1, 11, 12), Options{}, want{counts: Counts{NonMonotonic: 1, ReadMismatch: 1}, lin: porcupine.Illegal}},
		{"pipelined reads of one client overlap: not backwards", []Op{ack(0, 11, 1, 0, 10), found(1, 1, 11, 2, 6), absent(1, 1, 3, 4)},
			group(1, 11), Options{}, want{lin: porcupine.Ok, ok: true}},
		{"stale read: absent after the append there completed", []Op{ack(0, 11, 1, 0, 1), absent(1, 1, 2, 3)},
			group(1, 11), Options{}, want{lin: porcupine.Illegal}},
		{"read concurrent with the append: absent is fine", []Op{ack(0, 11, 1, 0, 5), absent(1, 1, 2, 3)},
			group(1, 11), Options{}, want{lin: porcupine.Ok, ok: true}},
		{"append acked where a completed read saw another id", []Op{found(1, 2, 0, 0, 1), ack(0, 11, 2, 2, 3)},
			group(1, 0, 0), Options{}, want{counts: Counts{Lost: 1}, lin: porcupine.Illegal}},
		{"append acked at an index an earlier read had reached", []Op{ack(0, 11, 1, 0, 1), found(1, 3, 13, 2, 3), ack(0, 12, 2, 4, 5), ack(2, 13, 3, 0, 3)},
			group(1, 11, 12, 13), Options{}, want{lin: porcupine.Illegal}},
		{"concurrent appends acked out of order", []Op{ack(0, 11, 3, 0, 10), ack(1, 12, 2, 1, 11), ack(2, 13, 1, 2, 12)},
			group(1, 13, 12, 11), Options{}, want{lin: porcupine.Ok, ok: true}},
		{"sequential appends acked out of order", []Op{ack(0, 11, 2, 0, 1), ack(1, 12, 1, 2, 3)},
			group(1, 12, 11), Options{}, want{lin: porcupine.Illegal}},
		{"unknown append committed: included", []Op{unsure(0, 11, 0), ack(1, 12, 2, 1, 3), found(2, 1, 11, 4, 5)},
			group(1, 11, 12), Options{}, want{lin: porcupine.Ok, ok: true}},
		{"unknown append committed after an ack that preceded it", []Op{ack(1, 12, 2, 0, 1), unsure(0, 11, 2)},
			group(1, 0, 12, 11), Options{}, want{lin: porcupine.Ok, ok: true}},
		{"unknown append committed below an ack that preceded it", []Op{ack(1, 12, 2, 0, 1), unsure(0, 11, 2)},
			group(1, 11, 12), Options{}, want{lin: porcupine.Illegal}},
		{"unknown append not committed: dropped", []Op{unsure(0, 11, 0), ack(1, 12, 1, 1, 2), absent(2, 2, 3, 4)},
			group(1, 12), Options{}, want{lin: porcupine.Ok, ok: true}},
		{"failed append committed", []Op{refused(0, 11, 0, 1), ack(1, 12, 2, 0, 3)},
			group(1, 11, 12), Options{}, want{counts: Counts{FailedApplied: 1}, lin: porcupine.Ok}},
		{"failed append seen by a read", []Op{refused(0, 11, 0, 1), found(1, 1, 11, 2, 3)},
			group(1, 0), Options{}, want{counts: Counts{FailedApplied: 1}, lin: porcupine.Ok}},
		{"failed append retried with its id", []Op{refused(0, 11, 0, 1), ack(0, 11, 1, 2, 3)},
			group(1, 11), Options{}, want{lin: porcupine.Ok, ok: true}},
		{"read not matching the final log", []Op{ack(0, 11, 1, 0, 1), found(1, 2, 12, 2, 3), ack(0, 12, 3, 0, 5)},
			group(1, 11, 0, 12), Options{}, want{counts: Counts{ReadMismatch: 1}, lin: porcupine.Ok}},
		{"read beyond the final log", []Op{ack(0, 11, 1, 0, 1), found(1, 2, 12, 2, 3), unsure(0, 12, 1)},
			group(1, 11), Options{}, want{counts: Counts{ReadMismatch: 1}, lin: porcupine.Ok}},
		{"node unreadable", []Op{ack(0, 11, 1, 0, 1)}, append(group(1, 11), NodeLog{Node: "d", Err: errors.New("refused")}),
			Options{}, want{lin: porcupine.Ok, nodeErrs: 1}},
		{"node log not contiguous", []Op{ack(0, 11, 1, 0, 1)},
			append(group(1, 11), NodeLog{Node: "d", Entries: append(entries(1, 11), entries(3, 12)...)}),
			Options{}, want{lin: porcupine.Ok, nodeErrs: 1}},
		{"lagging and truncated nodes", []Op{ack(0, 11, 1, 0, 1), ack(0, 12, 2, 2, 3), found(1, 1, 11, 4, 5)},
			[]NodeLog{{Node: "a", Entries: entries(2, 12)}, {Node: "b", Entries: entries(1, 11)}, {Node: "c", Entries: entries(1, 11, 12)}},
			Options{}, want{lin: porcupine.Ok, ok: true}},
		{"acked below every node's first index", []Op{ack(0, 11, 1, 0, 1), ack(0, 12, 2, 2, 3), found(1, 1, 11, 4, 5)},
			group(2, 12), Options{}, want{lin: porcupine.Ok, ok: true, unverif: 2}},
		{"malformed operations", []Op{{Kind: Append, ID: 11}, {Kind: 9, Outcome: OK}, ack(0, 0, 1, 0, 1), ack(0, 12, 0, 0, 1),
			ack(0, 13, 1, 5, 4), {Kind: Append, ID: 14, Index: 1, Outcome: OK, Found: true}, {Kind: Read, Index: 1, Outcome: OK, ReadID: 3}},
			nil, Options{}, want{counts: Counts{Malformed: 7}, lin: porcupine.Ok}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.history, tt.logs, tt.opts)
			if r.Counts != tt.want.counts || r.Linearizable.Result != tt.want.lin || r.OK() != tt.want.ok ||
				len(r.NodeErrors) != tt.want.nodeErrs || r.Unverifiable != tt.want.unverif {
				t.Errorf("counts %+v, linearizable %s, OK %v, %d node errors, %d unverifiable; want %+v, %s, %v, %d, %d\n%v",
					r.Counts, r.Linearizable.Result, r.OK(), len(r.NodeErrors), r.Unverifiable,
					tt.want.counts, tt.want.lin, tt.want.ok, tt.want.nodeErrs, tt.want.unverif, r)
			}
		})
	}
}

func TestReportDetails(t *testing.T) {
	logs := with(group(1, 11, 0, 13), 2, 3, func(e *Entry) { e.Term = 7 })
	history := []Op{ack(0, 11, 1, 0, 1), ack(0, 12, 2, 2, 3), ack(1, 13, 2, 0, 5)}
	r := Check(history, logs, Options{})
	tests := []struct {
		name      string
		got, want string
	}{
		{"lost", fmt.Sprint(r.Lost), fmt.Sprint([]Lost{
			{Op: 1, Client: 0, ID: 12, Index: 2, Node: "a", Got: entries(2, 0)[0]},
			{Op: 2, Client: 1, ID: 13, Index: 2, Node: "a", Got: entries(2, 0)[0], Elsewhere: []uint64{3}}})},
		{"divergent", fmt.Sprint(r.Divergent), fmt.Sprint([]Divergence{{Index: 3, NodeA: "a", NodeB: "c", A: entries(3, 13)[0],
			B: Entry{Index: 3, Term: 7, Type: TypeNormal, CRC: entries(3, 13)[0].CRC, ID: 13, HasID: true}}})},
		{"final log", fmt.Sprint(r.First, r.Last, r.Nodes), "1 3 3"},
		{"counts", fmt.Sprint(r.Ops, r.Appends, r.Acked, r.Failed, r.UnknownOutcome, r.Reads), "3 3 3 0 0 0"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}

func TestMaxReported(t *testing.T) {
	var history []Op
	for k := range 10 {
		history = append(history, ack(0, uint64(100+k), uint64(k+1), 2*k, 2*k+1))
	}
	tests := []struct {
		max, listed int
	}{{0, 10}, {3, 3}, {20, 10}}
	for _, tt := range tests {
		r := Check(history, nil, Options{MaxReported: tt.max})
		if r.Counts.Lost != 10 || len(r.Lost) != tt.listed {
			t.Errorf("MaxReported %d: %d lost listed of %d; want %d of 10", tt.max, len(r.Lost), r.Counts.Lost, tt.listed)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		name    string
		history []Op
		logs    []NodeLog
		want    []string
	}{
		{"ok", []Op{ack(0, 11, 1, 0, 1)}, group(1, 11), []string{"check OK: 1 ops: 1 appends (1 acked", "linearizable Ok"}},
		{"failed", []Op{ack(0, 11, 1, 0, 1), ack(0, 12, 2, 2, 3), ack(0, 13, 3, 4, 5), ack(0, 14, 4, 6, 7), absent(1, 1, 8, 9)}, nil,
			[]string{"check FAILED", "lost: 4\n  append 0xb by client 0 (op 0) acknowledged at 1: no node holds that index", "  ...",
				"linearizable Illegal", "is not linearizable"}},
	}
	for _, tt := range tests {
		s := Check(tt.history, tt.logs, Options{}).String()
		for _, w := range tt.want {
			if !strings.Contains(s, w) {
				t.Errorf("%s: %q lacks %q", tt.name, s, w)
			}
		}
	}
}

func TestVisualize(t *testing.T) {
	tests := []struct {
		name    string
		history []Op
		wantErr error
	}{
		{"illegal", []Op{ack(0, 11, 2, 0, 1), ack(1, 12, 1, 2, 3)}, nil},
		{"linearizable", []Op{ack(0, 11, 1, 0, 1)}, ErrNothingToShow},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "history.html")
		err := Check(tt.history, nil, Options{}).Visualize(path)
		if !errors.Is(err, tt.wantErr) {
			t.Fatalf("%s: Visualize: %v, want %v", tt.name, err, tt.wantErr)
		}
		b, _ := os.ReadFile(path)
		if got := strings.Contains(string(b), `op 0: append 0xb -\u003e 2`); got != (tt.wantErr == nil) {
			t.Errorf("%s: the visualization shows the append: %v (%d bytes)", tt.name, got, len(b))
		}
	}
}

func TestInconclusive(t *testing.T) {
	s := simulate(simConfig{clients: 4, ops: 400, seed: 1, reads: 0.3, gap: ms(1) / 10, dur: ms(1)})
	late := slices.Clone(s.history) // after an illegal pair of appends
	for k := range late {
		late[k].Call, late[k].Return = late[k].Call+ms(10), late[k].Return+ms(10)
	}
	late = append(late, ack(9, 1, 2, 0, 1), ack(9, 2, 1, 2, 3))
	tests := []struct {
		name    string
		history []Op
		opts    Options
		want    porcupine.CheckResult
		reason  string
	}{
		{"timeout", s.history, Options{Timeout: time.Nanosecond}, porcupine.Unknown, "ran out of its 1ns"},
		{"window over MaxWindow", s.history, Options{MaxWindow: 10}, porcupine.Unknown, "over MaxWindow (10)"},
		{"an illegal window beside one over MaxWindow", late, Options{MaxWindow: 10, WindowOps: 1}, porcupine.Illegal, "window 1 [2ms, 3ms] is not linearizable"},
	}
	for _, tt := range tests {
		r := Check(tt.history, s.nodes(3), tt.opts)
		if r.Linearizable.Result != tt.want || r.OK() || !strings.Contains(r.String(), tt.reason) {
			t.Errorf("%s: %v, OK %v; want %s (%q), not OK", tt.name, r.Linearizable, r.OK(), tt.want, tt.reason)
		}
	}
}
