package bench

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/load"
)

// Check reads every current node's committed log, from its first index to the
// commit index the leader had when Check started (every node must hold
// it: call WaitCaughtUp first), in one pass per node. It reports an
// acknowledged index lost if on some node its entry is missing or its
// bytes differ from what the append wrote (load.FillPayload of its id);
// and it compares every entry's term, type and CRC across the nodes (the
// first difference goes to detail). Duplicates counts operation ids found
// at more than one index (appends are at least once: a retry after an
// unknown outcome may commit twice).
func (g *rmqGroup) Check(ctx context.Context, acks []load.Ack, payload int) (CheckReport, error) {
	last, err := g.LastSeq(ctx)
	if err != nil {
		return CheckReport{}, err
	}
	sorted := slices.Clone(acks)
	slices.SortFunc(sorted, func(a, b load.Ack) int { return cmp.Compare(a.Seq, b.Seq) })
	c := &checker{acks: sorted, want: make([]byte, payload), lost: map[uint64]bool{}, ids: map[uint64]int{}}
	var notes []string
	nodes := g.Nodes()
	for i, id := range nodes {
		if err := c.node(ctx, id, g.addrs[id], last, i == 0); err != nil {
			return CheckReport{}, err
		}
	}
	if c.before > 0 {
		notes = append(notes, fmt.Sprintf("%d acknowledged indexes lie before a node's first index (retention) and were not read there", c.before))
	}
	var lost []uint64
	for seq := range c.lost {
		lost = append(lost, seq)
	}
	slices.Sort(lost)
	var dups int64
	for _, n := range c.ids {
		if n > 1 {
			dups += int64(n - 1)
		}
	}
	notes = append(notes, fmt.Sprintf("read indexes %d..%d from %d nodes (%s)", c.from, last, len(nodes), strings.Join(nodes, ", ")))
	return CheckReport{Lost: lost, Duplicates: dups, Diverged: c.diff, Detail: strings.Join(notes, "; ")}, nil
}

// checker is Check's state across the nodes.
type checker struct {
	acks   []load.Ack // by Seq
	want   []byte
	lost   map[uint64]bool
	ids    map[uint64]int       // operation id -> indexes holding it (first node)
	ref    map[uint64]entryMark // index -> the first node's entry
	refID  string               // the first node
	diff   string
	from   uint64
	before int
}

// node reads node id's log from its first index to last and checks it.
func (c *checker) node(ctx context.Context, id, addr string, last uint64, first bool) error {
	cl, err := client.Dial(ctx, []string{addr}, client.WithPinned())
	if err != nil {
		return fmt.Errorf("bench: check: node %s: %w", id, err)
	}
	defer cl.Close()
	m, err := cl.Meta(ctx)
	if err != nil {
		return fmt.Errorf("bench: check: node %s: %w", id, err)
	}
	if m.Commit < last {
		return fmt.Errorf("bench: check: node %s has committed %d, the leader %d: wait for it first", id, m.Commit, last)
	}
	if first {
		c.ref, c.from = map[uint64]entryMark{}, m.First
	}
	a := 0
	for a < len(c.acks) && c.acks[a].Seq < m.First {
		c.before++
		a++
	}
	for cur := m.First; cur <= last; {
		es, err := cl.Range(ctx, cur, 4096)
		if err != nil {
			return fmt.Errorf("bench: check: node %s, reading from %d: %w", id, cur, err)
		}
		if len(es) == 0 {
			return fmt.Errorf("bench: check: node %s returned nothing at %d below its commit index %d", id, cur, m.Commit)
		}
		for _, e := range es {
			if e.Index > last {
				break
			}
			c.entry(id, e, first)
			for ; a < len(c.acks) && c.acks[a].Seq <= e.Index; a++ {
				if c.acks[a].Seq < e.Index {
					c.lost[c.acks[a].Seq] = true // a hole: cannot happen in a Range
					continue
				}
				load.FillPayload(c.want, c.acks[a].ID)
				if e.Type != proto.EntryMessage || !bytes.Equal(e.Payload, c.want) {
					c.lost[e.Index] = true
				}
			}
		}
		cur = es[len(es)-1].Index + 1
	}
	for ; a < len(c.acks); a++ {
		c.lost[c.acks[a].Seq] = true // acknowledged beyond the commit index
	}
	return nil
}

// entryMark is what is compared of an entry across nodes (the CRC covers
// the payload).
type entryMark struct {
	term uint64
	crc  uint32
	typ  uint8
}

// entry compares one entry with the first node's and counts its id.
func (c *checker) entry(id string, e proto.Entry, first bool) {
	sum := entryMark{e.Term, e.CRC, e.Type}
	if first {
		c.ref[e.Index], c.refID = sum, id
		if pid, ok := load.PayloadID(e.Payload); ok && e.Type == proto.EntryMessage {
			c.ids[pid]++
		}
		return
	}
	if ref, ok := c.ref[e.Index]; ok && ref != sum && c.diff == "" {
		c.diff = fmt.Sprintf("node %s differs from node %s at index %d (term %d, crc %08x)", id, c.refID, e.Index, e.Term, e.CRC)
	}
}
