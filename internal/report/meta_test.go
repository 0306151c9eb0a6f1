package report

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 3, 4, 5, 0, time.UTC)

func TestSlug(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rmqlog-sync_flush-1kib-closed-64", "rmqlog-sync-flush-1kib-closed-64"},
		{"rmqlog SYNC_FLUSH 1 KiB closed/64", "rmqlog-sync-flush-1-kib-closed-64"},
		{"  --Peers: NATS!  ", "peers-nats"},
		{"héllo wörld", "h-llo-w-rld"},
		{"***", "result"},
		{"", "result"},
	}
	for _, tt := range tests {
		if got := Slug(tt.in); got != tt.want {
			t.Errorf("Slug(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestProcParsing(t *testing.T) {
	cpuinfo := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n"
	tests := []struct {
		name, got, want string
	}{
		{"cpu", cpuModel(cpuinfo), "AMD EPYC 7B13"},
		{"cpu missing", cpuModel("processor : 0\n"), "unknown"},
		{"os", osName("NAME=Debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"), "(Debian GNU/Linux 12 (bookworm))"},
	}
	for _, tt := range tests {
		if !strings.HasSuffix(tt.got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	mems := []struct {
		in   string
		want int
	}{
		{"MemTotal:       24684360 kB\nMemFree: 1 kB\n", 24105},
		{"MemFree: 1 kB\n", 0},
		{"MemTotal: lots\n", 0},
	}
	for _, tt := range mems {
		if got := memTotalMiB(tt.in); got != tt.want {
			t.Errorf("memTotalMiB(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestGitCommit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	if got := GitCommit(dir); got != "unknown" {
		t.Errorf("GitCommit(not a repository) = %q, want unknown", got)
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "f")
	git("commit", "-q", "-m", "one")
	short := git("rev-parse", "--short", "HEAD")
	if got := GitCommit(dir); got != short {
		t.Errorf("GitCommit(clean) = %q, want %q", got, short)
	}
	// An untracked file (a run's results) leaves it clean.
	if err := os.WriteFile(filepath.Join(dir, "new"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := GitCommit(dir); got != short {
		t.Errorf("GitCommit(untracked file) = %q, want %q", got, short)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := GitCommit(dir); got != short+"+dirty" {
		t.Errorf("GitCommit(dirty) = %q, want %q", got, short+"+dirty")
	}
	// Changes under a results directory inside the repository do not make
	// its commit dirty; changes elsewhere do.
	git("checkout", "f")
	res := filepath.Join(dir, "results")
	if err := os.MkdirAll(res, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(res, "README.md"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "results/README.md")
	git("commit", "-q", "-m", "two")
	short = git("rev-parse", "--short", "HEAD")
	if err := os.WriteFile(filepath.Join(res, "README.md"), []byte("2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := GitCommit(res); got != short {
		t.Errorf("GitCommit(results changed) = %q, want %q", got, short)
	}
	if got := GitCommit(dir); got != short+"+dirty" {
		t.Errorf("GitCommit(top, results changed) = %q, want %q", got, short+"+dirty")
	}
}

func TestDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "results")
	late := time.Date(2026, 11, 27, 23, 30, 0, 0, time.FixedZone("UTC-5", -5*3600)) // 2026-11-28 in UTC
	if err := os.MkdirAll(filepath.Join(root, "2026-11-27-default-2"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		scenario string
		start    time.Time
		want     string
	}{
		{"default", t0, "2026-11-27-default"},
		{"default", t0, "2026-11-27-default-3"}, // -2 exists already
		{"default", t0.Add(time.Hour), "2026-11-27-default-4"},
		{"Peer Bench", t0, "2026-11-27-peer-bench"},
		{"default", late, "2026-11-28-default"},
	}
	for _, tt := range tests {
		got := Dir(root, Meta{Scenario: tt.scenario, Start: tt.start})
		if got != filepath.Join(root, tt.want) {
			t.Errorf("Dir(%s, %v) = %s, want %s", tt.scenario, tt.start, got, tt.want)
		}
		if entries, err := os.ReadDir(got); err != nil || len(entries) != 0 {
			t.Errorf("Dir returned %s: %v, %d entries; want a new empty directory", got, err, len(entries))
		}
	}
}

func TestProbeMachine(t *testing.T) {
	m := ProbeMachine()
	if runtime.GOOS != "linux" {
		t.Skip("ProbeMachine reads /proc")
	}
	if m.CPU == "" || m.CPU == "unknown" || m.Cores <= 0 || m.MemoryMiB <= 0 || m.Kernel == "unknown" || m.GoVersion != runtime.Version() || m.OS == "" {
		t.Errorf("ProbeMachine() = %+v", m)
	}
}
