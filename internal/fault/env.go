package fault

import (
	"log/slog"
	"os"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/segment"
)

// The environment variables that turn fault injection on. Unset (the
// default), nothing of this package runs.
const (
	// EnvJournal names the journal file PowerLoss reads (one per node).
	EnvJournal = "RMQLOG_FAULT_JOURNAL"
	// EnvControl names the control file polled for disk and clock commands.
	EnvControl = "RMQLOG_FAULT_CONTROL"
)

// ControlPoll is how often a node reads its control file.
const ControlPoll = 50 * time.Millisecond

// FromEnv builds the fault-injection file system and clock the environment
// asks for. With neither variable set it returns nil, nil (the engine's
// defaults: the OS and the real clock) and a stop that does nothing; stop
// is never nil. Otherwise it logs a WARN that fault injection is on, and:
//   - fs journals every file operation into $RMQLOG_FAULT_JOURNAL (if set)
//     and fails with ENOSPC while the control file says "disk full";
//   - clock (only with $RMQLOG_FAULT_CONTROL) obeys the control file's
//     clock commands, polled every ControlPoll by one goroutine.
//
// Call stop after the node has closed: it stops the polling and closes
// the journal.
func FromEnv(logger *slog.Logger) (fs segment.FS, clock engine.Clock, stop func(), err error) {
	journal, control := os.Getenv(EnvJournal), os.Getenv(EnvControl)
	if journal == "" && control == "" {
		return nil, nil, func() {}, nil
	}
	logger.Warn("FAULT INJECTION IS ON: a test-only setting that loses data and bends time on command; never use it in production",
		EnvJournal, journal, EnvControl, control)
	var j *Journal
	if journal != "" {
		if j, err = OpenJournal(journal); err != nil {
			return nil, nil, nil, err
		}
	}
	var disk *Disk
	stopControl := func() {}
	if control != "" {
		disk = &Disk{}
		c := NewClock()
		clock = c
		stopControl = NewControl(control, disk, c, logger).Start(ControlPoll)
	}
	stop = func() {
		stopControl()
		if j != nil {
			_ = j.Close()
		}
	}
	return NewFS(j, disk), clock, stop, nil
}
