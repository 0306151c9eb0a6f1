package fault

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// command is one line of a control file.
type command struct {
	seq    int64
	verb   string        // "disk full", "disk ok", "clock freeze", "clock jump", "clock rate"
	d      time.Duration // freeze, jump, rate
	factor float64       // rate
}

func (c command) String() string {
	switch c.verb {
	case "clock rate":
		return fmt.Sprintf("%s %g %v", c.verb, c.factor, c.d)
	case "clock freeze", "clock jump":
		return fmt.Sprintf("%s %v", c.verb, c.d)
	}
	return c.verb
}

// Bounds of a rate factor: beyond them a ticker's period is absurd.
const (
	minRate = 0.001
	maxRate = 1000
)

// parseCommand parses a command without its sequence number.
func parseCommand(s string) (command, error) {
	f := strings.Fields(s)
	bad := func(why string) (command, error) {
		return command{}, fmt.Errorf("fault: control command %q: %s", s, why)
	}
	if len(f) < 2 {
		return bad(`want "disk full|ok" or "clock freeze|jump <duration>" or "clock rate <factor> <duration>"`)
	}
	c := command{verb: f[0] + " " + f[1]}
	args := f[2:]
	var err error
	switch c.verb {
	case "disk full", "disk ok":
		if len(args) != 0 {
			return bad("takes no argument")
		}
	case "clock freeze", "clock jump":
		if len(args) != 1 {
			return bad("takes one duration, e.g. 2s")
		}
		c.d, err = time.ParseDuration(args[0])
	case "clock rate":
		if len(args) != 2 {
			return bad("takes a factor and a duration, e.g. 0.5 10s")
		}
		if c.factor, err = strconv.ParseFloat(args[0], 64); err == nil && (c.factor < minRate || c.factor > maxRate) {
			return bad(fmt.Sprintf("factor %v outside [%v, %v]", c.factor, minRate, maxRate))
		}
		if err == nil {
			c.d, err = time.ParseDuration(args[1])
		}
	default:
		return bad("unknown command")
	}
	if err != nil {
		return bad(err.Error())
	}
	if c.d < 0 {
		return bad("negative duration")
	}
	return c, nil
}

// parseControl parses a control file: one "<seq> <command>" per line,
// sequence numbers increasing; blank lines and lines starting with # are
// skipped.
func parseControl(b []byte) ([]command, error) {
	var cmds []command
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		num, rest, _ := strings.Cut(line, " ")
		seq, err := strconv.ParseInt(num, 10, 64)
		if err != nil || seq <= 0 {
			return nil, fmt.Errorf("fault: control line %d %q: no sequence number", i+1, line)
		}
		if len(cmds) > 0 && seq <= cmds[len(cmds)-1].seq {
			return nil, fmt.Errorf("fault: control line %d: sequence number %d after %d", i+1, seq, cmds[len(cmds)-1].seq)
		}
		c, err := parseCommand(rest)
		if err != nil {
			return nil, fmt.Errorf("fault: control line %d: %w", i+1, err)
		}
		c.seq = seq
		cmds = append(cmds, c)
	}
	return cmds, nil
}

// writeMu serialises WriteControl calls of one driver process.
var writeMu sync.Mutex

// WriteControl appends cmds (without sequence numbers: "disk full",
// "clock jump 5s", ...) to the control file at path, numbering them after
// the last one there, and replaces the file atomically (a temporary file
// renamed over it), so a node polling it reads the old or the new file,
// never a part. It validates every command first and changes nothing if
// one is bad. Only one process may write a given control file.
func WriteControl(path string, cmds ...string) error {
	parsed := make([]command, len(cmds))
	for i, s := range cmds {
		c, err := parseCommand(s)
		if err != nil {
			return err
		}
		parsed[i] = c
	}
	writeMu.Lock()
	defer writeMu.Unlock()
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("fault: control file: %w", err)
	}
	have, err := parseControl(old)
	if err != nil {
		return fmt.Errorf("fault: control file %s: %w", path, err)
	}
	var seq int64
	if len(have) > 0 {
		seq = have[len(have)-1].seq
	}
	b := bytes.Clone(old)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	for _, c := range parsed {
		seq++
		b = fmt.Appendf(b, "%d %s\n", seq, c)
	}
	return replaceFile(path, b)
}

// replaceFile writes b to a temporary file next to path and renames it
// over path.
func replaceFile(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("fault: control file: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("fault: control file: %w", err)
	}
	return nil
}

// Control applies the commands of a control file to a Disk and a Clock.
type Control struct {
	path  string
	disk  *Disk
	clock *Clock
	log   *slog.Logger

	// Used by one goroutine at a time (Start's, or a test's).
	started bool   // the file was polled once
	applied int64  // the highest sequence number applied
	lastErr string // the last error logged, not repeated
}

// NewControl returns a Control for the file at path (which need not exist
// yet). disk or clock may be nil: their commands are then ignored.
func NewControl(path string, disk *Disk, clock *Clock, log *slog.Logger) *Control {
	return &Control{path: path, disk: disk, clock: clock, log: log}
}

// Start polls the file now, then every interval on a goroutine of its own,
// until the returned stop function is called (it waits for the goroutine).
func (c *Control) Start(every time.Duration) (stop func()) {
	c.poll()
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				c.poll()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-done
	}
}

// poll reads the file and applies the commands numbered above the last
// one applied. The first poll of a file that already holds commands
// applies only its last disk command (the disk state is a level; the clock
// commands were meant for an earlier process).
func (c *Control) poll() {
	b, err := os.ReadFile(c.path)
	first := !c.started
	c.started = true
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var cmds []command
	if err == nil {
		cmds, err = parseControl(b)
	}
	if err != nil {
		c.warnOnce(err)
		return
	}
	c.lastErr = ""
	if first && len(cmds) > 0 {
		c.resume(cmds)
		return
	}
	for _, cmd := range cmds {
		if cmd.seq > c.applied {
			c.apply(cmd)
			c.applied = cmd.seq
		}
	}
}

// resume starts from a file written before this process: it marks every
// command applied and applies the last disk state.
func (c *Control) resume(cmds []command) {
	c.applied = cmds[len(cmds)-1].seq
	for i := len(cmds) - 1; i >= 0; i-- {
		if strings.HasPrefix(cmds[i].verb, "disk ") {
			c.apply(cmds[i])
			break
		}
	}
	c.log.Warn("fault: control file already held commands; skipped all but the disk state",
		"file", c.path, "through_seq", c.applied)
}

func (c *Control) warnOnce(err error) {
	if err.Error() != c.lastErr {
		c.lastErr = err.Error()
		c.log.Warn("fault: control file not applied; fix it", "file", c.path, "err", err)
	}
}

// apply performs one command.
func (c *Control) apply(cmd command) {
	disk, clock := c.disk != nil, c.clock != nil
	switch {
	case cmd.verb == "disk full" && disk:
		c.disk.SetFull(true)
	case cmd.verb == "disk ok" && disk:
		c.disk.SetFull(false)
	case cmd.verb == "clock freeze" && clock:
		c.clock.Freeze(cmd.d)
	case cmd.verb == "clock jump" && clock:
		c.clock.Jump(cmd.d)
	case cmd.verb == "clock rate" && clock:
		c.clock.Rate(cmd.factor, cmd.d)
	default:
		c.log.Warn("fault: control command ignored: nothing to apply it to", "seq", cmd.seq, "command", cmd.String())
		return
	}
	c.log.Warn("fault: control command applied", "seq", cmd.seq, "command", cmd.String())
}
