package fault

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/internal/poll"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name             string
		journal, control bool
		badJournal       bool
	}{
		{name: "off"},
		{name: "journal", journal: true},
		{name: "control", control: true},
		{name: "both", journal: true, control: true},
		{name: "journal in a missing directory", journal: true, badJournal: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			journal, control := filepath.Join(dir, "journal"), filepath.Join(dir, "control")
			if tc.badJournal {
				journal = filepath.Join(dir, "missing", "journal")
			}
			t.Setenv(EnvJournal, map[bool]string{true: journal}[tc.journal])
			t.Setenv(EnvControl, map[bool]string{true: control}[tc.control])
			var logs bytes.Buffer
			fs, clock, stop, err := FromEnv(slog.New(slog.NewTextHandler(&logs, nil)))
			if tc.badJournal {
				if err == nil {
					stop()
					t.Fatal("FromEnv with a journal in a missing directory: no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			on := tc.journal || tc.control
			if (fs != nil) != on || (clock != nil) != tc.control {
				t.Fatalf("fs %v, clock %v; want an fs %v, a clock %v", fs, clock, on, tc.control)
			}
			if warned := strings.Contains(logs.String(), "level=WARN msg=\"FAULT INJECTION IS ON"); warned != on {
				t.Errorf("logged %q; want the warning: %v", logs.String(), on)
			}
			if _, err := os.Stat(journal); (err == nil) != tc.journal {
				t.Errorf("journal file: %v; want it to exist: %v", err, tc.journal)
			}
			if !tc.control {
				return
			}
			if err := WriteControl(control, "disk full"); err != nil {
				t.Fatal(err)
			}
			poll.EventuallyNil(t, 10*time.Second, `ENOSPC from create after "disk full"`, func() error {
				_, err := fs.Create(filepath.Join(dir, "f"))
				switch {
				case errors.Is(err, syscall.ENOSPC):
					return nil
				case err == nil:
					_ = os.Remove(filepath.Join(dir, "f"))
					return errors.New("create succeeded")
				}
				return err
			})
		})
	}
}
