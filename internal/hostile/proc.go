package hostile

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// usage is one reading of a process's memory and descriptors.
type usage struct {
	RSS, HWM   int64 // VmRSS and VmHWM, bytes
	Anon, File int64 // RssAnon and RssFile (the mapped log files), bytes
	FDs        int   // entries of /proc/<pid>/fd
}

// readUsage reads /proc/<pid>/status and /proc/<pid>/fd. A process that
// exited (or is a zombie) is an error wrapping ErrExited.
func readUsage(pid int) (usage, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return usage{}, fmt.Errorf("%w: pid %d: %v", ErrExited, pid, err)
	}
	var u usage
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch string(k) {
		case "State":
			if len(v) > 0 && (v[0] == 'Z' || v[0] == 'X') {
				return usage{}, fmt.Errorf("%w: pid %d is in state %s", ErrExited, pid, v)
			}
		case "VmRSS":
			u.RSS = kib(v)
		case "VmHWM":
			u.HWM = kib(v)
		case "RssAnon":
			u.Anon = kib(v)
		case "RssFile":
			u.File = kib(v)
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return usage{}, fmt.Errorf("%w: pid %d: %v", ErrExited, pid, err)
	}
	u.FDs = len(fds)
	return u, nil
}

// kib parses "1234 kB" into bytes.
func kib(v []byte) int64 {
	f := bytes.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(string(f[0]), 10, 64)
	return n << 10
}

// sampler reads a process's usage every period on its own goroutine and
// keeps the peak RSS since the last reset, and the first error (the
// process exited).
type sampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex // guards the fields below
	last usage
	peak int64
	err  error
}

const samplePeriod = 25 * time.Millisecond

func startSampler(pid int) (*sampler, error) {
	u, err := readUsage(pid)
	if err != nil {
		return nil, err
	}
	s := &sampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{}), last: u, peak: u.RSS}
	go s.run()
	return s, nil
}

func (s *sampler) run() {
	defer close(s.done)
	t := time.NewTicker(samplePeriod)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sample()
		}
	}
}

// sample reads the usage now and folds it into the peak.
func (s *sampler) sample() (usage, error) {
	u, err := readUsage(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return s.last, s.err
	}
	s.last, s.peak = u, max(s.peak, u.RSS)
	return u, s.err
}

// resetPeak starts a new peak at the current RSS and returns the usage.
func (s *sampler) resetPeak() (usage, error) {
	u, err := s.sample()
	s.mu.Lock()
	s.peak = u.RSS
	s.mu.Unlock()
	return u, err
}

func (s *sampler) peakRSS() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

func (s *sampler) close() {
	close(s.stop)
	<-s.done
}
