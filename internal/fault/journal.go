package fault

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// The journal's format; see the package documentation for the records.
const (
	journalMagic   = "rmqlog-fault-journal"
	journalVersion = "v1"
)

// Journal is the append-only record of the file operations PowerLoss
// replays. Every record is one write(2) to a file opened with O_APPEND: it
// survives kill -9 without an fsync (the page cache keeps it) and records
// land in the order they were written. It is safe for concurrent use.
type Journal struct {
	path string

	mu      sync.Mutex       // guards every field below
	f       *os.File         // nil after Close
	n       int64            // records (lines) written in this run, after the header
	paths   map[string]int64 // path ids defined in this run
	handles int64            // the last file handle id given out
	buf     []byte           // scratch for one record
	err     error            // sticky write failure
	locks   []io.Closer      // directory locks taken through an FS over this journal
}

// ErrJournalClosed is returned for operations journaled after Close.
var ErrJournalClosed = errors.New("fault: journal closed")

// OpenJournal opens (creating it if needed) the journal at path and starts
// a new run in it: a torn last record left by a kill is cut off, then a run
// header is appended. Close it when the file system is no longer used.
func OpenJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("fault: open journal: %w", err)
	}
	j := &Journal{path: path, f: f, paths: map[string]int64{}}
	if err := j.start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("fault: journal %s: %w", path, err)
	}
	return j, nil
}

// start checks the existing content's version, cuts a torn tail and writes
// the run header.
func (j *Journal) start() error {
	st, err := j.f.Stat()
	if err != nil {
		return err
	}
	if size := st.Size(); size > 0 {
		head := make([]byte, min(size, 64))
		if _, err := j.f.ReadAt(head, 0); err != nil {
			return err
		}
		if _, err := parseHeader(string(head)); err != nil {
			return err
		}
		if err := cutTornTail(j.f, size); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(j.f, "%s %s pid=%d\n", journalMagic, journalVersion, os.Getpid())
	return err
}

// parseHeader checks a run header line (or a prefix of the file holding
// one) and returns its version.
func parseHeader(line string) (string, error) {
	rest, ok := strings.CutPrefix(line, journalMagic+" ")
	if !ok {
		return "", fmt.Errorf("not a fault journal (no %q header)", journalMagic)
	}
	v, _, _ := strings.Cut(rest, " ")
	v, _, _ = strings.Cut(v, "\n")
	if v != journalVersion {
		return v, fmt.Errorf("journal format %q, this build reads %q: remove the file", v, journalVersion)
	}
	return v, nil
}

// cutTornTail truncates f (of size bytes) after its last newline: a record
// a kill cut short in the middle of its write(2).
func cutTornTail(f *os.File, size int64) error {
	const chunk = 4096
	for end := size; end > 0; {
		start := max(0, end-chunk)
		b := make([]byte, end-start)
		if _, err := f.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			if keep := start + int64(i) + 1; keep < size {
				return f.Truncate(keep)
			}
			return nil
		}
		end = start
	}
	return f.Truncate(0)
}

// Close closes the journal file; later records fail with ErrJournalClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	// The process "dies" with its journal (in-process power-cut tests
	// reopen the log without closing it): its directory locks go too, as
	// the kernel releases a dead process's flocks.
	for _, l := range j.locks {
		l.Close()
	}
	j.locks = nil
	return err
}

// holdLock records a directory lock that dies with the journal.
func (j *Journal) holdLock(l io.Closer) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.locks = append(j.locks, l)
}

// seq returns the number of records written in this run: a Sync that
// starts now covers the writes journaled before it.
func (j *Journal) seq() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.n
}

// handle journals the opening of a file ("c" or "o") and returns its
// handle id.
func (j *Journal) handle(op byte, path string, size int64) (int64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.handles++
	h := j.handles
	nums := []int64{h}
	if op == opOpen {
		nums = append(nums, size)
	}
	_, err := j.recordLocked(op, []string{path}, nums...)
	return h, err
}

// record journals one operation on paths (defining their ids first if
// new) with numeric arguments nums, and returns the record's number.
func (j *Journal) record(op byte, paths []string, nums ...int64) (int64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.recordLocked(op, paths, nums...)
}

func (j *Journal) recordLocked(op byte, paths []string, nums ...int64) (int64, error) {
	if j.err != nil {
		return 0, j.err
	}
	if j.f == nil {
		return 0, ErrJournalClosed
	}
	b, lines := j.buf[:0], int64(0)
	var ids [2]int64
	for i, p := range paths {
		id, ok := j.paths[p]
		if !ok {
			id = int64(len(j.paths) + 1)
			j.paths[p] = id
			b = append(b, opPath, ' ')
			b = strconv.AppendInt(b, id, 10)
			b = append(b, ' ')
			b = strconv.AppendQuote(b, p)
			b = append(b, '\n')
			lines++
		}
		ids[i] = id
	}
	b = append(b, op)
	for _, n := range ids[:len(paths)] {
		b = append(b, ' ')
		b = strconv.AppendInt(b, n, 10)
	}
	for _, n := range nums {
		b = append(b, ' ')
		b = strconv.AppendInt(b, n, 10)
	}
	b = append(b, '\n')
	j.buf = b
	if _, err := j.f.Write(b); err != nil {
		j.err = fmt.Errorf("fault: journal %s: %w", j.path, err)
		return 0, j.err
	}
	j.n += lines + 1
	return j.n - 1, nil
}

// Record operations. Each line is the operation letter and its arguments
// separated by single spaces: path ids, then numbers (see doc.go).
const (
	opPath      = 'p' // p <id> <quoted absolute path>
	opCreate    = 'c' // c <path> <handle>
	opOpen      = 'o' // o <path> <handle> <size at open>
	opWrite     = 'w' // w <handle> <offset> <length written>
	opAllocate  = 'a' // a <handle> <size>
	opSync      = 's' // s <handle> <records before the fdatasync began>
	opRename    = 'r' // r <from path> <to path>
	opKeep      = 'k' // k <path> <backup path>: a hard link to the file at path
	opRemove    = 'd' // d <path>
	opDirBegin  = 'B' // B <dir>: a SyncDir begins
	opDirSynced = 'D' // D <dir> <number of its B record>
)
