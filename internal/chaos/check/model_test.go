package check

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestStep(t *testing.T) {
	contested := func(m mop) *mop { m.contested = true; return &m }
	s5 := (&state{}).fill(5, contested(mop{kind: Append, index: 5, id: 55}))
	tests := []struct {
		name     string
		s        *state
		m        *mop
		legal    bool
		last     uint64
		fixedAt5 string
	}{
		{"append beyond the prefix", s5, &mop{kind: Append, index: 7, id: 77}, true, 7, "0x37"},
		{"append at the prefix's end", s5, &mop{kind: Append, index: 5, id: 77}, false, 5, "0x37"},
		{"append inside the prefix", s5, &mop{kind: Append, index: 3, id: 77}, false, 5, "0x37"},
		{"read absent beyond", s5, &mop{kind: Read, index: 6}, true, 5, "0x37"},
		{"read absent inside", s5, &mop{kind: Read, index: 5}, false, 5, "0x37"},
		{"read found beyond", s5, &mop{kind: Read, index: 9, found: true, id: 99}, true, 9, "0x37"},
		{"read found inside, uncontested", s5, &mop{kind: Read, index: 4, found: true, id: 44}, true, 5, "0x37"},
		{"read found, the id known", s5, contested(mop{kind: Read, index: 5, found: true, id: 55}), true, 5, "0x37"},
		{"read found, another id than known", s5, contested(mop{kind: Read, index: 5, found: true, id: 56}), false, 5, "0x37"},
		{"read found inside, contested, unknown: fixes it", &state{last: 5}, contested(mop{kind: Read, index: 5, found: true, id: 56}), true, 5, "0x38"},
	}
	for _, tt := range tests {
		legal, s := step(tt.s, tt.m)
		id, _ := s.at(5)
		if got := fmt.Sprintf("%v %d %#x", legal, s.last, id); got != fmt.Sprintf("%v %d %s", tt.legal, tt.last, tt.fixedAt5) {
			t.Errorf("%s: %s, want %v %d %s", tt.name, got, tt.legal, tt.last, tt.fixedAt5)
		}
	}
}

func TestStateEqual(t *testing.T) {
	a := &mop{kind: Append, index: 2, id: 22, contested: true}
	b := &mop{kind: Read, index: 4, found: true, id: 44, contested: true}
	m := model(&state{})
	ab := (&state{}).fill(2, a).fill(4, b)
	ba := (&state{}).fill(4, b).fill(4, a) // the same bindings, in the other order
	tests := []struct {
		name  string
		x, y  *state
		equal bool
	}{
		{"same bindings, other order", ab, ba, true},
		{"another prefix", ab, (&state{}).fill(5, a).fill(5, b), false},
		{"fewer bindings", ab, (&state{}).fill(4, b), false},
		{"another id", ab, (&state{}).fill(2, &mop{index: 2, id: 23, contested: true}).fill(4, b), false},
	}
	for _, tt := range tests {
		if got := m.Equal(tt.x, tt.y); got != tt.equal || (tt.equal && m.Hash(tt.x) != m.Hash(tt.y)) {
			t.Errorf("%s: Equal %v, want %v (hashes %x %x)", tt.name, got, tt.equal, m.Hash(tt.x), m.Hash(tt.y))
		}
	}
	if got := describe(ba); got != "committed prefix 4; contested positions {2: 0x16, 4: 0x2c}" {
		t.Errorf("describe: %q", got)
	}
}

