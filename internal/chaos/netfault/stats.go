package netfault

import "sync/atomic"

// Link names one direction of travel between two nodes: frames sent by
// From to To. It also names the proxy listener that From dials to reach To.
type Link struct{ From, To string }

func (l Link) String() string { return l.From + "->" + l.To }

// Counters are what a Net did to the frames travelling in one direction
// (or, in Stats.Total, in all of them). A frame read once may be counted
// in several fields: a duplicated frame is in Frames once, in Forwarded
// twice and in Duplicated once.
type Counters struct {
	Frames      uint64 // whole frames read from the sender
	Forwarded   uint64 // frames written to the receiver, each copy counted
	Dropped     uint64 // dropped by the Drop probability
	Blackholed  uint64 // dropped by a partition or a block
	Duplicated  uint64 // extra copies written
	Reordered   uint64 // frames written after the frame that followed them
	Delayed     uint64 // frames held by a Delay or Jitter
	Connections uint64 // connections accepted on the link's listener
	Malformed   uint64 // connections closed because of a bad frame
}

func (c *Counters) add(o Counters) {
	c.Frames += o.Frames
	c.Forwarded += o.Forwarded
	c.Dropped += o.Dropped
	c.Blackholed += o.Blackholed
	c.Duplicated += o.Duplicated
	c.Reordered += o.Reordered
	c.Delayed += o.Delayed
	c.Connections += o.Connections
	c.Malformed += o.Malformed
}

// Stats is a snapshot of a Net's counters. Links has an entry for every
// ordered pair of distinct nodes: the frames travelling in that direction
// (whichever connection carried them); Connections and Malformed count the
// connections of that pair's listener.
type Stats struct {
	Links map[Link]Counters
	Total Counters
}

// counters are the live Counters of one Link, updated by the proxy's
// goroutines.
type counters struct {
	frames, forwarded, dropped, blackholed, duplicated atomic.Uint64
	reordered, delayed, connections, malformed         atomic.Uint64
}

func (c *counters) snapshot() Counters {
	return Counters{
		Frames: c.frames.Load(), Forwarded: c.forwarded.Load(),
		Dropped: c.dropped.Load(), Blackholed: c.blackholed.Load(),
		Duplicated: c.duplicated.Load(), Reordered: c.reordered.Load(),
		Delayed: c.delayed.Load(), Connections: c.connections.Load(),
		Malformed: c.malformed.Load(),
	}
}

// Stats returns the counters of every link and their total.
func (n *Net) Stats() Stats {
	s := Stats{Links: make(map[Link]Counters, len(n.counters))}
	for l, c := range n.counters {
		s.Links[l] = c.snapshot()
		s.Total.add(s.Links[l])
	}
	return s
}
