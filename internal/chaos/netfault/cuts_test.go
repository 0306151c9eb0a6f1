package netfault_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/chaos/netfault"
	"github.com/rmqlog/rmqlog/internal/poll"
)

// TestPartition: frames across a partition are blackholed both ways on the
// existing connections and on one opened during it, without resetting any;
// after Heal the same connections carry frames again, and what was
// blackholed stays lost.
func TestPartition(t *testing.T) {
	ids := []string{"a", "b", "c"}
	tests := []struct {
		name string
		cut  func(n *netfault.Net)
		// across reports whether from and to are on different sides.
		across func(from, to string) bool
	}{
		{"isolate a", func(n *netfault.Net) { n.Isolate("a") },
			func(from, to string) bool { return from == "a" || to == "a" }},
		{"groups", func(n *netfault.Net) { n.Partition([]string{"a", "c"}, []string{"b"}) },
			func(from, to string) bool { return from == "b" || to == "b" }},
		{"unlisted nodes are singletons", func(n *netfault.Net) { n.Partition([]string{"a", "b"}) },
			func(from, to string) bool { return from == "c" || to == "c" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, nodes := testNet(t, netfault.Options{Seed: 1}, ids...)
			senders := map[netfault.Link]*sender{}
			for _, from := range ids {
				for _, to := range ids {
					if from != to {
						senders[netfault.Link{From: from, To: to}] = dial(t, n, from, to)
					}
				}
			}
			tt.cut(n)
			late := dial(t, n, "a", "b") // accepted and handshaken during the cut
			for l, s := range senders {
				s.send(1, 2, 3)
				waitFrames(t, n, l, 3)
			}
			late.send(4)
			waitFrames(t, n, netfault.Link{From: "a", To: "b"}, 4)
			n.Heal()
			for _, s := range senders {
				s.send(marker)
			}
			late.send(marker)
			for l, s := range senders {
				across := tt.across(l.From, l.To)
				want, markers := []uint64{marker}, 1
				if !across {
					want = append(want, 1, 2, 3)
				}
				if l == (netfault.Link{From: "a", To: "b"}) { // the late connection's too
					want, markers = append(want, marker), 2
					if !across {
						want = append(want, 4)
					}
				}
				poll.Eventually(t, 10*time.Second, fmt.Sprintf("the markers on %v", l), func() bool {
					return countMarkers(nodes[l.To].arrivals(l.From)) == markers
				})
				if s.closed() || late.closed() {
					t.Fatalf("a connection was closed (%v: %v, late a->b: %v)", l, s.closed(), late.closed())
				}
				got := indexes(nodes[l.To].arrivals(l.From))
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("%v got %v, want %v", l, got, want)
				}
				st := n.Stats().Links[l]
				if across != (st.Blackholed > 0) {
					t.Fatalf("%v: stats %+v, across the cut: %v", l, st, across)
				}
			}
		})
	}
}

// TestBlock: Block(from, to) drops what from sends to to, on from's own
// connection and on a connection to dialed (b writes frames back on a's
// connection here, which rmqlog nodes never do), and nothing else.
func TestBlock(t *testing.T) {
	tests := []struct {
		name  string
		block []netfault.Link
		atB   bool // a's frames reach b on a's connection
		echo  bool // b's frames reach a on a's connection
		atA   bool // b's frames reach a on b's connection
	}{
		{"none", nil, true, true, true},
		{"a to b", []netfault.Link{{From: "a", To: "b"}}, false, false, true},
		{"b to a", []netfault.Link{{From: "b", To: "a"}}, true, false, false},
		{"both", []netfault.Link{{From: "a", To: "b"}, {From: "b", To: "a"}}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, nodes := testNet(t, netfault.Options{Seed: 1}, "a", "b")
			nodes["b"].echo = true
			for _, l := range tt.block {
				n.Block(l.From, l.To)
			}
			ab, ba := dial(t, n, "a", "b"), dial(t, n, "b", "a")
			ab.send(1, 2, 3)
			ba.send(1, 2, 3)
			waitFrames(t, n, netfault.Link{From: "a", To: "b"}, 3)
			echoes := uint64(0)
			if tt.atB {
				echoes = 3
			}
			waitFrames(t, n, netfault.Link{From: "b", To: "a"}, 3+echoes)
			n.Heal()
			ab.send(marker)
			ba.send(marker)
			poll.Eventually(t, 10*time.Second, "the markers", func() bool {
				return hasMarker(nodes["b"].arrivals("a")) && hasMarker(ab.readBackFrames()) && hasMarker(nodes["a"].arrivals("b"))
			})
			check := func(what string, as []arrival, flows bool) {
				t.Helper()
				got, want := indexes(withoutMarker(t, as)), []uint64{1, 2, 3}
				if !flows {
					want = nil
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s: got %v, want %v", what, got, want)
				}
			}
			check("a's frames at b", nodes["b"].arrivals("a"), tt.atB)
			check("b's frames back on a's connection", ab.readBackFrames(), tt.echo && tt.atB)
			check("b's frames at a", nodes["a"].arrivals("b"), tt.atA)
		})
	}
}

func countMarkers(as []arrival) int {
	k := 0
	for _, a := range as {
		if a.index == marker {
			k++
		}
	}
	return k
}

// TestCutDropsDelayedFrames: frames still held by a delay when a cut
// begins are dropped when they fall due, as frames in flight would be.
func TestCutDropsDelayedFrames(t *testing.T) {
	n, nodes := testNet(t, netfault.Options{Seed: 1}, "a", "b")
	ab := netfault.Link{From: "a", To: "b"}
	n.SetLinkFaults("a", "b", netfault.Faults{Delay: time.Second})
	s := dial(t, n, "a", "b")
	s.send(1, 2, 3)
	waitFrames(t, n, ab, 3)
	n.Block("a", "b")
	if got := nodes["b"].arrivals("a"); len(got) != 0 {
		t.Fatalf("frames %v arrived before their delay", indexes(got))
	}
	poll.Eventually(t, 10*time.Second, "the delayed frames blackholed", func() bool { return n.Stats().Links[ab].Blackholed == 3 })
	n.Heal()
	s.send(marker)
	poll.Eventually(t, 10*time.Second, "the marker at b", func() bool { return hasMarker(nodes["b"].arrivals("a")) })
	if got := indexes(nodes["b"].arrivals("a")); !slices.Equal(got, []uint64{marker}) {
		t.Fatalf("b got %v, want only the marker", got)
	}
}
