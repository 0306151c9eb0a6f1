// Package testgroup runs a Raft group of real engine nodes inside a test:
// N members n0, n1, ... opened with engine.Open on 127.0.0.1 listeners,
// each with a data directory of its own under t.TempDir(), closed when the
// test ends. It is for tests that need a whole group (elections,
// replication, a member stopped and restarted, faults between the
// members) and exercise the engine only through its public API, as
// etcd's rafttest serves etcd's. Deterministic consensus tests use the
// engine's simulator instead; tests of real processes start rmqlog
// binaries (cmd/rmqlog, internal/hostile).
//
//	g := testgroup.Start(t, testgroup.Options{Nodes: 3})
//	l := g.Leader() // waits for a writable leader
//	i, err := l.Append(ctx, []byte("x"))
//	...
//	g.Stop(l.ID())      // Close; its directory and address are kept
//	nl := g.Leader(l.ID())
//	g.Restart(l.ID())   // reopens from its directory
//	g.Converge(nl.Status().Last)
//
// Every member opens from Defaults (small files, fast timers, a quiet
// logger), then Options.Config adjusts it: flush mode, file sizes, timers,
// an FS or a Clock are engine.Config fields set there, so the package has
// no second name for any of them. Options.Network puts something between
// the members, as internal/chaos/netfault does:
//
//	var nf *netfault.Net
//	g := testgroup.Start(t, testgroup.Options{
//		Network: func(addrs map[string]string) func(id string) map[string]string {
//			n, err := netfault.New(addrs, netfault.Options{Seed: 42})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { n.Close() }) // runs after the members' Close
//			nf = n
//			return n.Peers
//		},
//	})
//
// The waits (Leader and Restart after 10 s, Converge after 20 s, and
// Eventually, the test's own) fail the test when they give up, Leader,
// Converge and Eventually with every member's status (Describe). A Group's
// methods must be called from the test's goroutine, except Append, Node,
// Nodes, Dir and Describe, which any goroutine may call.
//
// The package uses only the engine's exported API, so only external tests
// (package x_test) of the engine can use it: an internal test of package
// engine importing it would be an import cycle.
package testgroup
