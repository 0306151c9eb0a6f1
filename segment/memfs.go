package segment

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// MemFS is an in-memory FS for tests that models what survives a crash:
// file contents written since a file's last Sync and names created, renamed
// or removed since their directory's last SyncDir are lost (or, with
// CrashTorn, partly kept, sector by sector). It can inject an error at any
// operation and limit its capacity to model a full disk.
//
// Mapped bytes live outside the Go heap (an anonymous mmap), so concurrent
// appends and syncs behave as with a real page cache.
type MemFS struct {
	mu       sync.Mutex           // guards every field and every inode's metadata
	files    map[string]*memInode // the namespace as the running process sees it
	durable  map[string]*memInode // the namespace a crash would leave
	dirs     map[string]bool
	capacity int64 // bytes; 0 means unlimited
	used     int64
	now      func() time.Time
	fault    atomic.Pointer[func(op, name string) error] // called without mu held
	locks    memLocks                                    // Lock: none survive a Crash
	evicts   []evicted                                   // every Evict, in order (tests)
}

// evicted is one Evict of a MemFS file.
type evicted struct {
	name   string
	off, n int64
}

// memInode is one file. data is what reads see (the page cache); disk is
// what survives a crash.
type memInode struct {
	data   []byte
	disk   []byte
	mapped bool
	mtime  time.Time
}

// NewMemFS returns an empty in-memory file system.
func NewMemFS() *MemFS {
	return &MemFS{
		files:   map[string]*memInode{},
		durable: map[string]*memInode{},
		dirs:    map[string]bool{},
		now:     time.Now,
	}
}

// SetCapacity limits the bytes all files may hold; beyond it writes and
// allocations fail with ENOSPC. Zero removes the limit.
func (m *MemFS) SetCapacity(bytes int64) {
	m.mu.Lock()
	m.capacity = bytes
	m.mu.Unlock()
}

// SetFault installs f, called before every operation with the operation's
// name ("create", "open", "remove", "rename", "list", "mkdir", "syncdir",
// "read", "write", "allocate", "sync", "map", "unmap") and the path;
// a non-nil result is returned by the operation, which then does nothing.
func (m *MemFS) SetFault(f func(op, name string) error) {
	if f == nil {
		m.fault.Store(nil)
		return
	}
	m.fault.Store(&f)
}

// SetClock replaces the clock used for modification times.
func (m *MemFS) SetClock(now func() time.Time) {
	m.mu.Lock()
	m.now = now
	m.mu.Unlock()
}

// Crash returns the file system a machine would find after losing power
// now: only synced contents under synced names.
func (m *MemFS) Crash() *MemFS { return m.crash(nil) }

// CrashTorn is Crash, except that every 512-byte sector written since the
// last sync survives or not at random, as a real disk may leave it.
func (m *MemFS) CrashTorn(rng *rand.Rand) *MemFS { return m.crash(rng) }

func (m *MemFS) crash(rng *rand.Rand) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMemFS()
	c.capacity, c.now = m.capacity, m.now
	for d := range m.dirs {
		c.dirs[d] = true
	}
	for name, ino := range m.durable {
		b := append([]byte(nil), ino.disk...)
		if rng != nil {
			tear(b, ino.data, rng)
		}
		n := &memInode{data: b, disk: append([]byte(nil), b...), mtime: ino.mtime}
		c.files[name], c.durable[name] = n, n
		c.used += int64(len(b))
	}
	return c
}

// tear copies random 512-byte sectors of cache over disk where they differ.
func tear(disk, cache []byte, rng *rand.Rand) {
	const sector = 512
	n := min(len(disk), len(cache))
	for off := 0; off < n; off += sector {
		end := min(off+sector, n)
		if string(disk[off:end]) != string(cache[off:end]) && rng.IntN(2) == 0 {
			copy(disk[off:end], cache[off:end])
		}
	}
}

// Files returns the current names, sorted (for tests).
func (m *MemFS) Files() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for n := range m.files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ReadFile returns a copy of the current contents of name (for tests).
func (m *MemFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ino, ok := m.files[filepath.Clean(name)]
	if !ok {
		return nil, &os.PathError{Op: "read", Path: name, Err: os.ErrNotExist}
	}
	return append([]byte(nil), ino.data...), nil
}

