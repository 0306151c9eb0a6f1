package admin

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/segment"
)

// Report is the outcome of comparing replicas.
type Report struct {
	Nodes    []string // node ids (online) or directories (offline), in the order given
	From, To uint64   // the range compared: present and committed on every node
	Compared uint64   // entries compared
	Diff     *Difference
	Notes    []string // what was not compared, and why
}

// Identical reports whether no difference was found.
func (r Report) Identical() bool { return r.Diff == nil }

// Difference is the first index at which replicas disagree.
type Difference struct {
	Index   uint64
	Entries []string // each node's entry at Index, described
}

func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "compared %d entries [%d, %d] on %s\n", r.Compared, r.From, r.To, strings.Join(r.Nodes, ", "))
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if r.Diff == nil {
		b.WriteString("replicas identical\n")
		return b.String()
	}
	fmt.Fprintf(&b, "replicas DIFFER at index %d:\n", r.Diff.Index)
	for i, e := range r.Diff.Entries {
		fmt.Fprintf(&b, "  %s: %s\n", r.Nodes[i], e)
	}
	return b.String()
}

// Verify compares the committed prefixes of the nodes at addrs (client
// addresses), entry by entry: index, term, type, CRC and payload bytes,
// over the range every node holds and knows committed.
func Verify(ctx context.Context, addrs []string) (Report, error) {
	var r Report
	cs := make([]*client.Client, len(addrs))
	defer func() {
		for _, c := range cs {
			if c != nil {
				c.Close()
			}
		}
	}()
	r.From, r.To = 0, ^uint64(0)
	for i, a := range addrs {
		c, err := client.Dial(ctx, []string{a}, client.WithPinned())
		if err != nil {
			return r, fmt.Errorf("verify: node at %s: %w", a, err)
		}
		cs[i] = c
		m, err := c.Meta(ctx)
		if err != nil {
			return r, fmt.Errorf("verify: node at %s: %w", a, err)
		}
		r.Nodes = append(r.Nodes, m.ID)
		r.From, r.To = max(r.From, m.First), min(r.To, m.Commit)
	}
	if r.From > r.To {
		r.Notes = append(r.Notes, "no index is committed on every node")
		return r, nil
	}
	return r, r.compareOnline(ctx, cs)
}

func (r *Report) compareOnline(ctx context.Context, cs []*client.Client) error {
	for cur := r.From; cur <= r.To; {
		batches := make([][]proto.Entry, len(cs))
		n := -1
		for i, c := range cs {
			es, err := c.Range(ctx, cur, 1024)
			if err != nil {
				return fmt.Errorf("verify: reading [%d, ...] from %s: %w", cur, r.Nodes[i], err)
			}
			batches[i] = es
			if n < 0 || len(es) < n {
				n = len(es)
			}
		}
		n = int(min(uint64(n), r.To-cur+1))
		if n == 0 {
			return fmt.Errorf("verify: a node returned no entries at %d though its commit index covers it", cur)
		}
		for k := range n {
			if d := compareEntries(batches, k); d != nil {
				r.Diff = d
				return nil
			}
			r.Compared++
		}
		cur += uint64(n)
	}
	return nil
}

func compareEntries(batches [][]proto.Entry, k int) *Difference {
	a := batches[0][k]
	same := true
	for _, b := range batches[1:] {
		e := b[k]
		if e.Index != a.Index || e.Term != a.Term || e.Type != a.Type || e.CRC != a.CRC || !bytes.Equal(e.Payload, a.Payload) {
			same = false
		}
	}
	if same {
		return nil
	}
	d := &Difference{Index: a.Index}
	for _, b := range batches {
		e := b[k]
		d.Entries = append(d.Entries, fmt.Sprintf("index %d term %d type %d crc %08x %d bytes %s",
			e.Index, e.Term, e.Type, e.CRC, len(e.Payload), preview(e.Payload, 32)))
	}
	return d
}

// key is what offline verify keeps per entry: the CRC covers the index,
// term, type, the previous entry's CRC and the payload.
type key struct {
	term uint64
	crc  uint32
}

// VerifyDirs compares the logs in the data directories of stopped nodes
// (12 bytes of memory per entry). A stopped node's commit index is not
// known, so the range compared is every index all logs hold; a difference
// near the end can be an uncommitted suffix that the leader would have
// replaced: Verify on the running group is the authoritative check.
func VerifyDirs(dirs []string) (Report, error) {
	r := Report{Nodes: dirs, To: ^uint64(0)}
	logs := make([][]key, len(dirs))
	firsts := make([]uint64, len(dirs))
	for i, d := range dirs {
		end, err := segment.Scan(LogDir(d), func(s segment.Scanned) error {
			logs[i] = append(logs[i], key{s.Term, s.CRC})
			return nil
		})
		if err != nil {
			return r, fmt.Errorf("verify: %s: %w", d, err)
		}
		if end.Reason != "end of log" {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: scan stopped at index %d: %s", d, end.Last+1, end.Reason))
		}
		firsts[i] = end.First
		r.From, r.To = max(r.From, end.First), min(r.To, end.First+uint64(len(logs[i]))-1)
	}
	if len(dirs) == 0 || r.From > r.To || r.To == ^uint64(0) {
		r.Notes = append(r.Notes, "no index is present in every log")
		return r, nil
	}
	for idx := r.From; idx <= r.To; idx++ {
		a := logs[0][idx-firsts[0]]
		for i := 1; i < len(logs); i++ {
			if logs[i][idx-firsts[i]] != a {
				r.Diff = &Difference{Index: idx}
				for j := range logs {
					k := logs[j][idx-firsts[j]]
					r.Diff.Entries = append(r.Diff.Entries, fmt.Sprintf("term %d crc %08x", k.term, k.crc))
				}
				return r, nil
			}
		}
		r.Compared++
	}
	r.Notes = append(r.Notes, "offline: the commit index is unknown; entries after the shortest log were not compared")
	return r, nil
}
