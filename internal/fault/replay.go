package fault

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// span is a write or an allocation no Sync has covered yet.
type span struct {
	run, num int64 // the run and record number that journaled it
	off, end int64 // bytes [off, end); an allocation has off == end == size
}

// inode is one file as the journal saw it, whatever its names.
type inode struct {
	pending []span // writes and allocations not yet durable, in order
	durable int64  // the durable size; -1 if unknown
}

// cover makes durable what was journaled before record seq of run (and
// everything journaled in earlier runs).
func (n *inode) cover(run, seq int64) {
	kept := n.pending[:0]
	for _, s := range n.pending {
		if s.run < run || s.num < seq {
			if n.durable >= 0 {
				n.durable = max(n.durable, s.end)
			}
			continue
		}
		kept = append(kept, s)
	}
	n.pending = kept
}

// unsynced returns the byte ranges written and not covered by a Sync,
// sorted and merged.
func (n *inode) unsynced() []Range {
	var rs []Range
	for _, s := range n.pending {
		if s.end > s.off {
			rs = append(rs, Range{Off: s.off, End: s.end})
		}
	}
	return merge(rs)
}

// model is the journal replayed: the namespace as the killed process left
// it and as the last SyncDirs made it durable, and every file's unsynced
// writes.
type model struct {
	names   map[string]*inode // the namespace on disk now (nil: no file)
	origin  map[string]*inode // the namespace when the epoch began
	durable map[string]*inode // names a SyncDir made durable
	backups map[*inode][]string
	links   []string // every link the FS kept
	records int64

	// The current run: ids and numbers restart at every run header.
	run     int64
	num     int64
	paths   map[int64]string
	handles map[int64]*inode
	snaps   map[int64]map[string]*inode // a directory's names at a B record, by its number
}

func newModel() *model {
	return &model{names: map[string]*inode{}, origin: map[string]*inode{},
		durable: map[string]*inode{}, backups: map[*inode][]string{}}
}

// replay reads a journal. A last line without its newline (a record a kill
// cut short) is ignored.
func replay(r io.Reader) (*model, error) {
	m := newModel()
	br := bufio.NewReaderSize(r, 1<<16)
	for line := 1; ; line++ {
		s, err := br.ReadString('\n')
		if errors.Is(err, io.EOF) {
			return m, nil // s, if any, is torn
		}
		if err != nil {
			return nil, err
		}
		if err := m.line(strings.TrimSuffix(s, "\n")); err != nil {
			return nil, fmt.Errorf("line %d %q: %w", line, s, err)
		}
	}
}

// line applies one record.
func (m *model) line(s string) error {
	if strings.HasPrefix(s, journalMagic) {
		if _, err := parseHeader(s); err != nil {
			return err
		}
		m.run++
		m.num = 0
		m.paths, m.handles, m.snaps = map[int64]string{}, map[int64]*inode{}, map[int64]map[string]*inode{}
		return nil
	}
	if m.run == 0 {
		return errors.New("record before the first run header")
	}
	num := m.num
	m.num++
	m.records++
	if len(s) < 2 || s[1] != ' ' {
		return errors.New("malformed record")
	}
	if s[0] == opPath {
		return m.definePath(s[2:])
	}
	var args []int64
	for _, f := range strings.Split(s[2:], " ") {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return err
		}
		args = append(args, v)
	}
	return m.apply(s[0], args, num)
}

func (m *model) definePath(s string) error {
	id, q, ok := strings.Cut(s, " ")
	n, err := strconv.ParseInt(id, 10, 64)
	if !ok || err != nil {
		return errors.New("malformed path record")
	}
	p, err := strconv.Unquote(q)
	if err != nil {
		return err
	}
	m.paths[n] = p
	return nil
}

// arity is the number of arguments of each operation.
var arity = map[byte]int{opCreate: 2, opOpen: 3, opWrite: 3, opAllocate: 2, opSync: 2,
	opRename: 2, opKeep: 2, opRemove: 1, opDirBegin: 1, opDirSynced: 2}

// apply replays operation op with arguments a, journaled as record num.
func (m *model) apply(op byte, a []int64, num int64) error {
	if n, ok := arity[op]; !ok || n != len(a) {
		return fmt.Errorf("unknown operation %q or wrong argument count %d", op, len(a))
	}
	switch op {
	case opWrite, opAllocate, opSync:
		return m.applyData(op, a, num)
	}
	p, err := m.path(a[0])
	if err != nil {
		return err
	}
	switch op {
	case opCreate:
		m.see(p, false, 0)
		m.handles[a[1]] = m.set(p, &inode{})
	case opOpen:
		m.see(p, true, a[2])
		if m.names[p] == nil { // opened a file the journal did not see appear
			m.names[p] = &inode{durable: -1}
		}
		m.handles[a[1]] = m.names[p]
	case opRemove:
		m.see(p, true, -1)
		m.names[p] = nil
	case opDirBegin:
		m.snaps[num] = m.dirNames(p)
	case opDirSynced:
		for q, n := range m.snaps[a[1]] {
			m.durable[q] = n
		}
		delete(m.snaps, a[1])
	default:
		return m.applyPair(op, p, a[1])
	}
	return nil
}

// applyData replays a write, an allocation or a file sync.
func (m *model) applyData(op byte, a []int64, num int64) error {
	n := m.handles[a[0]]
	if n == nil {
		return fmt.Errorf("unknown file handle %d", a[0])
	}
	switch op {
	case opWrite:
		n.pending = append(n.pending, span{run: m.run, num: num, off: a[1], end: a[1] + a[2]})
	case opAllocate:
		n.pending = append(n.pending, span{run: m.run, num: num, off: a[1], end: a[1]})
	case opSync:
		n.cover(m.run, a[1])
	}
	return nil
}

// applyPair replays a rename or a kept link: operations on two paths.
func (m *model) applyPair(op byte, p string, id int64) error {
	q, err := m.path(id)
	if err != nil {
		return err
	}
	m.see(p, true, -1)
	switch op {
	case opRename:
		m.see(q, false, 0) // a file it replaced was seen by its "k" record
		m.names[q], m.names[p] = m.names[p], nil
	case opKeep:
		if n := m.names[p]; n != nil {
			m.backups[n] = append(m.backups[n], q)
		}
		m.links = append(m.links, q)
	}
	return nil
}

func (m *model) path(id int64) (string, error) {
	p, ok := m.paths[id]
	if !ok {
		return "", fmt.Errorf("undefined path id %d", id)
	}
	return p, nil
}

// see records what path p held when the epoch began, the first time the
// journal names it: a file (durable, of size bytes, -1 if unknown) if it
// existed, else nothing.
func (m *model) see(p string, existed bool, size int64) {
	if _, ok := m.names[p]; ok {
		return
	}
	var n *inode
	if existed {
		n = &inode{durable: size}
	}
	m.names[p], m.origin[p] = n, n
}

func (m *model) set(p string, n *inode) *inode {
	m.names[p] = n
	return n
}

// dirNames returns the names the model holds in dir (absent ones included).
func (m *model) dirNames(dir string) map[string]*inode {
	s := map[string]*inode{}
	for p, n := range m.names {
		if filepath.Dir(p) == dir {
			s[p] = n
		}
	}
	return s
}

// want returns the file path must hold after a power loss: what the last
// SyncDir covering it saw, else what it held when the epoch began.
func (m *model) want(p string) *inode {
	if n, ok := m.durable[p]; ok {
		return n
	}
	return m.origin[p]
}