// planned describes the operations of a plan: "op:index:return" for each
// (in milliseconds), then the pruned ("p") and dropped ("d") counts.
func planned(p *plan) string {
	var b strings.Builder
	for _, m := range p.ops {
		ret := fmt.Sprint(m.ret / 1e6)
		if m.ret%1e6 == 1 { // the end of time: 1 ns after the history's last instant
			ret = "end"
		}
		fmt.Fprintf(&b, "%d:%d:%s ", m.op, m.index, ret)
	}
	fmt.Fprintf(&b, "%dp %dd", p.pruned, p.dropped)
	return b.String()
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name    string
		history []Op
		log     []uint64 // ids from index 1
		want    string
	}{
		{"acked appends and reads kept", []Op{ack(0, 11, 1, 0, 2), found(1, 1, 11, 1, 3), absent(2, 1, 1, 3)}, []uint64{11},
			"0:1:2 1:1:3 2:1:3 0p 0d"},
		{"failed and unknown reads dropped", []Op{ack(0, 11, 1, 0, 2), {Kind: Read, Index: 1, Outcome: Unknown}, refused(0, 12, 3, 4)}, []uint64{11},
			"0:1:2 0p 2d"},
		{"unknown append: bounded by the first later claim at or above it", []Op{unsure(0, 11, 0), ack(1, 12, 3, 1, 9), found(2, 2, 11, 1, 5)}, []uint64{0, 11, 12},
			"0:2:5 1:3:9 2:2:5 0p 0d"},
		{"unknown append: no claim above it", []Op{ack(1, 12, 1, 0, 1), unsure(0, 11, 2), absent(1, 2, 2, 3)}, []uint64{12, 11},
			"0:1:1 1:2:end 2:2:3 0p 0d"},
		{"unknown append: claims above returned before its call", []Op{ack(1, 12, 2, 0, 1), unsure(0, 11, 2)}, []uint64{11, 12},
			"0:2:1 1:1:end 0p 0d"},
		{"unknown append: seen by a read only", []Op{unsure(0, 11, 0), found(1, 3, 11, 1, 2)}, []uint64{},
			"0:3:2 1:3:2 0p 0d"},
		{"unknown append: neither committed nor seen", []Op{unsure(0, 11, 0), ack(1, 12, 1, 1, 2)}, []uint64{12},
			"1:1:2 0p 1d"},
		{"unknown append retried under an acked one's id", []Op{unsure(0, 11, 0), ack(0, 11, 2, 1, 2)}, []uint64{11, 11},
			"1:2:2 0p 1d"},
		{"reads pruned", []Op{ack(0, 11, 2, 0, 1), found(1, 1, 10, 2, 3), found(1, 2, 11, 2, 3), absent(1, 5, 2, 3), ack(0, 12, 3, 2, 4)}, []uint64{10, 11, 12},
			"0:2:1 4:3:4 3p 0d"},
		{"reads kept: concurrent, or contested", []Op{ack(0, 11, 2, 0, 5), found(1, 2, 11, 1, 3), absent(1, 2, 1, 3), found(2, 1, 0, 6, 7), found(2, 1, 9, 8, 9)},
			[]uint64{0, 11},
			"0:2:5 1:2:3 2:2:3 3:1:7 4:1:9 0p 0d"},
	}
	for _, tt := range tests {
		c := &checker{max: 10, diverged: map[uint64]bool{}}
		c.readLogs(group(1, tt.log...))
		c.readHistory(tt.history)
		if got := planned(planSearch(c.h, c.f)); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestWindows(t *testing.T) {
	op := func(k int, index uint64, call, ret int64) *mop {
		return &mop{op: k, kind: Append, index: index, id: uint64(k), call: call, ret: ret}
	}
	// Quiescent before ops 2 (at 10), 3 (at 20) and 5 (at 40), not before 1 and 4.
	ops := []*mop{op(0, 1, 0, 5), op(1, 2, 3, 8), op(2, 3, 10, 12), op(3, 4, 20, 35), op(4, 5, 30, 32), op(5, 7, 40, 41)}
	tests := []struct {
		size int
		want string // each window: its first op and the prefix it starts from
	}{
		{1, "[0@0 2@2 3@3 5@5]"},
		{2, "[0@0 2@2 3@3 5@5]"},
		{3, "[0@0 3@3]"},
		{4, "[0@0 3@3]"},
		{5, "[0@0 5@5]"},
		{6, "[0@0]"},
		{math.MaxInt, "[0@0]"},
	}
	for _, tt := range tests {
		var got []string
		for _, w := range (&plan{ops: ops}).windows(tt.size) {
			got = append(got, fmt.Sprintf("%d@%d", w.ops[0].op, w.init.last))
		}
		if fmt.Sprint(got) != tt.want {
			t.Errorf("size %d: windows %v, want %s", tt.size, got, tt.want)
		}
	}
}
