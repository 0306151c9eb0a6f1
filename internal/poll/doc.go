// Package poll is how tests wait for a condition: they check it again and
// again until it holds or a deadline passes, never sleep a fixed time and
// hope (house style: "no time.Sleep to wait for a condition").
//
// Three calls, by what the caller does when the wait fails:
//
//	// The test fails, naming what it waited for and for how long.
//	poll.Eventually(t, 10*time.Second, "a writable leader", func() bool {
//		return n.Status().Writable
//	})
//
//	// The same, with the condition's last error in the failure
//	// ("connection refused" says more than "not yet").
//	poll.EventuallyNil(t, 15*time.Second, "node n0 answering", func() error {
//		_, err := meta(addr)
//		return err
//	})
//
//	// The caller decides: Until returns ctx's error if ctx ends first.
//	// For a goroutine other than the test's (which must not call
//	// t.Fatal), a failure message with diagnostics gathered at the
//	// deadline, or a wait whose timing out is not a failure.
//	if err := poll.Until(ctx, cond); err != nil { ... }
//
// The condition is checked at once, then after 1 ms, 2 ms, 4 ms, ... and
// then every 20 ms: a condition that holds soon is seen soon, and a long
// wait does not spin on the cores the other tests share. It is checked one
// last time when the deadline passes, so that a condition that came true
// during the last interval is not reported as a failure.
//
// Something that signals (a channel, a sync.Cond) needs no polling: wait
// on it with a select and a timer instead.
//
// The package imports no other package of this module, so that the tests
// of any package, the leaves (segment, flush) included, can use it.
package poll