// WriteFile overwrites bytes of name at off, durably (for corrupting files in tests).
func (m *MemFS) WriteFile(name string, off int64, p []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ino, ok := m.files[filepath.Clean(name)]
	if !ok || off+int64(len(p)) > int64(len(ino.data)) {
		return fmt.Errorf("memfs: cannot write %d bytes at %d of %s", len(p), off, name)
	}
	copy(ino.data[off:], p)
	copy(ino.disk[off:], p)
	return nil
}

// check runs the fault hook; m.mu must not be held (the hook may call
// Crash).
func (m *MemFS) check(op, name string) error {
	f := m.fault.Load()
	if f == nil {
		return nil
	}
	if err := (*f)(op, name); err != nil {
		return &os.PathError{Op: op, Path: name, Err: err}
	}
	return nil
}

func (m *MemFS) Create(name string) (File, error) {
	name = filepath.Clean(name)
	if err := m.check("create", name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[filepath.Dir(name)] {
		return nil, &os.PathError{Op: "create", Path: name, Err: os.ErrNotExist}
	}
	if _, ok := m.files[name]; ok {
		return nil, &os.PathError{Op: "create", Path: name, Err: os.ErrExist}
	}
	ino := &memInode{mtime: m.now()}
	m.files[name] = ino
	return &memFile{fs: m, ino: ino, name: name}, nil
}

func (m *MemFS) Open(name string) (File, error) {
	name = filepath.Clean(name)
	if err := m.check("open", name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ino, ok := m.files[name]
	if !ok {
		return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
	}
	return &memFile{fs: m, ino: ino, name: name}, nil
}

func (m *MemFS) Remove(name string) error {
	name = filepath.Clean(name)
	if err := m.check("remove", name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ino, ok := m.files[name]
	if !ok {
		return &os.PathError{Op: "remove", Path: name, Err: os.ErrNotExist}
	}
	delete(m.files, name)
	if m.durable[name] != ino {
		m.used -= int64(len(ino.data))
	}
	return nil
}

func (m *MemFS) Rename(oldname, newname string) error {
	oldname, newname = filepath.Clean(oldname), filepath.Clean(newname)
	if err := m.check("rename", oldname); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ino, ok := m.files[oldname]
	if !ok {
		return &os.PathError{Op: "rename", Path: oldname, Err: os.ErrNotExist}
	}
	delete(m.files, oldname)
	m.files[newname] = ino
	return nil
}

func (m *MemFS) List(dir string) ([]string, error) {
	dir = filepath.Clean(dir)
	if err := m.check("list", dir); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[dir] {
		return nil, &os.PathError{Op: "list", Path: dir, Err: os.ErrNotExist}
	}
	var names []string
	for n := range m.files {
		if filepath.Dir(n) == dir {
			names = append(names, filepath.Base(n))
		}
	}
	for d := range m.dirs {
		if d != dir && filepath.Dir(d) == dir {
			names = append(names, filepath.Base(d)) // subdirectories, as os.ReadDir lists them
		}
	}
	sort.Strings(names)
	return names, nil
}

// MkdirAll creates dir; directories are durable at once (the log never
// depends on a directory created in the same run surviving a crash).
func (m *MemFS) MkdirAll(dir string) error {
	dir = filepath.Clean(dir)
	if err := m.check("mkdir", dir); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for d := dir; !m.dirs[d]; d = filepath.Dir(d) {
		m.dirs[d] = true
		if d == filepath.Dir(d) {
			break
		}
	}
	return nil
}

func (m *MemFS) SyncDir(dir string) error {
	dir = filepath.Clean(dir)
	if err := m.check("syncdir", dir); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for n := range m.durable {
		if filepath.Dir(n) == dir && m.files[n] == nil {
			delete(m.durable, n)
		}
	}
	for n, ino := range m.files {
		if filepath.Dir(n) == dir {
			m.durable[n] = ino
		}
	}
	m.recount()
	return nil
}

// recount recomputes used bytes: files visible or still durable hold space.
func (m *MemFS) recount() {
	seen := map[*memInode]bool{}
	m.used = 0
	for _, set := range []map[string]*memInode{m.files, m.durable} {
		for _, ino := range set {
			if !seen[ino] {
				seen[ino] = true
				m.used += int64(len(ino.data))
			}
		}
	}
}

// grow extends ino to size bytes, charging capacity; m.mu must be held.
func (m *MemFS) grow(ino *memInode, size int64, name string) error {
	delta := size - int64(len(ino.data))
	if delta <= 0 {
		return nil
	}
	if ino.mapped {
		return fmt.Errorf("memfs: %s: cannot grow a mapped file", name)
	}
	if m.capacity > 0 && m.used+delta > m.capacity {
		return &os.PathError{Op: "allocate", Path: name, Err: syscall.ENOSPC}
	}
	m.used += delta
	ino.data = append(ino.data, make([]byte, delta)...)
	return nil
}

// memFile is an open MemFS file.
type memFile struct {
	fs     *MemFS
	ino    *memInode
	name   string
	closed bool
}

func (f *memFile) op(op string) error {
	if f.closed {
		return &os.PathError{Op: op, Path: f.name, Err: os.ErrClosed}
	}
	return f.fs.check(op, f.name)
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.op("read"); err != nil {
		return 0, err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.op("write"); err != nil {
		return 0, err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.fs.grow(f.ino, off+int64(len(p)), f.name); err != nil {
		return 0, err
	}
	f.ino.mtime = f.fs.now()
	return copy(f.ino.data[off:], p), nil
}

func (f *memFile) Size() (int64, error) {
	if err := f.op("stat"); err != nil {
		return 0, err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return int64(len(f.ino.data)), nil
}

func (f *memFile) ModTime() (time.Time, error) {
	if err := f.op("stat"); err != nil {
		return time.Time{}, err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return f.ino.mtime, nil
}

func (f *memFile) Allocate(size int64) error {
	if err := f.op("allocate"); err != nil {
		return err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return f.fs.grow(f.ino, size, f.name)
}

func (f *memFile) Sync() error {
	if err := f.op("sync"); err != nil {
		return err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if len(f.ino.disk) != len(f.ino.data) {
		f.ino.disk = make([]byte, len(f.ino.data))
	}
	copy(f.ino.disk, f.ino.data)
	return nil
}

func (f *memFile) Map(size int) ([]byte, error) {
	if err := f.op("map"); err != nil {
		return nil, err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.ino.mapped {
		return nil, fmt.Errorf("memfs: %s is already mapped", f.name)
	}
	if size != len(f.ino.data) {
		return nil, fmt.Errorf("memfs: %s: map of %d bytes, file has %d", f.name, size, len(f.ino.data))
	}
	if size == 0 {
		return nil, errors.New("memfs: cannot map an empty file")
	}
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	copy(b, f.ino.data)
	f.ino.data, f.ino.mapped = b, true
	return b, nil
}

func (f *memFile) Populate() error { return nil }

// Evict changes nothing (a MemFS file is all memory); it is recorded, so
// tests see what the log evicts.
func (f *memFile) Evict(off, n int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.fs.evicts = append(f.fs.evicts, evicted{name: f.name, off: off, n: n})
	return nil
}

// Unmap moves the inode's contents back to the heap and releases the
// anonymous mapping; slices of it become invalid, as with a real munmap.
func (f *memFile) Unmap() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if !f.ino.mapped {
		return nil
	}
	m := f.ino.data
	f.ino.data = append([]byte(nil), m...)
	f.ino.mapped = false
	return unix.Munmap(m)
}

func (f *memFile) Close() error {
	err := f.Unmap()
	f.closed = true
	return err
}

// errInjected is the error FailAt injects.
var errInjected = errors.New("injected I/O error")

// ErrInjected returns the error that FailAt injects, for errors.Is in tests.
func ErrInjected() error { return errInjected }

// FailAt returns a fault hook that fails the n-th (0-based) operation whose
// name matches one of ops (all operations if ops is empty) and counts the
// operations it saw in *count.
func FailAt(n int, count *int, ops ...string) func(op, name string) error {
	return func(op, name string) error {
		if len(ops) > 0 && !contains(ops, op) {
			return nil
		}
		*count++
		if *count-1 == n {
			return errInjected
		}
		return nil
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
