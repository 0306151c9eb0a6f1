package fault

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const hdr = "rmqlog-fault-journal v1 pid=1\n"

// TestReplay checks which writes the journal's records leave unsynced:
// records are numbered from 0 after each run header, and a sync covers
// the writes numbered below the count it journaled.
func TestReplay(t *testing.T) {
	tests := []struct {
		name     string
		journal  string
		unsynced []Range
		durable  int64
	}{
		{"write before the sync began is covered",
			hdr + "p 1 \"/d/f\"\nc 1 1\nw 1 0 10\ns 1 3\n", nil, 10},
		{"write journaled after the sync began is not",
			hdr + "p 1 \"/d/f\"\nc 1 1\nw 1 0 10\nw 1 10 5\ns 1 3\n", []Range{{10, 15}}, 10},
		{"overlapping unsynced writes merge",
			hdr + "p 1 \"/d/f\"\nc 1 1\nw 1 0 10\nw 1 5 10\nw 1 20 1\n", []Range{{0, 15}, {20, 21}}, 0},
		{"allocation is durable size, not data",
			hdr + "p 1 \"/d/f\"\nc 1 1\na 1 4096\ns 1 3\nw 1 0 8\n", []Range{{0, 8}}, 4096},
		{"a torn last record is ignored",
			hdr + "p 1 \"/d/f\"\nc 1 1\nw 1 0 10\ns 1 3\nw 1 10 5", nil, 10},
		{"a sync in a later run covers the earlier run's writes",
			hdr + "p 1 \"/d/f\"\nc 1 1\nw 1 0 10\n" + hdr + "p 1 \"/d/f\"\no 1 1 10\ns 1 0\n", nil, 10},
		{"path and handle ids restart with each run",
			hdr + "p 1 \"/d/g\"\nc 1 1\n" + hdr + "p 1 \"/d/f\"\nc 1 1\nw 1 0 3\n", []Range{{0, 3}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := replay(strings.NewReader(tc.journal))
			if err != nil {
				t.Fatal(err)
			}
			n := m.names["/d/f"]
			if n == nil {
				t.Fatal("no file /d/f")
			}
			if got := n.unsynced(); !slices.Equal(got, tc.unsynced) || n.durable != tc.durable {
				t.Errorf("unsynced %v, durable size %d; want %v, %d", got, n.durable, tc.unsynced, tc.durable)
			}
		})
	}
}

func TestReplayErrors(t *testing.T) {
	tests := []struct{ name, journal, want string }{
		{"record before a header", "w 1 0 1\n", "before the first run header"},
		{"other version", "rmqlog-fault-journal v9 pid=1\n", `format "v9"`},
		{"not a journal", "hello\n", "before the first run header"},
		{"unknown operation", hdr + "z 1\n", "unknown operation"},
		{"wrong argument count", hdr + "p 1 \"/d/f\"\nc 1\n", "argument count"},
		{"undefined path", hdr + "c 7 1\n", "undefined path id 7"},
		{"unknown handle", hdr + "w 3 0 1\n", "unknown file handle 3"},
		{"bad number", hdr + "w 1 x 1\n", "invalid syntax"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := replay(strings.NewReader(tc.journal))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("replay: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestOpenJournal: a new run cuts a torn tail and appends its header; a
// file in another format is refused.
func TestOpenJournal(t *testing.T) {
	tests := []struct {
		name, before, after, err string
	}{
		{"new file", "", "rmqlog-fault-journal v1 pid=", ""},
		{"torn tail cut", hdr + "p 1 \"/d/f\"\nc 1 1\nw 1 0", hdr + "p 1 \"/d/f\"\nc 1 1\nrmqlog-fault-journal v1 pid=", ""},
		{"other format", "something else\n", "", "not a fault journal"},
		{"other version", "rmqlog-fault-journal v2 pid=3\n", "", `format "v2"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal")
			if tc.before != "" {
				if err := os.WriteFile(path, []byte(tc.before), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			j, err := OpenJournal(path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("OpenJournal: %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(path)
			if !strings.HasPrefix(string(b), tc.after) || !strings.HasSuffix(string(b), "\n") {
				t.Errorf("journal is %q, want it to start with %q", b, tc.after)
			}
			if _, err := j.record(opRemove, []string{"/x"}); err != ErrJournalClosed {
				t.Errorf("record after Close: %v, want ErrJournalClosed", err)
			}
		})
	}
}
