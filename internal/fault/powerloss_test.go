package fault

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/segment"
)

// script runs file operations through an FS in dir, as a process would.
type script struct {
	t       *testing.T
	dir     string
	journal string
	j       *Journal
	fs      *FS
	files   map[string]segment.File
}

func newScript(t *testing.T, pre map[string]string) *script {
	t.Helper()
	s := &script{t: t, dir: t.TempDir(), journal: filepath.Join(t.TempDir(), "journal"), files: map[string]segment.File{}}
	for name, content := range pre { // on disk before the epoch: durable
		if err := os.WriteFile(s.path(name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.restart()
	return s
}

func (s *script) path(name string) string { return filepath.Join(s.dir, name) }

func (s *script) check(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
}

// restart starts a new run of the journal, as a process restarted without
// a power loss would: files keep what the killed process wrote.
func (s *script) restart() {
	if s.j != nil {
		s.check(s.j.Close())
	}
	j, err := OpenJournal(s.journal)
	s.check(err)
	s.j, s.fs, s.files = j, NewFS(j, nil), map[string]segment.File{}
}

// op is one step of a script.
type op func(s *script)

func create(name string) op {
	return func(s *script) {
		f, err := s.fs.Create(s.path(name))
		s.check(err)
		s.files[name] = f
	}
}

func open(name string) op {
	return func(s *script) {
		f, err := s.fs.Open(s.path(name))
		s.check(err)
		s.files[name] = f
	}
}

func write(name string, off int64, data string) op {
	return func(s *script) {
		_, err := s.files[name].WriteAt([]byte(data), off)
		s.check(err)
	}
}

func syncF(name string) op { return func(s *script) { s.check(s.files[name].Sync()) } }

func alloc(name string, size int64) op {
	return func(s *script) { s.check(s.files[name].Allocate(size)) }
}

func closeFile(name string) op { return func(s *script) { s.check(s.files[name].Close()) } }

func rename(from, to string) op {
	return func(s *script) { s.check(s.fs.Rename(s.path(from), s.path(to))) }
}

func remove(name string) op { return func(s *script) { s.check(s.fs.Remove(s.path(name))) } }

func syncDir() op { return func(s *script) { s.check(s.fs.SyncDir(s.dir)) } }

func restart() op { return func(s *script) { s.restart() } }

func z(n int) string { return strings.Repeat("\x00", n) }

// dirContents returns every file in dir (hidden ones included) with its
// content.
func dirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got[e.Name()] = string(b)
	}
	return got
}

func TestPowerLoss(t *testing.T) {
	tests := []struct {
		name   string
		pre    map[string]string // files before the epoch
		ops    []op
		want   map[string]string // every file after the power loss
		zeroed int64
	}{
		{
			name: "write-sync-write",
			ops: []op{create("f"), alloc("f", 8), syncF("f"), syncDir(),
				write("f", 0, "aaaa"), syncF("f"), write("f", 4, "bbbb")},
			want:   map[string]string{"f": "aaaa" + z(4)},
			zeroed: 4,
		},
		{
			name: "unsynced growth is cut",
			ops: []op{create("f"), write("f", 0, "aaaa"), syncF("f"), syncDir(),
				write("f", 4, "bbbb")},
			want: map[string]string{"f": "aaaa"},
		},
		{
			name: "unsynced allocation is cut",
			ops:  []op{create("f"), syncDir(), alloc("f", 8192)},
			want: map[string]string{"f": ""},
		},
		{
			name: "rewrite after sync is lost",
			ops: []op{create("f"), write("f", 0, "aaaaaaaa"), syncF("f"), syncDir(),
				write("f", 2, "bb")},
			want:   map[string]string{"f": "aa" + z(2) + "aaaa"},
			zeroed: 2,
		},
		{
			name: "rewrite synced again survives, a third is lost",
			ops: []op{create("f"), write("f", 0, "aaaaaaaa"), syncF("f"), syncDir(),
				write("f", 2, "bb"), syncF("f"), write("f", 5, "cc")},
			want:   map[string]string{"f": "aabba" + z(2) + "a"},
			zeroed: 2,
		},
		{
			name: "created, synced, directory never synced",
			ops:  []op{create("f"), write("f", 0, "aaaa"), syncF("f")},
			want: map[string]string{},
		},
		{
			name: "created and directory synced, writes unsynced",
			ops:  []op{create("f"), syncDir(), write("f", 0, "aaaa")},
			want: map[string]string{"f": ""},
		},
		{
			name: "rename over a file without SyncDir",
			pre:  map[string]string{"state": "old"},
			ops: []op{create("state.tmp"), write("state.tmp", 0, "new"), syncF("state.tmp"),
				closeFile("state.tmp"), rename("state.tmp", "state")},
			want: map[string]string{"state": "old"},
		},
		{
			name: "rename over a file with SyncDir",
			pre:  map[string]string{"state": "old"},
			ops: []op{create("state.tmp"), write("state.tmp", 0, "new"), syncF("state.tmp"),
				closeFile("state.tmp"), rename("state.tmp", "state"), syncDir()},
			want: map[string]string{"state": "new"},
		},
		{
			name: "rename of a durable temporary file without SyncDir",
			ops: []op{create("a.tmp"), syncDir(), write("a.tmp", 0, "data"), syncF("a.tmp"),
				rename("a.tmp", "a")},
			want: map[string]string{"a.tmp": "data"},
		},
		{
			name: "rename, SyncDir, then unsynced writes through the old handle",
			ops: []op{create("a.tmp"), alloc("a.tmp", 8), syncF("a.tmp"), rename("a.tmp", "a"),
				syncDir(), write("a.tmp", 0, "xyz")},
			want:   map[string]string{"a": z(8)},
			zeroed: 3,
		},
		{
			name: "remove without SyncDir",
			pre:  map[string]string{"x": "keep"},
			ops:  []op{remove("x")},
			want: map[string]string{"x": "keep"},
		},
		{
			name: "remove with SyncDir",
			pre:  map[string]string{"x": "keep", "y": "other"},
			ops:  []op{remove("x"), syncDir()},
			want: map[string]string{"y": "other"},
		},
		{
			name:   "remove of an open file that was written unsynced",
			pre:    map[string]string{"x": "0123"},
			ops:    []op{open("x"), write("x", 0, "ab"), remove("x")},
			want:   map[string]string{"x": z(2) + "23"},
			zeroed: 2,
		},
		{
			name: "multiple files, one synced",
			ops: []op{create("a"), create("b"), alloc("a", 4), alloc("b", 4), syncF("a"), syncF("b"),
				syncDir(), write("a", 0, "aaaa"), write("b", 0, "bbbb"), syncF("a")},
			want:   map[string]string{"a": "aaaa", "b": z(4)},
			zeroed: 4,
		},
		{
			name:   "file from before the epoch, appended and rewritten",
			pre:    map[string]string{"f": "0123456789"},
			ops:    []op{open("f"), write("f", 10, "abc"), write("f", 2, "xx")},
			want:   map[string]string{"f": "01" + z(2) + "456789"},
			zeroed: 2,
		},
		{
			name: "restart without power loss, then a sync covers the old run's writes",
			ops: []op{create("f"), alloc("f", 8), syncF("f"), syncDir(), write("f", 0, "aaaa"),
				restart(), open("f"), write("f", 4, "bb"), syncF("f"), write("f", 6, "cc")},
			want:   map[string]string{"f": "aaaabb" + z(2)},
			zeroed: 2,
		},
		{
			name: "restart, then the old run's writes are still unsynced",
			ops: []op{create("f"), alloc("f", 8), syncF("f"), syncDir(), write("f", 0, "aaaa"),
				restart(), open("f")},
			want:   map[string]string{"f": z(8)},
			zeroed: 4,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScript(t, tc.pre)
			for _, o := range tc.ops {
				o(s)
			}
			// The process is "killed": no Close of its files.
			s.check(s.j.Close())
			rep, err := PowerLoss(s.journal)
			s.check(err)
			if got := dirContents(t, s.dir); !equalMaps(got, tc.want) {
				t.Errorf("after power loss:\n got %q\nwant %q\nreport %v", got, tc.want, rep.Files)
			}
			if rep.BytesZeroed != tc.zeroed {
				t.Errorf("report says %d bytes zeroed, want %d: %v", rep.BytesZeroed, tc.zeroed, rep.Files)
			}
			if st, err := os.Stat(s.journal); err != nil || st.Size() != 0 {
				t.Errorf("journal after power loss: %v, %v; want it empty (a new epoch)", st, err)
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestPowerLossReport checks what the report says about each kind of loss.
func TestPowerLossReport(t *testing.T) {
	s := newScript(t, map[string]string{"state": "old", "gone": "g"})
	for _, o := range []op{
		create("f"), alloc("f", 16), syncF("f"), syncDir(),
		write("f", 0, "aaaa"), write("f", 8, "bb"), write("f", 16, "grow"),
		create("new"), write("new", 0, "n"), syncF("new"),
		create("state.tmp"), write("state.tmp", 0, "s"), syncF("state.tmp"), rename("state.tmp", "state"),
		remove("gone"),
	} {
		o(s)
	}
	s.check(s.j.Close())
	rep, err := PowerLoss(s.journal)
	s.check(err)
	want := []FileLoss{
		{Path: s.path("f"), Zeroed: []Range{{0, 4}, {8, 10}}, Truncated: true, Size: 16},
		{Path: s.path("gone"), Restored: true},
		{Path: s.path("new"), Removed: true},
		{Path: s.path("state"), Restored: true},
	}
	if len(rep.Files) != len(want) {
		t.Fatalf("report:\n%v\nwant\n%v", rep.Files, want)
	}
	for i, w := range want {
		g := rep.Files[i]
		if g.Path != w.Path || !slices.Equal(g.Zeroed, w.Zeroed) || g.Truncated != w.Truncated ||
			g.Size != w.Size || g.Removed != w.Removed || g.Restored != w.Restored || g.Missing {
			t.Errorf("file %d: %+v, want %+v", i, g, w)
		}
	}
	if rep.BytesZeroed != 6 {
		t.Errorf("BytesZeroed = %d, want 6", rep.BytesZeroed)
	}
	// A second power loss with an empty journal changes nothing.
	rep, err = PowerLoss(s.journal)
	if err != nil || len(rep.Files) != 0 || rep.Records != 0 {
		t.Errorf("second power loss: %v, %v; want nothing", rep, err)
	}
}

// TestKeepLinks: Remove and Rename over a file keep a hard link to it,
// hidden from List, until a SyncDir makes the change durable.
func TestKeepLinks(t *testing.T) {
	tests := []struct {
		name string
		ops  []op
	}{
		{"remove", []op{remove("x")}},
		{"rename over", []op{create("y"), rename("y", "x")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScript(t, map[string]string{"x": "keep"})
			for _, o := range tc.ops {
				o(s)
			}
			links := func() (n int) {
				for name := range dirContents(t, s.dir) {
					if strings.HasPrefix(name, keepPrefix) {
						n++
					}
				}
				return n
			}
			names, err := s.fs.List(s.dir)
			s.check(err)
			if links() != 1 || slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, keepPrefix) }) {
				t.Fatalf("%d links on disk, List shows %q; want 1 link, hidden", links(), names)
			}
			syncDir()(s)
			if links() != 0 {
				t.Errorf("%d links after SyncDir, want 0", links())
			}
		})
	}
}
