package natsgroup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// exitWait bounds the wait for a killed process to exit.
const exitWait = 10 * time.Second

// node is one nats-server of the group: its config, and the process
// running it now (nil while killed or stopped).
type node struct {
	cfg     nodeConfig
	binary  string
	cfgPath string
	logPath string

	mu   sync.Mutex // guards proc
	proc *process
}

// process is one run of a node. Its wait goroutine owns cmd.Wait and
// closes done once the process exited.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's result; valid once done is closed
}

// newNode writes the node's config file into dir.
func newNode(binary, dir string, cfg nodeConfig) (*node, error) {
	n := &node{
		cfg:     cfg,
		binary:  binary,
		cfgPath: filepath.Join(dir, cfg.Name+".conf"),
		logPath: filepath.Join(dir, cfg.Name+".log"),
	}
	if err := os.WriteFile(n.cfgPath, []byte(cfg.render()), 0o644); err != nil {
		return nil, fmt.Errorf("natsgroup: node %s: %w", cfg.Name, err)
	}
	return n, nil
}

// start starts the node's server on its config; its output is appended
// to the node's log.
func (n *node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil {
		return fmt.Errorf("natsgroup: node %s is running already (pid %d)", n.cfg.Name, n.proc.cmd.Process.Pid)
	}
	log, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("natsgroup: node %s: %w", n.cfg.Name, err)
	}
	defer log.Close() // the child holds its own copy
	cmd := exec.Command(n.binary, "-c", n.cfgPath)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("natsgroup: starting node %s (%s -c %s): %w", n.cfg.Name, n.binary, n.cfgPath, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go p.wait()
	n.proc = p
	return nil
}

func (p *process) wait() {
	p.err = p.cmd.Wait()
	close(p.done)
}

// running returns the node's process, or nil if it is not running.
func (n *node) running() *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// pid returns the process id, or 0 if the node is not running.
func (n *node) pid() int {
	if p := n.running(); p != nil {
		return p.cmd.Process.Pid
	}
	return 0
}

// stop sends sig, waits up to grace for the exit, then SIGKILLs and waits
// up to exitWait. The node is not running afterwards.
func (n *node) stop(sig syscall.Signal, grace time.Duration) error {
	p := n.running()
	if p == nil {
		return fmt.Errorf("natsgroup: node %s is not running", n.cfg.Name)
	}
	_ = p.cmd.Process.Signal(sig) // fails only if it exited already
	if sig != syscall.SIGKILL && !p.exited(grace) {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	if !p.exited(exitWait) {
		return fmt.Errorf("natsgroup: node %s (pid %d) did not exit %v after SIGKILL", n.cfg.Name, p.cmd.Process.Pid, exitWait)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == p {
		n.proc = nil
	}
	return nil
}

// exited waits up to d for the process to exit.
func (p *process) exited(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// waitUp waits until the node's monitoring port answers, failing at once
// if the process exits first, or if the server does not run with the
// sync setting its config asks for.
func (n *node) waitUp(ctx context.Context) error {
	p := n.running()
	if p == nil {
		return fmt.Errorf("natsgroup: node %s is not running", n.cfg.Name)
	}
	return poll(ctx, "node "+n.cfg.Name+" to listen", func(ctx context.Context) (bool, error) {
		select {
		case <-p.done:
			return false, fatal(fmt.Errorf("natsgroup: node %s exited (%v); the end of %s:\n%s", n.cfg.Name, p.err, n.logPath, logTail(n.logPath, 10)))
		default:
		}
		j, err := nodeJsz(ctx, n)
		if err != nil {
			return false, err
		}
		got, known := j.syncAlways()
		if !known {
			return false, fmt.Errorf("natsgroup: node %s: JetStream not started yet", n.cfg.Name)
		}
		if got != n.cfg.SyncAlways {
			return false, fatal(fmt.Errorf("natsgroup: node %s runs with sync_always %v, but %s asks for %v", n.cfg.Name, got, n.cfgPath, n.cfg.SyncAlways))
		}
		return true, nil
	})
}

// logTail returns the last lines of a log file, for an error message.
func logTail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// fatalError marks a condition poll must not wait out.
type fatalError struct{ error }

func (e fatalError) Unwrap() error { return e.error }

func fatal(err error) error { return fatalError{err} }

// pollInterval is how often poll tests its condition.
const pollInterval = 20 * time.Millisecond

// poll calls cond every pollInterval until it reports done, returns a
// fatal error, or ctx ends. An ordinary error from cond means "not yet";
// the last one is named when ctx ends. what names the wait.
func poll(ctx context.Context, what string, cond func(context.Context) (bool, error)) error {
	var last error
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		done, err := cond(ctx)
		var f fatalError
		switch {
		case errors.As(err, &f):
			return f.error
		case err == nil && done:
			return nil
		case err != nil:
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("natsgroup: waiting for %s: %w (last: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("natsgroup: waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}
