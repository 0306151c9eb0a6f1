package bench

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"
)

// Process is a node process whose output goes to a log file.
type Process struct {
	cmd    *exec.Cmd
	log    string
	done   chan struct{} // closed when the process exited
	err    error         // its exit status; valid after done
	exited atomic.Bool
}

// StartProcess starts bin with args, its stdout and stderr appended to
// logPath.
func StartProcess(logPath, bin string, args ...string) (*Process, error) {
	return StartProcessEnv(logPath, nil, bin, args...)
}

// StartProcessEnv is StartProcess with env ("KEY=value") added to this
// process's environment.
func StartProcessEnv(logPath string, env []string, bin string, args ...string) (*Process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	// A node must not outlive the program that started it (a killed
	// benchmark or campaign would leave it holding ports and disk).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &Process{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		p.exited.Store(true)
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// LogPath is the file holding the process's output.
func (p *Process) LogPath() string { return p.log }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool { return p.exited.Load() }

// Done is closed when the process exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr is the process's exit status once it exited (nil: status 0).
func (p *Process) ExitErr() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Signal sends sig (e.g. SIGSTOP, SIGCONT) unless the process has exited.
func (p *Process) Signal(sig os.Signal) error {
	if p.Exited() {
		return fmt.Errorf("bench: process %d has exited", p.Pid())
	}
	return p.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits for the exit.
func (p *Process) Kill() error {
	if p.Exited() {
		return nil
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-p.done
	return nil
}

// Stop sends SIGTERM and waits for the exit up to grace, then kills. It
// returns an error if the process did not exit by itself with status 0.
func (p *Process) Stop(grace time.Duration) error {
	if p.Exited() {
		return p.err
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
		p.Kill()
		return fmt.Errorf("did not exit within %v of SIGTERM; killed", grace)
	}
}
