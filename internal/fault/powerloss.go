package fault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rmqlog/rmqlog/segment"
)

// Range is the bytes [Off, End) of a file.
type Range struct{ Off, End int64 }

// merge sorts rs and merges overlapping or adjacent ranges.
func merge(rs []Range) []Range {
	slices.SortFunc(rs, func(a, b Range) int {
		switch {
		case a.Off < b.Off:
			return -1
		case a.Off > b.Off:
			return 1
		}
		return 0
	})
	var out []Range
	for _, r := range rs {
		if k := len(out) - 1; k >= 0 && r.Off <= out[k].End {
			out[k].End = max(out[k].End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}

// FileLoss is what a power loss did to one path.
type FileLoss struct {
	Path string
	// Zeroed are the byte ranges written since the file's last Sync, now
	// zeros (sorted, merged, within the file's final size).
	Zeroed []Range
	// Truncated says the file grew (WriteAt, Allocate) since its last Sync
	// and was cut back to Size bytes.
	Truncated bool
	Size      int64
	// Removed: the name did not survive (created, or renamed to, since its
	// directory's last SyncDir).
	Removed bool
	// Restored: the name holds an older file again (a Remove of it, or a
	// Rename to or from it, came after its directory's last SyncDir).
	Restored bool
	// Missing: the journal says a file must be here but there is none to
	// put back: the kill fell between an operation and its record.
	Missing bool
}

// ZeroedBytes returns the number of bytes zeroed.
func (f FileLoss) ZeroedBytes() int64 {
	var n int64
	for _, r := range f.Zeroed {
		n += r.End - r.Off
	}
	return n
}

func (f FileLoss) lost() bool {
	return len(f.Zeroed) > 0 || f.Truncated || f.Removed || f.Restored || f.Missing
}

// String describes the loss in one line.
func (f FileLoss) String() string {
	var parts []string
	if n := f.ZeroedBytes(); n > 0 {
		parts = append(parts, fmt.Sprintf("zeroed %d bytes in %d ranges", n, len(f.Zeroed)))
	}
	for _, p := range []struct {
		on   bool
		what string
	}{{f.Truncated, fmt.Sprintf("truncated to %d", f.Size)}, {f.Removed, "removed"},
		{f.Restored, "restored"}, {f.Missing, "missing"}} {
		if p.on {
			parts = append(parts, p.what)
		}
	}
	return f.Path + ": " + strings.Join(parts, ", ")
}

// LossReport is what PowerLoss did: the files it changed, sorted by path.
type LossReport struct {
	Files       []FileLoss
	BytesZeroed int64
	Records     int64 // journal records replayed
}

// File returns the loss of path (absolute) and whether there was one.
func (r LossReport) File(path string) (FileLoss, bool) {
	for _, f := range r.Files {
		if f.Path == path {
			return f, true
		}
	}
	return FileLoss{}, false
}

// PowerLoss makes the files a journal describes look as a power cut would
// have left them, then truncates the journal (a new epoch). Call it only
// after the process writing the journal has exited (killed with SIGKILL and
// reaped); the files must not be in use.
//  1. replay the journal: which bytes of which file no Sync covered, and
//     which names no SyncDir covered;
//  2. put every name back to its durable file: names created since their
//     directory's last SyncDir are removed, Removes and Renames not
//     followed by one are undone (from the hard links the FS kept);
//  3. overwrite every unsynced byte range with zeros and cut files back to
//     their durable size; fdatasync what changed;
//  4. remove the kept links, sync the directories, truncate the journal.
func PowerLoss(journal string) (LossReport, error) {
	f, err := os.Open(journal)
	if err != nil {
		return LossReport{}, fmt.Errorf("fault: power loss: %w", err)
	}
	m, err := replay(f)
	_ = f.Close()
	if err != nil {
		return LossReport{}, fmt.Errorf("fault: power loss: journal %s: %w", journal, err)
	}
	rep, err := m.powerLoss()
	if err != nil {
		return rep, fmt.Errorf("fault: power loss: %w", err)
	}
	if err := os.Truncate(journal, 0); err != nil {
		return rep, fmt.Errorf("fault: power loss: %w", err)
	}
	return rep, nil
}

// step is one path's change: it holds have and must hold want.
type step struct {
	path       string
	want, have *inode
	loss       FileLoss
}

// powerLoss performs steps 2 to 4 of PowerLoss.
func (m *model) powerLoss() (LossReport, error) {
	steps := m.steps()
	if err := m.rename(steps); err != nil {
		return LossReport{}, err
	}
	rep := LossReport{Records: m.records}
	dirs := map[string]bool{}
	for i := range steps {
		s := &steps[i]
		if s.want != nil && !s.loss.Missing {
			if err := lose(s.path, s.want, &s.loss); err != nil {
				return rep, err
			}
		}
		dirs[filepath.Dir(s.path)] = true
		if s.loss.lost() {
			rep.Files = append(rep.Files, s.loss)
			rep.BytesZeroed += s.loss.ZeroedBytes()
		}
	}
	for _, l := range m.links {
		if err := os.Remove(l); err != nil && !errors.Is(err, os.ErrNotExist) {
			return rep, err
		}
	}
	for d := range dirs {
		if err := (segment.OSFS{}).SyncDir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			return rep, err
		}
	}
	return rep, nil
}

// steps lists every path the journal named, sorted.
func (m *model) steps() []step {
	var paths []string
	for p := range m.names {
		paths = append(paths, p)
	}
	for p := range m.durable {
		if _, ok := m.names[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	steps := make([]step, len(paths))
	for i, p := range paths {
		steps[i] = step{path: p, want: m.want(p), have: m.names[p], loss: FileLoss{Path: p}}
	}
	return steps
}

// rename puts the durable file back under every name that holds another
// (or none): first a hard link to each such file under a temporary name
// (so moves that swap names work), then the names are cleared, then the
// links renamed into place.
func (m *model) rename(steps []step) error {
	staged := map[int]string{}
	for i := range steps {
		s := &steps[i]
		if s.want == s.have || s.want == nil {
			continue
		}
		src := m.locate(s.want)
		if src == "" {
			s.loss.Missing = true
			continue
		}
		tmp := s.path + ".fault-restore"
		_ = os.Remove(tmp)
		if err := os.Link(src, tmp); err != nil {
			return err
		}
		staged[i] = tmp
	}
	for i := range steps {
		s := &steps[i]
		if s.want == s.have || s.loss.Missing {
			continue // nothing to change, or nothing to put back: keep what is there
		}
		err := os.Remove(s.path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		s.loss.Removed = err == nil && s.want == nil
	}
	for i, tmp := range staged {
		if err := os.Rename(tmp, steps[i].path); err != nil {
			return err
		}
		steps[i].loss.Restored = true
	}
	return nil
}

// locate returns a path holding file n now: a link the FS kept to it (sure
// to be n), else a name the journal says it has; "" if none exists.
func (m *model) locate(n *inode) string {
	cands := slices.Clone(m.backups[n])
	for p, x := range m.names {
		if x == n {
			cands = append(cands, p)
		}
	}
	for _, p := range cands {
		if _, err := os.Lstat(p); err == nil {
			return p
		}
	}
	return ""
}

// lose zeroes the unsynced ranges of file n at path and cuts it back to its
// durable size, recording what it did in l.
func lose(path string, n *inode, l *FileLoss) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		l.Missing = true
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if n.durable >= 0 && n.durable < size {
		size, l.Truncated, l.Size = n.durable, true, n.durable
		if err := f.Truncate(size); err != nil {
			return err
		}
	}
	for _, r := range n.unsynced() {
		r.End = min(r.End, size)
		if r.Off >= r.End {
			continue
		}
		if err := zero(f, r); err != nil {
			return err
		}
		l.Zeroed = append(l.Zeroed, r)
	}
	if l.Truncated || len(l.Zeroed) > 0 {
		return f.Sync()
	}
	return nil
}

var zeros = make([]byte, 1<<20)

func zero(f *os.File, r Range) error {
	for off := r.Off; off < r.End; {
		n := min(r.End-off, int64(len(zeros)))
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}
