package main

import (
	"fmt"
	"io"

	"github.com/rmqlog/rmqlog/engine"
)

// repairCmd shows, or ends by hand, a stopped node's repair of a log that
// may lack entries it acknowledged (docs/durability.md, "Repair").
func repairCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("repair", "repair [--accept-loss] <storePathRootDir>", stderr)
	accept := fs.Bool("accept-loss", false, "end the repair now: the node votes again at its next start, "+
		"although its log may lack entries it acknowledged (use only when no leader can be elected because a member is gone for good)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{code: 2, msg: "rmqlog repair: give the data directory (storePathRootDir) of a stopped node"}
	}
	dir := fs.Arg(0)
	hs, err := engine.ReadHardState(dir)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("rmqlog repair: %v", err)}
	}
	if hs.RepairTo == 0 && !hs.TermLost {
		fmt.Fprintf(stdout, "%s: term %d, not repairing: nothing to do\n", dir, hs.Term)
		return nil
	}
	if !*accept {
		fmt.Fprintf(stdout, "%s: %s\n"+
			"While it repairs, its vote counts only in an election every member votes in, and it ends by itself\n"+
			"once its log holds a leader's whole log. If no leader can be elected because a member is gone for good,\n"+
			"then, on the stopped node with the most entries (rmqlog dump), run: rmqlog repair --accept-loss %s\n",
			dir, describeRepair(hs), dir)
		return &exitError{code: 1}
	}
	if _, err := engine.ClearRepair(dir); err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("rmqlog repair: %v", err)}
	}
	fmt.Fprintf(stdout, "%s: repair ended by hand (%s); the node votes normally at its next start. "+
		"Entries it had acknowledged and lost may be lost for the group.\n", dir, describeRepair(hs))
	return nil
}

// describeRepair says why a node repairs.
func describeRepair(hs engine.HardState) string {
	switch {
	case hs.TermLost:
		return "its hard state (term and vote) was lost; it waits to hear every member's term, and its log may lack entries it acknowledged"
	case hs.RepairTo == engine.RepairUnknown:
		return fmt.Sprintf("it stopped without its final sync under ASYNC_FLUSH (term %d): its log may lack entries it acknowledged", hs.RepairTerm)
	}
	return fmt.Sprintf("its log was damaged in term %d: it held entries up to %d", hs.RepairTerm, hs.RepairTo)
}
