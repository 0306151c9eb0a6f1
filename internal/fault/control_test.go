package fault

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/poll"
)

func TestParseControl(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string // the commands, formatted
		err        string
	}{
		{"every command", "# campaign\n1 disk full\n2 disk ok\n\n3 clock freeze 2s\n5 clock jump 1m30s\n9 clock rate 0.5 10s\n",
			[]string{"disk full", "disk ok", "clock freeze 2s", "clock jump 1m30s", "clock rate 0.5 10s"}, ""},
		{"extra spaces", "  7   clock   jump   5s  \n", []string{"clock jump 5s"}, ""},
		{"empty", "", nil, ""},
		{"no sequence number", "disk full\n", nil, "no sequence number"},
		{"zero sequence number", "0 disk full\n", nil, "no sequence number"},
		{"decreasing", "2 disk full\n1 disk ok\n", nil, "sequence number 1 after 2"},
		{"repeated", "2 disk full\n2 disk ok\n", nil, "sequence number 2 after 2"},
		{"unknown", "1 disk explode\n", nil, "unknown command"},
		{"argument to disk", "1 disk full now\n", nil, "takes no argument"},
		{"bad duration", "1 clock freeze soon\n", nil, "invalid duration"},
		{"negative duration", "1 clock jump -1s\n", nil, "negative duration"},
		{"missing duration", "1 clock rate 2\n", nil, "takes a factor and a duration"},
		{"factor out of range", "1 clock rate 0 1s\n", nil, "factor 0 outside"},
		{"bad factor", "1 clock rate fast 1s\n", nil, "invalid syntax"},
		{"too short", "1 clock\n", nil, "want"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmds, err := parseControl([]byte(tc.file))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parse: %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range cmds {
				got = append(got, c.String())
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("commands %q, want %q", got, tc.want)
			}
		})
	}
}

// TestWriteControl: commands are numbered after those in the file, the
// file is replaced whole, and a bad command changes nothing.
func TestWriteControl(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control")
	steps := []struct {
		cmds []string
		want string
		err  string
	}{
		{[]string{"disk full"}, "1 disk full\n", ""},
		{[]string{"clock jump 5s", "clock rate 2 1s"}, "1 disk full\n2 clock jump 5s\n3 clock rate 2 1s\n", ""},
		{[]string{"disk ok", "clock sideways"}, "1 disk full\n2 clock jump 5s\n3 clock rate 2 1s\n", "unknown command"},
		{[]string{"disk ok"}, "1 disk full\n2 clock jump 5s\n3 clock rate 2 1s\n4 disk ok\n", ""},
	}
	for i, s := range steps {
		err := WriteControl(path, s.cmds...)
		if (err != nil) != (s.err != "") || (err != nil && !strings.Contains(err.Error(), s.err)) {
			t.Fatalf("step %d: WriteControl: %v, want error %q", i, err, s.err)
		}
		if b, _ := os.ReadFile(path); string(b) != s.want {
			t.Errorf("step %d: file %q, want %q", i, b, s.want)
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("%d files next to the control file, want none (temporary files left?)", len(ents)-1)
	}
}

// TestControlPoll drives a Control's polls by hand: which commands reach
// the disk and the clock, and when.
func TestControlPoll(t *testing.T) {
	tests := []struct {
		name    string
		before  []string   // written before the first poll
		later   [][]string // written before each later poll
		full    bool       // the disk afterwards
		jumped  time.Duration
		frozen  bool
		applied int64
	}{
		{"no file", nil, nil, false, 0, false, 0},
		{"commands after start", nil, [][]string{{"disk full"}, {"clock jump 3s", "clock freeze 1h"}},
			true, 3 * time.Second, true, 3},
		{"disk full then ok", nil, [][]string{{"disk full"}, {"disk ok"}}, false, 0, false, 2},
		{"each command once", nil, [][]string{{"clock jump 1s"}, {}, {}}, false, time.Second, false, 1},
		{"file from before start: only the disk state", []string{"disk full", "clock jump 1s", "clock freeze 1h"},
			nil, true, 0, false, 3},
		{"file from before start, then new commands", []string{"disk full", "disk ok", "clock jump 1s"},
			[][]string{{"clock jump 2s"}}, false, 2 * time.Second, false, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "control")
			write := func(cmds []string) {
				if len(cmds) > 0 {
					if err := WriteControl(path, cmds...); err != nil {
						t.Fatal(err)
					}
				}
			}
			var d Disk
			clk := NewClock()
			c := NewControl(path, &d, clk, slog.New(slog.DiscardHandler))
			write(tc.before)
			c.poll()
			for _, cmds := range tc.later {
				write(cmds)
				c.poll()
			}
			_, frozen := clk.at(time.Millisecond, time.Now())
			if d.Full() != tc.full || clk.jumped != tc.jumped || frozen != tc.frozen || c.applied != tc.applied {
				t.Errorf("disk full %v, jumped %v, frozen %v, applied through %d; want %v, %v, %v, %d",
					d.Full(), clk.jumped, frozen, c.applied, tc.full, tc.jumped, tc.frozen, tc.applied)
			}
		})
	}
}

// TestControlBadFile: a malformed file is reported once and applies
// nothing; once fixed, its commands apply.
func TestControlBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control")
	var logs bytes.Buffer
	var d Disk
	c := NewControl(path, &d, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	c.poll() // no file yet
	if err := os.WriteFile(path, []byte("1 disk full\n1 disk ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.poll()
	c.poll()
	if n := strings.Count(logs.String(), "not applied"); n != 1 || d.Full() {
		t.Fatalf("bad file: logged %d times, disk full %v; want once and not full\n%s", n, d.Full(), logs.String())
	}
	if err := os.WriteFile(path, []byte("1 disk full\n2 clock jump 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.poll()
	if !d.Full() || !strings.Contains(logs.String(), "nothing to apply it to") {
		t.Errorf("fixed file: disk full %v, want true and the clock command reported as ignored\n%s", d.Full(), logs.String())
	}
}

// TestControlStart: the polling goroutine applies a command written while
// it runs, and stop ends it.
func TestControlStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control")
	var d Disk
	stop := NewControl(path, &d, nil, slog.New(slog.DiscardHandler)).Start(5 * time.Millisecond)
	defer stop()
	if err := WriteControl(path, "disk full"); err != nil {
		t.Fatal(err)
	}
	poll.Eventually(t, 10*time.Second, "disk full applied", d.Full)
	stop()
	stop() // twice is fine
}
