package segment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// File kinds and their name suffixes. Both kinds are named by a 20-digit
// number: a data file by the global offset of its first byte, an index file
// by the entry index of its first slot.
const (
	dataExt  = ".log"
	indexExt = ".idx"
	tmpExt   = ".tmp"
)

// mfile is one preallocated, memory-mapped file of the log.
type mfile struct {
	start uint64 // first global offset (data) or first index (index file)
	path  string
	f     File
	b     []byte        // the whole file, mapped
	warm  chan struct{} // if not nil, closed when a background Populate ends
}

func fileName(start uint64, ext string) string { return fmt.Sprintf("%020d%s", start, ext) }

// parseName returns the start number of a file named by fileName with ext.
func parseName(name, ext string) (uint64, bool) {
	num, ok := strings.CutSuffix(name, ext)
	if !ok || len(num) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	return n, err == nil
}

// close unmaps and closes the file, after any background Populate of it
// (never unmap under it).
func (m *mfile) close() error {
	if m.warm != nil {
		<-m.warm
	}
	return m.f.Close()
}

// create makes a new file of size bytes at path, ready for appends:
//  1. create it under a temporary name, so a crash never leaves a
//     half-prepared file under a real name;
//  2. allocate its blocks (a full disk fails here with ErrDiskFull);
//  3. if prewrite, write zeros over it and fdatasync, so later syncs of
//     appended data overwrite written blocks (no extent conversion);
//  4. rename it into place and sync the directory;
//  5. map it and, if populate, pre-fault the mapping for writing.
func create(fs FS, dir string, start uint64, ext string, size int64, prewrite, populate bool, pace *pacer) (m *mfile, err error) {
	path := filepath.Join(dir, fileName(start, ext))
	tmp := path + tmpExt
	f, err := fs.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("segment: create %s: %w", tmp, noSpace(err))
	}
	name := tmp // what to remove if a later step fails
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = fs.Remove(name)
		}
	}()
	if err = f.Allocate(size); err != nil {
		return nil, fmt.Errorf("segment: preallocate %d bytes for %s: %w", size, tmp, noSpace(err))
	}
	if prewrite {
		err = pace.writeZeros(f, size)
	}
	if err == nil {
		err = f.Sync() // the size, and the zeros, before the name
	}
	if err != nil {
		return nil, fmt.Errorf("segment: zero-fill %s: %w", tmp, noSpace(err))
	}
	if err = fs.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("segment: rename %s: %w", tmp, err)
	}
	name = path
	if err = fs.SyncDir(dir); err != nil {
		return nil, fmt.Errorf("segment: sync directory %s: %w", dir, err)
	}
	return mapFile(f, path, start, size, populate)
}

// open maps an existing file of the log, checking it has the expected size.
// If extend, a file shorter than size (truncated by damage) is extended with
// zeros, so recovery finds where its entries end.
func open(fs FS, path string, start uint64, size int64, extend bool) (*mfile, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("segment: open %s: %w", path, err)
	}
	n, err := f.Size()
	if err == nil && n < size && extend {
		err = f.Allocate(size)
		n = size
	}
	if err == nil && n != size {
		err = fmt.Errorf("%w: file is %d bytes, the configured size is %d; "+
			"start with the segment size the log was created with", ErrCorrupt, n, size)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("segment: %s: %w", path, err)
	}
	m, err := mapFile(f, path, start, size, false)
	if err != nil {
		_ = f.Close()
	}
	return m, err
}

// mapFile maps f; on error the caller still owns (and closes) f.
func mapFile(f File, path string, start uint64, size int64, populate bool) (*mfile, error) {
	b, err := f.Map(int(size))
	if err == nil && populate {
		err = f.Populate()
	}
	if err != nil {
		return nil, fmt.Errorf("segment: map %s: %w", path, err)
	}
	return &mfile{start: start, path: path, f: f, b: b}, nil
}

