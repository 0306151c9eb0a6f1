package segment

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/edsrzf/mmap-go"
	"golang.org/x/sys/unix"
)

// FS is every file-system operation the log performs. OSFS is the real one;
// MemFS simulates crashes and injects faults in tests.
type FS interface {
	// Create creates name (failing if it exists) for reading and writing.
	Create(name string) (File, error)
	// Open opens an existing file for reading and writing.
	Open(name string) (File, error)
	Remove(name string) error
	Rename(oldname, newname string) error
	// List returns the names (not paths) of the entries of dir, sorted.
	List(dir string) ([]string, error)
	MkdirAll(dir string) error
	// SyncDir makes creations, renames and removals in dir durable.
	SyncDir(dir string) error
	// Lock takes an exclusive lock on dir until the Closer is closed; a
	// second Lock of dir fails with ErrLocked (see OSFS.Lock).
	Lock(dir string) (io.Closer, error)
}

// File is an open file. A File is used by one goroutine at a time except
// for the mapping returned by Map, whose bytes the log synchronises itself.
type File interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Size() (int64, error)
	// ModTime is the last modification time (used by retention).
	ModTime() (time.Time, error)
	// Allocate reserves disk blocks for [0, size) and extends the file to
	// size. A full disk fails here (ENOSPC), never later as SIGBUS.
	Allocate(size int64) error
	// Sync makes the file's data durable (fdatasync).
	Sync() error
	// Map maps [0, size) shared and writable. The file keeps at most one
	// mapping; the slice is valid until Unmap or Close.
	Map(size int) ([]byte, error)
	// Populate pre-faults the mapping for writing so that writes through it
	// (index slots) take no page fault.
	Populate() error
	// Evict drops [off, off+n) from memory (off a multiple of 4096): the
	// mapping's pages, which a later access faults in again, and the page
	// cache's clean pages. The file's contents do not change; a hint,
	// like Populate.
	Evict(off, n int64) error
	Unmap() error
	Close() error
}

// OSFS is the operating system's file system.
type OSFS struct{}

var _ FS = OSFS{}

func (OSFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return &osFile{f: f}, nil
}

func (OSFS) Open(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return &osFile{f: f}, nil
}

func (OSFS) Remove(name string) error             { return os.Remove(name) }
func (OSFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }
func (OSFS) MkdirAll(dir string) error            { return os.MkdirAll(dir, 0o755) }

func (OSFS) List(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(des))
	for i, de := range des {
		names[i] = de.Name()
	}
	sort.Strings(names)
	return names, nil
}

func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// osFile is a File on the operating system.
type osFile struct {
	f *os.File
	m mmap.MMap // the mapping, nil when unmapped
}

func (o *osFile) ReadAt(p []byte, off int64) (int, error)  { return o.f.ReadAt(p, off) }
func (o *osFile) WriteAt(p []byte, off int64) (int, error) { return o.f.WriteAt(p, off) }

func (o *osFile) Size() (int64, error) {
	st, err := o.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (o *osFile) ModTime() (time.Time, error) {
	st, err := o.f.Stat()
	if err != nil {
		return time.Time{}, err
	}
	return st.ModTime(), nil
}

func (o *osFile) Allocate(size int64) error {
	err := unix.Fallocate(int(o.f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) {
		// File systems without fallocate: extend with zeros written for real,
		// which still surfaces ENOSPC as an error rather than a SIGBUS. Only
		// beyond the current size: a file extended in recovery keeps its data.
		cur, err := o.Size()
		if err != nil {
			return err
		}
		return o.writeZeros(cur, size-cur)
	}
	if err != nil {
		return &os.PathError{Op: "fallocate", Path: o.f.Name(), Err: err}
	}
	return nil
}

var zeros = make([]byte, 1<<20)

func (o *osFile) writeZeros(off, n int64) error { return writeZeros(o.f, off, n) }

// writeZeros writes n zero bytes at off for real, 1 MiB at a time.
func writeZeros(w io.WriterAt, off, n int64) error {
	for n > 0 {
		c := min(n, int64(len(zeros)))
		if _, err := w.WriteAt(zeros[:c], off); err != nil {
			return err
		}
		off, n = off+c, n-c
	}
	return nil
}

func (o *osFile) Sync() error {
	if err := unix.Fdatasync(int(o.f.Fd())); err != nil {
		return &os.PathError{Op: "fdatasync", Path: o.f.Name(), Err: err}
	}
	return nil
}

func (o *osFile) Map(size int) ([]byte, error) {
	if o.m != nil {
		return nil, fmt.Errorf("segment: %s is already mapped", o.f.Name())
	}
	m, err := mmap.MapRegion(o.f, size, mmap.RDWR, 0, 0)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: o.f.Name(), Err: err}
	}
	o.m = m
	return m, nil
}

func (o *osFile) Populate() error {
	if o.m == nil {
		return nil
	}
	err := unix.Madvise(o.m, unix.MADV_POPULATE_WRITE)
	if errors.Is(err, unix.EINVAL) {
		// Kernels before 5.14: touch one byte per page by reading it; the
		// write fault that remains is minor (the page is in the page cache).
		var s byte
		for i := 0; i < len(o.m); i += os.Getpagesize() {
			s += o.m[i]
		}
		_ = s
		return nil
	}
	return err
}

func (o *osFile) Evict(off, n int64) error {
	if n <= 0 {
		return nil
	}
	if o.m != nil && off < int64(len(o.m)) {
		end := min(off+n, int64(len(o.m)))
		if err := unix.Madvise(o.m[off:end], unix.MADV_DONTNEED); err != nil {
			return &os.PathError{Op: "madvise", Path: o.f.Name(), Err: err}
		}
	}
	if err := unix.Fadvise(int(o.f.Fd()), off, n, unix.FADV_DONTNEED); err != nil {
		return &os.PathError{Op: "fadvise", Path: o.f.Name(), Err: err}
	}
	return nil
}

func (o *osFile) Unmap() error {
	if o.m == nil {
		return nil
	}
	err := o.m.Unmap()
	o.m = nil
	return err
}

func (o *osFile) Close() error {
	err := o.Unmap()
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// isNoSpace reports whether err means the file system is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
