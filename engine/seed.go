package engine

import (
	"errors"
	"fmt"

	"github.com/rmqlog/rmqlog/engine/raft"
	"github.com/rmqlog/rmqlog/segment"
)

// ErrNotEmpty is returned by Seed for a data directory that already holds
// a log or a hard state.
var ErrNotEmpty = errors.New("engine: the data directory is not empty")

// SeedTerm is the term of every seeded entry. No leader is ever elected
// in it: a seeded member starts as a member that lost its hard state at
// this term (see Seed), so every election is in a later term.
const SeedTerm = 1

// Seed writes the first entries of a new group's log into the empty data
// directory of one member, before the group's first start: what an import
// does (issue 19, `rmqlog commitlog import`). add appends one entry of the
// given type (never TypeNoop) and payload; cfg.Stamp, if set, is called
// for it as for a leader's append, with its final position. Seed returns
// what it wrote, once the log and the hard state are durable.
//
// Every member seeded with the same entries in the same order holds the
// same bytes at the same offsets (entries are framed the same way on every
// member), so `rmqlog verify` finds the replicas identical, and
// SeedResult.LastCRC is the same on every member. Compare it before the
// first start: members seeded from different inputs hold entries with the
// same index and term but other bytes, which Raft cannot tell apart (its
// Log Matching rule assumes one leader made every entry of a term); the
// CRC chain catches it, and such a member refuses the leader's entries
// (logged "refusing a batch ... do not continue the log") and never
// catches up until it is seeded again from the same input.
//
// Why it is safe. The entries are written at SeedTerm, and the member's
// hard state is that of a member that lost it at SeedTerm
// (raft.LostState): it votes only once it has heard every member's term
// (the census), never in a term it may have voted in, and it repairs, so
// it counts toward an election only with every member's vote, until its
// log holds a leader's whole log. Hence:
//   - a group whose members were all seeded elects its first leader once
//     every member has started, as a new group does (docs/durability.md),
//     in a term above SeedTerm; that leader's no-op commits the seeded
//     entries with everything before it (Raft's rule for earlier terms);
//   - no seeded entry counts as committed before a leader commits it;
//   - a directory that was wiped and then seeded is a member that lost
//     its hard state, exactly as an empty one: it never votes twice in a
//     term, and a live group's leader overwrites the seeded entries.
//
// Seed refuses (ErrNotEmpty) a data directory whose log holds an entry
// or which holds a hard state: seeding is for a new group's first start.
// It takes the directory's lock like a running node, so it cannot run
// beside one.
func Seed(cfg Config, fill func(add func(typ segment.Type, payload []byte) error) error) (res SeedResult, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return res, err
	}
	st := newStore(cfg)
	if err := st.open(cfg, func(d segment.Damage) error {
		return fmt.Errorf("%w: %s holds a damaged log (%v); seed only an empty data directory", ErrNotEmpty, cfg.LogDir, d)
	}); err != nil {
		return res, err
	}
	defer st.unlockDir()
	defer func() {
		if cerr := st.closeLog(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if st.stateExists() || st.LastIndex() >= st.FirstIndex() || st.FirstIndex() > 1 {
		return res, fmt.Errorf("%w: %s holds a log (entries %d to %d) or a hard state (raft-state); "+
			"an import seeds only the empty data directory of a new group's member, before its first start",
			ErrNotEmpty, cfg.Dir, st.FirstIndex(), st.LastIndex())
	}
	add := func(typ segment.Type, payload []byte) error {
		if typ == segment.TypeNoop {
			return fmt.Errorf("engine: seed: a no-op entry (only a leader appends those)")
		}
		if len(payload) > cfg.MaxEntrySize {
			return fmt.Errorf("%w: %d bytes, at most %d (maxMessageSize)", ErrTooLarge, len(payload), cfg.MaxEntrySize)
		}
		if _, err := st.Append(SeedTerm, typ, payload); err != nil {
			return err
		}
		res.Bytes += int64(len(payload))
		return nil
	}
	if err := fill(add); err != nil {
		// Leave the directory as it was (empty), so that the import can
		// run again once its cause is fixed.
		if terr := st.flusher.TruncateSuffix(1); terr != nil { // no core, no senders yet
			err = errors.Join(err, fmt.Errorf("engine: seed: removing the entries written before the failure: %w", terr))
		}
		return SeedResult{}, err
	}
	if _, err := st.Sync(); err != nil {
		return res, fmt.Errorf("engine: seed: syncing the log: %w", err)
	}
	if err := st.Checkpoint(); err != nil {
		return res, fmt.Errorf("engine: seed: the log's checkpoint: %w", err)
	}
	if err := st.saveState(raft.LostState(SeedTerm)); err != nil {
		return res, fmt.Errorf("engine: seed: saving the hard state: %w", err)
	}
	res.Last = st.LastIndex()
	if res.Last >= 1 {
		e, err := st.Read(res.Last)
		if err != nil {
			return res, fmt.Errorf("engine: seed: reading the last entry back: %w", err)
		}
		res.LastCRC = e.CRC
	}
	return res, nil
}

// SeedResult is what Seed wrote.
type SeedResult struct {
	Last    uint64 // the last index (entries 1 to Last)
	LastCRC uint32 // the last entry's CRC: it chains every entry before it, a digest of the whole log
	Bytes   int64  // payload bytes
}
