package engine

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine/raft"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/segment"
)

// writeFile replaces name in dir on fs with b.
func writeFile(t *testing.T, fs segment.FS, dir, name string, b []byte) {
	t.Helper()
	if err := writeFileDurably(fs, dir, name+".tmp", name, b); err != nil {
		t.Fatal(err)
	}
}

// TestMembershipFileBehindLog: the membership file is written off the
// node's lock, so a crash can leave it behind the log. The configuration
// entries the log holds beyond the index the file is complete through are
// read back at start; a configuration the file names but the log no
// longer holds is dropped; a damaged file stops the node with a clear error.
func TestMembershipFileBehindLog(t *testing.T) {
	fs := segment.NewMemFS()
	n := openSolo(t, fs, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	poll.Eventually(t, 5*time.Second, "leadership", func() bool { return n.Status().Writable })
	if _, err := n.Append(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	i, err := n.ChangeMembership(ctx, Change{Type: AddLearner, Member: Member{ID: "j1", Peer: "127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := n.Membership()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		file []byte // nil: no file
		want string // "" the learner configuration at i; else an error
	}{
		{"file behind the log", encodeMembershipFile(1, raft.EncodeConfs(nil)), ""},
		{"no file", nil, ""},
		{"file names an entry the log lost", encodeMembershipFile(i+5, raft.EncodeConfs([]raft.ConfEntry{
			{Index: i, Term: 1, Membership: want},
			{Index: i + 3, Term: 9, Membership: want}})), ""},
		{"damaged file", []byte("RMQM garbage that is no membership file"), "membership file crc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join("/d", membershipFile)
			fs.Remove(path)
			if tt.file != nil {
				writeFile(t, fs, "/d", membershipFile, tt.file)
			}
			cfg := Config{Group: "g", ID: "n0", Peers: map[string]string{"n0": "127.0.0.1:0"}, Dir: "/d", FS: fs,
				SegmentSize: 64 << 10, IndexEntries: 4096, MaxEntrySize: 4 << 10, Logger: quietLogger()}
			n, err := Open(cfg)
			if tt.want != "" {
				if err == nil || !errors.Is(err, ErrMembership) || !strings.Contains(err.Error(), tt.want) ||
					!strings.Contains(err.Error(), path) {
					if n != nil {
						n.Close()
					}
					t.Fatalf("open with a %s: %v, want an error naming %s and %q", tt.name, err, path, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, at, _ := n.Membership()
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			if at != i || !got.Equal(want) {
				t.Fatalf("configuration %v at %d after the restart, want %v at %d", got, at, want, i)
			}
			b, err := readAll(fs, path)
			if err != nil {
				t.Fatal(err)
			}
			through, cs, err := decodeMembershipFile(b)
			if err != nil || through < i || len(cs) != 1 || cs[0].Index != i {
				t.Fatalf("the file written at close: through %d, %v, %v; want complete through >= %d with entry %d", through, cs, err, i, i)
			}
		})
	}
}

func readAll(fs segment.FS, path string) ([]byte, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	b := make([]byte, size)
	_, err = f.ReadAt(b, 0)
	return b, err
}

func FuzzDecodeMembershipFile(f *testing.F) {
	f.Add(encodeMembershipFile(7, raft.EncodeConfs([]raft.ConfEntry{{Index: 3, Term: 1,
		Membership: raft.Membership{Members: []raft.Member{{ID: "n0", Peer: "127.0.0.1:1"}}}}})))
	f.Add(encodeMembershipFile(0, raft.EncodeConfs(nil)))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, b []byte) {
		through, cs, err := decodeMembershipFile(b)
		if err != nil {
			return
		}
		again, cs2, err := decodeMembershipFile(encodeMembershipFile(through, raft.EncodeConfs(cs)))
		if err != nil || again != through || len(cs2) != len(cs) {
			t.Fatalf("re-encoding: %d %v %v", again, cs2, err)
		}
	})
}
