package fault_test

import (
	"path/filepath"
	"testing"

	"github.com/rmqlog/rmqlog/internal/fault"
	"github.com/rmqlog/rmqlog/segment"
)

const revSeg = 4096

// These power cuts follow a structural change of the log (DeletePrefix,
// TruncateSuffix, Reset), each written durably into one checkpoint slot.
// When Sync's unsynced hint rewrote that same slot, a cut that lost the
// hint also lost the slot, and the older slot described the log before the
// change (found in review). The hint now has a place of its own; every
// case must reopen with exactly the synced entries and no false damage.

func hintOpen(t *testing.T, jp, dir string, onDamage func(segment.Damage) error) (*segment.Log, *fault.Journal, error) {
	t.Helper()
	j, err := fault.OpenJournal(jp)
	if err != nil {
		t.Fatal(err)
	}
	l, err := segment.Open(dir, segment.Options{FS: fault.NewFS(j, nil), SegmentSize: revSeg,
		IndexEntries: 512, VerifyAll: true, OnDamage: onDamage})
	if l != nil {
		t.Cleanup(func() { // before TempDir's removal: no file created behind it
			l.WaitPrepared()
			_ = l.Close()
		})
	}
	return l, j, err
}

// powerCut kills the process that has l open (no Close, no Checkpoint) and
// cuts the power: every write since its last sync is lost.
func powerCut(t *testing.T, l *segment.Log, j *fault.Journal, jp string) {
	t.Helper()
	l.WaitPrepared() // no background file creation during the cut
	j.Close()
	if _, err := fault.PowerLoss(jp); err != nil {
		t.Fatal(err)
	}
}

func hintAppend(t *testing.T, l *segment.Log, n int, term uint64) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := l.Append(term, segment.TypeNormal, make([]byte, 200)); err != nil {
			t.Fatal(err)
		}
	}
}

