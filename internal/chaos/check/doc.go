// Package check is the history checker of the fault campaign. A driver
// (package chaos) runs clients against a 3-5 node group while it injects
// faults, records every client operation as an Op, heals the group, reads
// the whole committed log of every node (NodeLog, built with EntryOf or
// WireEntry) and calls Check. Check is pure: no network, no processes, no
// clock but the one timing its own search.
//
//	history []Op ──┬─> per operation: lost acks, failed appends applied,
//	               │   reads against the final log, reads going backwards
//	logs []NodeLog ┼─> per index: divergence between nodes, duplicates,
//	               │   entries no client appended
//	               └─> linearizability of the history (porcupine), in
//	                   windows cut at quiescent points
//
// Every append's payload carries a unique operation id (load.SetID), so an
// entry names the operation that wrote it.
//
// # The final log
//
// The union of the node logs: for each index, the entry of the first node
// (in the order given) that holds it. Two nodes holding different entries
// at an index (term, type, CRC or id) is a Divergence. An acknowledged
// append is Lost if some node holding its index holds another entry there,
// or if no node holds the index; an index below every node's first index
// (retention) cannot be verified and is only counted.
//
// # The model
//
// The linearizability search (github.com/anishathalye/porcupine, as
// etcd's robustness tests use it) checks the history against a log whose
// positions are filled in order. Its state is the length L of the
// committed prefix and the ids known at positions:
//
//	append(id) -> i         legal iff i > L;  then L = i, pos[i] = id
//	read(i) -> absent       legal iff i > L
//	read(i) -> x, i > L     legal;            then L = i, pos[i] = x
//	read(i) -> x, i <= L    legal iff pos[i] is x or unknown; then pos[i] = x
//
// Positions between L and i are filled by entries the search does not
// see: leaders' no-ops, duplicates of retried appends, dropped appends.
// So concurrent appends acknowledged out of order are fine, an append
// acknowledged at or below an index that a completed operation had
// already reached is not, and neither is a read that finds nothing where
// a completed operation had reached.
//
// The state is small: pos is kept only at contested positions, where two
// operations of the search claim different ids (elsewhere every claim
// agrees, so the check "pos[i] is x or unknown" always holds). It is an
// immutable struct with a shared list of bindings; Equal compares L and a
// hash of the bindings, which is exact here because porcupine compares
// states only for the same set of linearized operations, and the state
// is a function of that set (L is the highest index the set claims, pos
// the ids it claims).
//
// # What goes into the search
//
// As etcd's robustness tests do, the search is kept small:
//   - Appends of outcome Failed are left out; one whose id was committed
//     (or seen by a read) is reported as FailedApplied instead.
//   - An append of outcome Unknown whose id the final log holds takes the
//     lowest index holding it as its output (else the lowest index a read
//     found it at; else it had no visible effect and is left out). Its
//     return is unknown, but it must take effect before any successful
//     operation claiming an index at or above its own (after that, an
//     append there is illegal), so its return is the earliest return of
//     those; with none, or if that was before its call, the end of time.
//     This removes no valid linearization, and keeps the append from
//     spanning the rest of the history: left open to the end of time, a
//     few such appends leave no quiescent point and make the search
//     explode (600 operations of 5 clients, 461 of them searched, ran out
//     of 30 s).
//   - Reads of outcome Failed or Unknown are left out (they have no
//     output), and so is an unknown append whose id an acknowledged or an
//     earlier unknown append carries (a driver retrying under the same
//     id): that one accounts for the entry.
//   - A read whose verdict and effect cannot depend on where it is
//     linearized is pruned: one that found an uncontested index at or
//     below an index claimed by an operation that returned before it was
//     called (L is already past it, so it is legal and changes nothing),
//     and one that found nothing at an index above every index claimed by
//     an operation called before it returned (L cannot have reached it).
//
// # Windows
//
// The search's memory grows with the square of its length (porcupine
// keeps a bitset of the linearized operations for each state it caches):
// a stretch of 15 000-17 000 operations of 8 clients without a pause
// took 1.2-1.6 s and 0.8-0.9 GB, one of 26 000 about 15 s and 2 GB. So the history is cut into
// windows at quiescent points, instants at which no operation of the
// search is in flight (every operation called before returned before).
// Each window starts from the state the operations before it leave. This
// is exact: at a quiescent point every earlier operation precedes every
// later one in real time, so each is linearized before any later one, and
// the state then is a function of the set of earlier operations (above);
// the history is linearizable iff each window is, from that state. The
// windows are searched in parallel; the first illegal one is reported.
//
// A closed-loop client is never idle, so the driver must make quiescent
// points: pause every client at a barrier every few hundred operations or
// every second. With one every 250 operations, checking 20 000 operations
// of 8 clients took 0.2 s and 100 000 took 1 s (BenchmarkCheck, two
// shared cores).
// A stretch longer than Options.MaxWindow is not searched and makes the
// result porcupine.Unknown.
//
// # Verdict
//
// Report.OK requires every log read, every operation well formed, and no
// lost ack, divergence, read going backwards or contradicting the final
// log, failed append applied or unknown entry, and a linearizable history.
// A search that timed out or was over MaxWindow (porcupine.Unknown) is not
// OK: a check that did not finish proves nothing. Duplicates (at-least-once
// appends) are reported and fail only with Options.DuplicatesFail.
package check
