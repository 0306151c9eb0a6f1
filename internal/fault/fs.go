package fault

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/rmqlog/rmqlog/segment"
)

// Disk is the simulated free-space state an FS consults. The zero value
// has space. It is safe for concurrent use.
type Disk struct{ full atomic.Bool }

// SetFull makes the disk full (or not).
func (d *Disk) SetFull(full bool) { d.full.Store(full) }

// Full reports whether the disk is full.
func (d *Disk) Full() bool { return d != nil && d.full.Load() }

// noSpace is the error a full disk returns, as the OS reports it.
func noSpace(op, path string) error {
	return &os.PathError{Op: op, Path: path, Err: syscall.ENOSPC}
}

// FS is a segment.FS over the operating system's file system that can
// journal every operation for PowerLoss and fail like a full disk. With a
// nil journal and disk it only adds an indirection to segment.OSFS.
type FS struct {
	base    segment.OSFS
	journal *Journal // nil: nothing is journaled
	disk    *Disk    // nil: never full

	mu      sync.Mutex // guards backups
	backups []backup   // hard links kept until a SyncDir covers them
}

// backup is a hard link the FS made to a file before an operation that
// unlinks it (Remove, or Rename over it), so PowerLoss can undo the
// operation if no SyncDir came after it.
type backup struct {
	dir, path string
	num       int64 // the number of its "k" record
}

var _ segment.FS = (*FS)(nil)

// NewFS returns an FS that journals into j (if not nil) and fails with
// ENOSPC while d (if not nil) is full. The journal stays owned by the
// caller, who closes it after the last use of the FS.
func NewFS(j *Journal, d *Disk) *FS { return &FS{journal: j, disk: d} }

// abs returns the absolute form of name, as the journal records it.
func abs(name string) (string, error) {
	p, err := filepath.Abs(name)
	if err != nil {
		return "", fmt.Errorf("fault: %s: %w", name, err)
	}
	return p, nil
}

// Create fails with ENOSPC while the disk is full.
func (fs *FS) Create(name string) (segment.File, error) {
	if fs.disk.Full() {
		return nil, noSpace("open", name)
	}
	f, err := fs.base.Create(name)
	if err != nil || fs.journal == nil {
		return fs.wrap(f, name, 0), err
	}
	return fs.journalOpen(f, name, opCreate, 0)
}

// Open journals the size it finds: for a file the journal has not seen
// before, the size at the start of the epoch.
func (fs *FS) Open(name string) (segment.File, error) {
	f, err := fs.base.Open(name)
	if err != nil || fs.journal == nil {
		return fs.wrap(f, name, 0), err
	}
	size, err := f.Size()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return fs.journalOpen(f, name, opOpen, size)
}

// journalOpen journals a file just created or opened.
func (fs *FS) journalOpen(f segment.File, name string, op byte, size int64) (segment.File, error) {
	p, err := abs(name)
	var h int64
	if err == nil {
		h, err = fs.journal.handle(op, p, size)
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return fs.wrap(f, name, h), nil
}

// wrap returns f as a File of fs; a nil f stays a nil interface.
func (fs *FS) wrap(f segment.File, name string, h int64) segment.File {
	if f == nil {
		return nil
	}
	return &file{File: f, fs: fs, name: name, h: h}
}

// Remove keeps a hard link to the file first (journaled), so PowerLoss can
// bring it back if no SyncDir of its directory follows.
func (fs *FS) Remove(name string) error {
	if fs.journal == nil {
		return fs.base.Remove(name)
	}
	p, err := abs(name)
	if err != nil {
		return err
	}
	b, err := fs.keep(p)
	if err != nil {
		return err
	}
	if err := fs.base.Remove(name); err != nil {
		fs.drop(b)
		return err
	}
	_, err = fs.journal.record(opRemove, []string{p})
	return err
}

// Rename keeps a hard link to a file it replaces (journaled), so PowerLoss
// can restore the old content if no SyncDir follows.
func (fs *FS) Rename(oldname, newname string) error {
	if fs.journal == nil {
		return fs.base.Rename(oldname, newname)
	}
	from, err := abs(oldname)
	if err != nil {
		return err
	}
	to, err := abs(newname)
	if err != nil {
		return err
	}
	b, err := fs.keep(to)
	if err != nil {
		return err
	}
	if err := fs.base.Rename(oldname, newname); err != nil {
		fs.drop(b)
		return err
	}
	_, err = fs.journal.record(opRename, []string{from, to})
	return err
}

// keep hard-links the file at p (if it exists) to a hidden name in its
// directory and journals it; it returns the link, "" if p does not exist.
func (fs *FS) keep(p string) (string, error) {
	var r [8]byte
	_, _ = rand.Read(r[:])
	dir := filepath.Dir(p)
	b := filepath.Join(dir, keepPrefix+hex.EncodeToString(r[:]))
	if err := os.Link(p, b); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("fault: keep a link to %s: %w", p, err)
	}
	num, err := fs.journal.record(opKeep, []string{p, b})
	if err != nil {
		_ = os.Remove(b)
		return "", err
	}
	fs.mu.Lock()
	fs.backups = append(fs.backups, backup{dir: dir, path: b, num: num})
	fs.mu.Unlock()
	return b, nil
}

