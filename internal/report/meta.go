package report

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Meta describes a run of rmqbench (or of the peer bench) for the record.
type Meta struct {
	Title    string    `json:"title"`    // e.g. "rmqbench default: SYNC_FLUSH vs ASYNC_FLUSH"
	Scenario string    `json:"scenario"` // "default", "failover", "sweep", "peers", "smoke", ...
	Command  string    `json:"command"`  // the exact command line
	Commit   string    `json:"commit"`   // GitCommit of the tree that ran
	Start    time.Time `json:"start"`
	Machine  Machine   `json:"machine"`
	Notes    []string  `json:"notes,omitempty"` // free lines printed under the table
	// Incomplete, if set, says why the run did not finish (an error, an
	// interrupt); such a run is written but never becomes the headline.
	Incomplete string `json:"incomplete,omitempty"`
}

// Machine is what a run ran on.
type Machine struct {
	CPU       string `json:"cpu"` // model name
	Cores     int    `json:"cores"`
	MemoryMiB int    `json:"memory_mib"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"` // GOOS/GOARCH and the distribution's name if known
}

// String is the machine on one line, as summary.md prints it.
func (m Machine) String() string {
	return fmt.Sprintf("%s, %d cores, %d MiB memory, kernel %s, %s, %s",
		m.CPU, m.Cores, m.MemoryMiB, m.Kernel, m.GoVersion, m.OS)
}

// ProbeMachine describes this machine: the CPU model from /proc/cpuinfo,
// runtime.NumCPU, MemTotal from /proc/meminfo, the kernel release from
// /proc/sys/kernel/osrelease, runtime.Version and the OS. What cannot be
// read is left "unknown" (or 0).
func ProbeMachine() Machine {
	return Machine{
		CPU:       cpuModel(readText("/proc/cpuinfo")),
		Cores:     runtime.NumCPU(),
		MemoryMiB: memTotalMiB(readText("/proc/meminfo")),
		Kernel:    orUnknown(strings.TrimSpace(readText("/proc/sys/kernel/osrelease"))),
		GoVersion: runtime.Version(),
		OS:        osName(readText("/etc/os-release")),
	}
}

// readText returns the file's content, or "" if it cannot be read.
func readText(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// field returns the value of the first "key<space/tab>: value" line of a
// /proc-style text, or "".
func field(text, key string) string {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// cpuModel returns the "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	return orUnknown(field(cpuinfo, "model name"))
}

// memTotalMiB returns MemTotal of /proc/meminfo ("MemTotal: 123 kB") in MiB.
func memTotalMiB(meminfo string) int {
	kb, err := strconv.Atoi(strings.TrimSuffix(field(meminfo, "MemTotal"), " kB"))
	if err != nil {
		return 0
	}
	return kb / 1024
}

// osName returns GOOS/GOARCH followed by PRETTY_NAME of /etc/os-release.
func osName(osRelease string) string {
	s := runtime.GOOS + "/" + runtime.GOARCH
	for line := range strings.Lines(osRelease) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "PRETTY_NAME="); ok {
			return s + " (" + strings.Trim(v, `"'`) + ")"
		}
	}
	return s
}

// GitCommit returns the short hash of the HEAD of the repository holding
// dir, with "+dirty" if a tracked file has changes, or "unknown" if git
// fails. Untracked files do not count, and neither does anything under dir
// when dir is not the repository's top: the results root itself changes
// with every run (results/README.md), so a run after another would
// otherwise always look dirty.
func GitCommit(dir string) string {
	head, err := exec.Command("git", "-C", dir, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	args := []string{"-C", dir, "status", "--porcelain", "--untracked-files=no"}
	if top, err := exec.Command("git", "-C", dir, "rev-parse", "--show-toplevel").Output(); err == nil {
		if abs, err := filepath.Abs(dir); err == nil && filepath.Clean(strings.TrimSpace(string(top))) != abs {
			args = append(args, "--", ":/", ":!.") // the whole repository but dir
		}
	}
	st, err := exec.Command("git", args...).Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(head))
	if len(strings.TrimSpace(string(st))) > 0 {
		c += "+dirty"
	}
	return c
}

// Dir returns root/<date>-<scenario> (date as 2006-01-02 of m.Start in
// UTC, scenario slugged), or, if that exists, the first of -2, -3, ...
// that does not. It creates root and claims the directory with os.Mkdir,
// so a run never overwrites another, even one started at the same time.
// If the directory cannot be created Dir still returns the name, and
// Write reports the error.
func Dir(root string, m Meta) string {
	base := filepath.Join(root, m.Start.UTC().Format("2006-01-02")+"-"+Slug(m.Scenario))
	_ = os.MkdirAll(root, 0o755)
	for n := 1; ; n++ {
		p := base
		if n > 1 {
			p = base + "-" + strconv.Itoa(n)
		}
		err := os.Mkdir(p, 0o755)
		if !errors.Is(err, fs.ErrExist) {
			return p
		}
	}
}

// Slug returns s lower-cased with every run of characters other than
// [a-z0-9] replaced by one "-", and no "-" at either end ("result" if
// nothing is left): "rmqlog SYNC_FLUSH 1KiB" is "rmqlog-sync-flush-1kib".
func Slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "result"
	}
	return b.String()
}
