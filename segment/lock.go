package segment

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned when a directory is in use by another process (or,
// on a MemFS, another Log of the same process).
var ErrLocked = errors.New("segment: directory in use")

// lockName is the lock file every log directory (and the engine's data
// directory) holds while a process uses it. It holds the pid of the
// process that locked it last; the lock itself is an flock, released by
// the kernel when that process exits, however it exits.
const lockName = "LOCK"

// Lock takes an exclusive lock on dir for the life of the returned Closer:
// an flock on dir/LOCK, which then holds this process's pid. A second
// Lock, from any process, fails with ErrLocked naming the holder's pid.
func (OSFS) Lock(dir string) (io.Closer, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("segment: lock %s: %w", dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := readHolder(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, lockedErr(dir, holder)
		}
		return nil, fmt.Errorf("segment: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(fmt.Appendf(nil, "%d\n", os.Getpid()), 0)
	}
	return f, nil // a failed pid write costs only the name in a later error
}

// CheckUnused reports, with ErrLocked, whether a process holds dir's lock,
// for tools that read a stopped node's files (rmqlog dump, verify --dir).
// While release is not called it holds a shared lock, so that no node
// starts on dir meanwhile. A directory without a lock file is unused.
func CheckUnused(dir string) (release func(), err error) {
	f, err := os.Open(filepath.Join(dir, lockName))
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("segment: %s: %w", dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		holder := readHolder(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s belongs to a running node (pid %s): its files change while they are read; "+
				"stop the node first, or read through its client port (rmqlog get, rmqlog verify --addr)", ErrLocked, dir, holder)
		}
		return nil, fmt.Errorf("segment: lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

func readHolder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	if s := strings.TrimSpace(string(b[:n])); s != "" {
		return s
	}
	return "unknown"
}

func lockedErr(dir, holder string) error {
	return fmt.Errorf("%w: %s is in use by another process (pid %s, per %s): each node needs a data directory of "+
		"its own; stop that process first, or give this node its own storePathRootDir and storePathCommitLog",
		ErrLocked, dir, holder, filepath.Join(dir, lockName))
}

// memLocks are a MemFS's locked directories.
type memLocks struct {
	mu   sync.Mutex
	held map[string]bool
}

// Lock locks dir within this MemFS, as OSFS.Lock does across processes.
func (m *MemFS) Lock(dir string) (io.Closer, error) {
	dir = filepath.Clean(dir)
	m.locks.mu.Lock()
	defer m.locks.mu.Unlock()
	if m.locks.held[dir] {
		return nil, lockedErr(dir, "this process")
	}
	if m.locks.held == nil {
		m.locks.held = make(map[string]bool)
	}
	m.locks.held[dir] = true
	return memUnlock{m, dir}, nil
}

type memUnlock struct {
	m   *MemFS
	dir string
}

func (u memUnlock) Close() error {
	u.m.locks.mu.Lock()
	defer u.m.locks.mu.Unlock()
	delete(u.m.locks.held, u.dir)
	return nil
}
