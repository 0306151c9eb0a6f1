package main

import (
	"fmt"
	"io"

	"github.com/rmqlog/rmqlog/engine"
)

// repairCmd shows, or ends by hand, a stopped node's repair of a damaged
// log (docs/durability.md, "A damaged node repairs itself").
func repairCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("repair", "repair [--accept-loss] <storePathRootDir>", stderr)
	accept := fs.Bool("accept-loss", false, "end the repair now: the node votes again at its next start, "+
		"although its log may lack entries it acknowledged (use only when a majority is repairing and no leader can be elected)")
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
	if hs.RepairTo == 0 {
		fmt.Fprintf(stdout, "%s: term %d, not repairing: nothing to do\n", dir, hs.Term)
		return nil
	}
	if !*accept {
		fmt.Fprintf(stdout, "%s: repairing a damaged log since term %d: it held entries up to %d and votes again once a leader has sent them back.\n"+
			"If a majority of the group is repairing, no leader can be elected; then, on the node with the most entries\n"+
			"(rmqlog dump), run: rmqlog repair --accept-loss %s\n", dir, hs.RepairTerm, hs.RepairTo, dir)
		return &exitError{code: 1}
	}
	if _, err := engine.ClearRepair(dir); err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("rmqlog repair: %v", err)}
	}
	fmt.Fprintf(stdout, "%s: repair ended by hand (it held entries up to %d); the node votes again at its next start. "+
		"Entries it had acknowledged and lost may be lost for the group.\n", dir, hs.RepairTo)
	return nil
}
