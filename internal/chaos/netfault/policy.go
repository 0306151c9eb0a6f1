package netfault

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Faults are what happens to the frames of a direction that no partition
// or block cuts. Probabilities are in [0, 1]; the zero Faults forwards every
// frame at once.
type Faults struct {
	Drop      float64 // probability that a frame is dropped
	Duplicate float64 // probability that a frame is written twice
	Reorder   float64 // probability that a frame is held and written after the next one
	// Delay holds every frame this long, plus a uniform [0, Jitter) more;
	// frames keep their order (a frame is never written before the one read
	// ahead of it).
	Delay, Jitter time.Duration
}

func (f Faults) check() {
	for _, p := range []float64{f.Drop, f.Duplicate, f.Reorder} {
		if !(p >= 0 && p <= 1) {
			panic(fmt.Sprintf("netfault: probability %v outside [0, 1] in %+v", p, f))
		}
	}
	if f.Delay < 0 || f.Jitter < 0 {
		panic(fmt.Sprintf("netfault: negative delay %v or jitter %v", f.Delay, f.Jitter))
	}
}

// policy is an immutable snapshot of the cuts and faults in force. The Net
// replaces it as a whole (copy on write), so a frame's fate is decided on
// one consistent snapshot without a lock.
type policy struct {
	group   map[string]int // partition group of every node; nil when not partitioned
	blocked map[Link]bool  // one-way blocks
	all     Faults         // SetFaults
	links   map[Link]Faults
}

// cut reports whether frames travelling along l are blackholed.
func (p *policy) cut(l Link) bool {
	if p.group != nil && p.group[l.From] != p.group[l.To] {
		return true
	}
	return p.blocked[l]
}

// faults returns the faults of direction l: its own, else every link's.
func (p *policy) faults(l Link) Faults {
	if f, ok := p.links[l]; ok {
		return f
	}
	return p.all
}

func (p *policy) clone() *policy {
	return &policy{group: maps.Clone(p.group), blocked: maps.Clone(p.blocked), all: p.all, links: maps.Clone(p.links)}
}

// update applies f to a copy of the policy in force and installs it.
func (n *Net) update(f func(p *policy)) {
	n.policyMu.Lock()
	defer n.policyMu.Unlock()
	p := n.policy.Load().clone()
	f(p)
	n.policy.Store(p)
}

// mustKnow panics unless id is one of the Net's nodes.
func (n *Net) mustKnow(id string) {
	if _, ok := n.peers[id]; !ok {
		panic(fmt.Sprintf("netfault: unknown node %q; nodes: %v", id, n.ids))
	}
}

// Partition splits the nodes into groups: frames between nodes of
// different groups are blackholed in both directions; nodes listed in no
// group form a group of their own each. It replaces the previous
// partition (Block and the faults stay). It panics on an unknown id or an
// id listed twice.
func (n *Net) Partition(groups ...[]string) {
	group := make(map[string]int, len(n.ids))
	for g, ids := range groups {
		for _, id := range ids {
			n.mustKnow(id)
			if _, dup := group[id]; dup {
				panic(fmt.Sprintf("netfault: node %q in two groups of the partition %v", id, groups))
			}
			group[id] = g
		}
	}
	next := len(groups)
	for _, id := range n.ids {
		if _, ok := group[id]; !ok {
			group[id] = next
			next++
		}
	}
	n.log.Info("netfault: partition", "groups", groups)
	n.update(func(p *policy) { p.group = group })
}

// Isolate cuts id off from every other node, both ways: Partition({id},
// {everyone else}).
func (n *Net) Isolate(id string) {
	n.mustKnow(id)
	others := slices.DeleteFunc(slices.Clone(n.ids), func(o string) bool { return o == id })
	n.Partition([]string{id}, others)
}

// Block blackholes the frames sent by from to to, on whichever connection
// they travel; frames from to to from still flow. Blocks add up until Heal.
func (n *Net) Block(from, to string) {
	n.mustKnow(from)
	n.mustKnow(to)
	n.log.Info("netfault: block", "from", from, "to", to)
	n.update(func(p *policy) {
		if p.blocked == nil {
			p.blocked = map[Link]bool{}
		}
		p.blocked[Link{from, to}] = true
	})
}

// SetFaults sets the faults of every direction that has none of its own
// (SetLinkFaults). It panics on a probability outside [0, 1] or a negative
// duration.
func (n *Net) SetFaults(f Faults) {
	f.check()
	n.log.Info("netfault: faults on every link", "faults", fmt.Sprintf("%+v", f))
	n.update(func(p *policy) { p.all = f })
}

// SetLinkFaults sets the faults of the frames sent by from to to, in place
// of the SetFaults ones, until Heal. It panics like SetFaults, and on an
// unknown id.
func (n *Net) SetLinkFaults(from, to string, f Faults) {
	n.mustKnow(from)
	n.mustKnow(to)
	f.check()
	n.log.Info("netfault: faults on a link", "from", from, "to", to, "faults", fmt.Sprintf("%+v", f))
	n.update(func(p *policy) {
		if p.links == nil {
			p.links = map[Link]Faults{}
		}
		p.links[Link{from, to}] = f
	})
}

// Heal removes every partition, block and fault: frames read from now on
// (and frames still held by a delay) are forwarded. Frames dropped before
// are lost.
func (n *Net) Heal() {
	n.log.Info("netfault: heal")
	n.update(func(p *policy) { *p = policy{} })
}
