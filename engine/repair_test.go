package engine

import (
	"testing"

	"github.com/rmqlog/rmqlog/segment"
)

// TestClearRepair: the operator's override ends a repair on disk and keeps
// term and vote.
func TestClearRepair(t *testing.T) {
	dir := t.TempDir()
	if err := saveState(segment.OSFS{}, dir, HardState{Term: 7, Vote: "n2", RepairTo: 90, RepairTerm: 6}); err != nil {
		t.Fatal(err)
	}
	before, err := ClearRepair(dir)
	if err != nil || before.RepairTo != 90 {
		t.Fatalf("ClearRepair = %+v, %v", before, err)
	}
	after, err := ReadHardState(dir)
	if err != nil || after != (HardState{Term: 7, Vote: "n2"}) {
		t.Fatalf("after: %+v, %v", after, err)
	}
}