// keepPrefix names the hard links Remove and Rename keep. The log ignores
// names it does not know; PowerLoss removes every one it finds journaled.
const keepPrefix = ".rmqlog-fault-keep-"

// drop removes a link keep made for an operation that then failed.
func (fs *FS) drop(b string) {
	if b == "" {
		return
	}
	_ = os.Remove(b)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, k := range fs.backups {
		if k.path == b {
			fs.backups = append(fs.backups[:i], fs.backups[i+1:]...)
			return
		}
	}
}

// List hides the links Remove and Rename keep.
func (fs *FS) List(dir string) ([]string, error) {
	names, err := fs.base.List(dir)
	if err != nil || fs.journal == nil {
		return names, err
	}
	return slices.DeleteFunc(names, func(n string) bool { return strings.HasPrefix(n, keepPrefix) }), nil
}

// MkdirAll is not journaled: directories count as durable at once.
func (fs *FS) MkdirAll(dir string) error { return fs.base.MkdirAll(dir) }

// Lock locks dir on the base file system (not journaled). With a journal
// the lock also ends when the journal is closed: that is the process's
// death in an in-process power-cut test.
func (fs *FS) Lock(dir string) (io.Closer, error) {
	l, err := fs.base.Lock(dir)
	if err == nil && fs.journal != nil {
		fs.journal.holdLock(l)
	}
	return l, err
}

// SyncDir journals its start and its success: the names changed in dir
// before the start are durable. Links kept for them are removed.
func (fs *FS) SyncDir(dir string) error {
	if fs.journal == nil {
		return fs.base.SyncDir(dir)
	}
	p, err := abs(dir)
	if err != nil {
		return err
	}
	begin, err := fs.journal.record(opDirBegin, []string{p})
	if err != nil {
		return err
	}
	if err := fs.base.SyncDir(dir); err != nil {
		return err
	}
	if _, err := fs.journal.record(opDirSynced, []string{p}, begin); err != nil {
		return err
	}
	fs.release(p, begin)
	return nil
}

// release removes the links kept for operations in dir journaled before
// record number before: a SyncDir made those operations durable.
func (fs *FS) release(dir string, before int64) {
	fs.mu.Lock()
	var gone []string
	kept := fs.backups[:0]
	for _, k := range fs.backups {
		if k.dir == dir && k.num < before {
			gone = append(gone, k.path)
		} else {
			kept = append(kept, k)
		}
	}
	fs.backups = kept
	fs.mu.Unlock()
	for _, b := range gone {
		_ = os.Remove(b)
	}
}

// file is a File of an FS. Reads, mappings and Close pass through.
type file struct {
	segment.File
	fs   *FS
	name string
	h    int64 // journal handle id
}

// WriteAt fails with ENOSPC while the disk is full for the bytes beyond
// the file's size (those inside are already allocated and are written).
func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if f.fs.disk.Full() {
		size, err := f.File.Size()
		if err != nil {
			return 0, err
		}
		if off+int64(len(p)) > size {
			n := 0
			if off < size {
				n, err = f.write(p[:size-off], off)
			}
			if err != nil {
				return n, err
			}
			return n, noSpace("write", f.name)
		}
	}
	return f.write(p, off)
}

// write writes p at off and journals the bytes written.
func (f *file) write(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	if n > 0 && f.fs.journal != nil {
		if _, jerr := f.fs.journal.record(opWrite, nil, f.h, off, int64(n)); err == nil {
			err = jerr
		}
	}
	return n, err
}

// Allocate fails with ENOSPC while the disk is full.
func (f *file) Allocate(size int64) error {
	if f.fs.disk.Full() {
		return noSpace("fallocate", f.name)
	}
	if err := f.File.Allocate(size); err != nil {
		return err
	}
	if f.fs.journal == nil {
		return nil
	}
	_, err := f.fs.journal.record(opAllocate, nil, f.h, size)
	return err
}

// Sync journals, after the fdatasync succeeded, how many records were
// written before it began: the writes among them are durable.
func (f *file) Sync() error {
	if f.fs.journal == nil {
		return f.File.Sync()
	}
	seq := f.fs.journal.seq()
	if err := f.File.Sync(); err != nil {
		return err
	}
	_, err := f.fs.journal.record(opSync, nil, f.h, seq)
	return err
}