// noSpace turns the file system's "no space" errors into ErrDiskFull.
func noSpace(err error) error {
	if isNoSpace(err) {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}

// pending is a file being prepared in the background.
type pending struct {
	start uint64
	done  chan struct{} // closed when m or err is set
	m     *mfile
	err   error
	// hurry: the file is needed soon (the active one is half full, or an
	// append waits): zero-fill the rest at full speed.
	hurry atomic.Bool
	// abandon: the log is closing: stop, leaving a temporary file that the
	// next Open removes.
	abandon atomic.Bool
}

// errAbandoned ends a preparation that Close abandoned.
var errAbandoned = errors.New("segment: preparation abandoned: the log is closing")

// prepare starts creating a file in the background. The caller owns the
// result and must wait on done before reading it.
func (l *Log) prepare(start uint64, ext string, size int64) *pending {
	p := &pending{start: start, done: make(chan struct{})}
	if l.opts.inlinePrepare {
		p.m, p.err = create(l.fs, l.dir, start, ext, size, !l.opts.NoPrewrite, populate(ext), nil)
		close(p.done)
		return p
	}
	l.prep.Add(1)
	go func() {
		defer l.prep.Done()
		defer close(p.done)
		began := time.Now()
		p.m, p.err = create(l.fs, l.dir, start, ext, size, !l.opts.NoPrewrite, populate(ext),
			&pacer{rate: l.opts.PrewriteRate, hurry: &p.hurry, abandon: &p.abandon})
		if !errors.Is(p.err, errAbandoned) {
			l.logPrepared(start, ext, size, time.Since(began), p.err)
		}
	}()
	return p
}

// logPrepared logs a new data file (index files at Debug): which, how big,
// how long it took; a slow start is explained in the node's log.
func (l *Log) logPrepared(start uint64, ext string, size int64, took time.Duration, err error) {
	lvl := slog.LevelInfo
	if ext == indexExt {
		lvl = slog.LevelDebug
	}
	if err != nil {
		l.opts.Logger.Warn("segment: preparing a file failed", "file", fileName(start, ext), "dir", l.dir, "err", err)
		return
	}
	l.opts.Logger.Log(context.Background(), lvl, "segment: prepared a file", "file", fileName(start, ext), "dir", l.dir,
		"MiB", size>>20, "zero_filled", !l.opts.NoPrewrite, "took", took.Round(time.Millisecond).String())
}

// prewriteChunk is how much zero-fill is written between two syncs.
const prewriteChunk = 4 << 20

// pacer paces a background zero-fill: a nil pacer writes at full speed.
type pacer struct {
	rate    int64 // bytes per second; <= 0: unbounded
	hurry   *atomic.Bool
	abandon *atomic.Bool
}

// writeZeros writes size zero bytes over f from offset 0 in chunks, with a
// sync after each, at most at p's rate unless hurried.
func (p *pacer) writeZeros(f File, size int64) error {
	began := time.Now()
	for off := int64(0); off < size; off += prewriteChunk {
		n := min(prewriteChunk, size-off)
		if err := writeZeros(f, off, n); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		_ = f.Evict(off, n) // synced zeros: appends never read them (see flushRun)
		if p != nil && p.abandon.Load() {
			return errAbandoned
		}
		p.wait(began, off+n)
	}
	return nil
}

// wait sleeps until written bytes are within the rate since began.
func (p *pacer) wait(began time.Time, written int64) {
	if p == nil || p.rate <= 0 {
		return
	}
	due := began.Add(time.Duration(float64(written) / float64(p.rate) * float64(time.Second)))
	for d := time.Until(due); d > 0 && !p.hurry.Load() && !p.abandon.Load(); d = time.Until(due) {
		time.Sleep(min(d, 10*time.Millisecond)) // a pace, not a wait for a condition; hurry is checked every 10 ms
	}
}

// take waits for p (which may be nil or for another start) and returns the
// prepared file for start, preparing it now if needed.
func (l *Log) take(p *pending, start uint64, ext string, size int64) (*mfile, error) {
	if p != nil {
		p.hurry.Store(true)
		<-p.done
		if p.err == nil && p.start == start {
			return p.m, nil
		}
		l.discard(p)
	}
	p = l.prepare(start, ext, size)
	p.hurry.Store(true) // needed now (at Open, or the prepared one was not for start)
	<-p.done
	return p.m, p.err
}

// discard removes a prepared file that is no longer wanted.
func (l *Log) discard(p *pending) {
	if p == nil {
		return
	}
	<-p.done
	if p.m != nil {
		_ = p.m.close()
		_ = l.fs.Remove(p.m.path)
	}
}

// populate reports whether new files with extension ext are pre-faulted
// for writing: index files are (slots are written through the mapping: one
// page per 512 entries, and a pwrite per batch for them measured no better
// in a replicated group and cost single appends a system call), data files
// are not. Entries go into data files with pwrite and are read through the
// mapping, which needs no pre-faulting; pre-faulting would only zero pages
// the writes replace (measured: a fifth of a replicated group's CPU).
func populate(ext string) bool { return ext == indexExt }