// After DeletePrefix, the only slot holding the new base is the one Sync's
// unsynced hints overwrite; a power cut before the next Checkpoint leaves
// the older slot, whose base names files DeletePrefix removed.
func TestHintDeletePrefixPowerLoss(t *testing.T) {
	dir, jp := filepath.Join(t.TempDir(), "log"), filepath.Join(t.TempDir(), "journal")
	l, j, err := hintOpen(t, jp, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	hintAppend(t, l, 60, 1) // ~4 data files of 4 KiB
	if _, err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	first, err := l.DeletePrefix(40)
	if err != nil || first == 1 {
		t.Fatalf("DeletePrefix: %d %v", first, err)
	}
	hintAppend(t, l, 5, 1)
	if _, err := l.Sync(); err != nil { // the hint rewrites DeletePrefix's slot, no fsync
		t.Fatal(err)
	}
	powerCut(t, l, j, jp) // killed, no Checkpoint
	l2, _, err := hintOpen(t, jp, dir, nil)
	if err != nil {
		t.Fatalf("open after a power cut that followed DeletePrefix (all data fsynced): %v", err)
	}
	if l2.LastIndex() != 65 {
		t.Fatalf("last %d, want 65", l2.LastIndex())
	}
}

// After TruncateSuffix, lowerCheckpoint's slot is the one the hints
// overwrite; a power cut leaves the older slot, whose synced position is
// above the cut: the truncation is reported as damage.
func TestHintTruncatePowerLoss(t *testing.T) {
	dir, jp := filepath.Join(t.TempDir(), "log"), filepath.Join(t.TempDir(), "journal")
	l, j, err := hintOpen(t, jp, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	hintAppend(t, l, 20, 1)
	if _, err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.TruncateSuffix(11); err != nil { // a Raft conflict
		t.Fatal(err)
	}
	hintAppend(t, l, 3, 2) // the new leader's entries 11..13
	if _, err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	powerCut(t, l, j, jp)
	var damage *segment.Damage
	l2, _, err := hintOpen(t, jp, dir, func(d segment.Damage) error { damage = &d; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if damage != nil {
		t.Fatalf("a legitimate truncation + power cut reported as damage: %+v (log now ends at %d)", *damage, l2.LastIndex())
	}
}

// Reset: the same with the new base of a follower that restarted its log.
func TestHintResetPowerLoss(t *testing.T) {
	dir, jp := filepath.Join(t.TempDir(), "log"), filepath.Join(t.TempDir(), "journal")
	l, j, err := hintOpen(t, jp, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	hintAppend(t, l, 10, 1)
	if _, err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := l.Reset(segment.Position{Index: 100, Offset: 5 * revSeg}, 3, 0x1234); err != nil {
		t.Fatal(err)
	}
	hintAppend(t, l, 5, 3)
	if _, err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	powerCut(t, l, j, jp)
	l2, _, err := hintOpen(t, jp, dir, nil)
	if err != nil {
		t.Fatalf("open after Reset + synced appends + power cut: %v", err)
	}
	if l2.FirstIndex() != 100 || l2.LastIndex() != 104 {
		t.Fatalf("log [%d, %d], want [100, 104]: synced entries lost", l2.FirstIndex(), l2.LastIndex())
	}
}

// Reset on a log never checkpointed: the older slot's durable position is
// its base, so its data file is "not needed": recovery creates an empty
// one, calls the log damaged with Had = the OLD synced position, and drops
// every synced entry of the reset log.
func TestHintResetPowerLossNoCheckpoint(t *testing.T) {
	dir, jp := filepath.Join(t.TempDir(), "log"), filepath.Join(t.TempDir(), "journal")
	l, j, err := hintOpen(t, jp, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	hintAppend(t, l, 10, 1)
	if _, err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Reset(segment.Position{Index: 100, Offset: 5 * revSeg}, 3, 0x1234); err != nil {
		t.Fatal(err)
	}
	hintAppend(t, l, 5, 3)
	if _, err := l.Sync(); err != nil { // entries 100..104 durable: a follower acks them
		t.Fatal(err)
	}
	powerCut(t, l, j, jp)
	var damage *segment.Damage
	l2, _, err := hintOpen(t, jp, dir, func(d segment.Damage) error { damage = &d; return nil })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("damage=%+v log=[%d,%d]", damage, l2.FirstIndex(), l2.LastIndex())
	if l2.LastIndex() != 104 {
		t.Fatalf("synced entries 100..104 lost: log [%d, %d]; damage reported Had=%d (< 104)",
			l2.FirstIndex(), l2.LastIndex(), damage.Had)
	}
}

// A fresh node (or one whose directory was removed "to let it resync")
// joins a group whose leader deleted its prefix: its first act is Reset.
// It syncs and acknowledges entries 100..104; a power cut before its first
// Checkpoint (CheckpointInterval, 1 s) brings back the creation slot: the
// log opens EMPTY, with no damage reported, so the engine does not even
// enter repair mode: it votes with an empty log.
func TestHintFreshNodeResetPowerLoss(t *testing.T) {
	dir, jp := filepath.Join(t.TempDir(), "log"), filepath.Join(t.TempDir(), "journal")
	l, j, err := hintOpen(t, jp, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Reset(segment.Position{Index: 100, Offset: 5 * revSeg}, 3, 0x1234); err != nil {
		t.Fatal(err)
	}
	hintAppend(t, l, 5, 3)
	if d, err := l.Sync(); err != nil || d != 104 {
		t.Fatal(d, err)
	}
	powerCut(t, l, j, jp)
	var damage *segment.Damage
	l2, _, err := hintOpen(t, jp, dir, func(d segment.Damage) error { damage = &d; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if l2.LastIndex() != 104 {
		t.Fatalf("fsynced (acknowledged) entries 100..104 gone: log [%d, %d], damage reported: %v",
			l2.FirstIndex(), l2.LastIndex(), damage != nil)
	}
}
