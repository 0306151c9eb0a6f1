package segment

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Open opens the log in dir, creating it if it does not exist, and
// recovers it:
//  1. remove leftovers: temporary files, files wholly below the checkpoint's
//     base (an interrupted DeletePrefix);
//  2. map the data and index files, checking sizes and contiguity;
//  3. scan forward from the checkpoint's scan position, verifying every
//     entry's CRC, index, term and CRC chain, rebuilding the index;
//  4. where the scan stops: below the checkpoint's synced position, or
//     where a valid entry follows the bad one, the log is damaged: Open
//     fails naming the file and offset, or, if Options.OnDamage accepts
//     it, cuts the log there durably; otherwise the rest is a torn tail and
//     is dropped, with the files after it;
//  5. rebuild the term runs by bisection over the index.
//
// Recovery reads only what was written since the last two checkpoints,
// or the whole log with Options.VerifyAll.
//
// A log that cannot be recovered at all (ErrCorrupt: no valid checkpoint,
// segment files without a checkpoint, a missing file the checkpoint names)
// fails Open, unless Options.OnDamage accepts a Damage with Had =
// HadUnknown: then every file of the log is moved, not deleted, into a
// subdirectory damaged-N of dir, and the log starts empty (a replicated
// node gets its entries back from its leader).
func Open(dir string, opts Options) (*Log, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := opts.FS.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("segment: create %s: %w", dir, err)
	}
	lk, err := opts.FS.Lock(dir)
	if err != nil {
		return nil, err
	}
	l, err := openLog(dir, opts)
	if err != nil && errors.Is(err, ErrCorrupt) && opts.OnDamage != nil {
		var aside string
		if aside, err = setAside(dir, opts, err); err == nil {
			opts.Logger.Error("segment: the log could not be recovered; its files were moved aside and it starts empty",
				"dir", dir, "movedTo", aside)
			l, err = openLog(dir, opts)
		}
	}
	if err != nil {
		lk.Close()
		return nil, err
	}
	l.dirLock = lk
	return l, nil
}

func openLog(dir string, opts Options) (*Log, error) {
	l := &Log{dir: dir, fs: opts.FS, opts: opts, seg: uint64(opts.SegmentSize), slots: uint64(opts.IndexEntries)}
	if err := l.open(); err != nil {
		_ = l.Close()
		return nil, err
	}
	l.startEvictor()
	return l, nil
}

// HadUnknown is Damage.Had when recovery cannot tell which entries the log
// held (see Open).
const HadUnknown = ^uint64(0)

// setAside reports the unrecoverable log to OnDamage, then moves its files
// into a new subdirectory damaged-N and returns its path.
func setAside(dir string, opts Options, why error) (string, error) {
	d := Damage{Index: opts.FirstIndex, Had: HadUnknown, Dir: dir, Where: dir, Reason: why.Error()}
	if err := opts.OnDamage(d); err != nil {
		return "", err
	}
	fs := opts.FS
	var sub string
	for k := 1; ; k++ {
		sub = filepath.Join(dir, fmt.Sprintf("damaged-%d", k))
		if _, err := fs.List(sub); err != nil {
			break // no such directory (or unreadable: MkdirAll says which)
		}
	}
	if err := fs.MkdirAll(sub); err != nil {
		return "", fmt.Errorf("segment: create %s to move the unrecoverable log aside: %w", sub, err)
	}
	names, err := fs.List(dir)
	if err != nil {
		return "", fmt.Errorf("segment: list %s: %w", dir, err)
	}
	for _, n := range names {
		_, data := parseName(n, dataExt)
		_, index := parseName(n, indexExt)
		if !data && !index && n != ckptName && !strings.HasSuffix(n, tmpExt) {
			continue
		}
		if err := fs.Rename(filepath.Join(dir, n), filepath.Join(sub, n)); err != nil {
			return "", fmt.Errorf("segment: move %s aside into %s: %w", n, sub, err)
		}
	}
	if err := fs.SyncDir(sub); err != nil {
		return "", err
	}
	return sub, fs.SyncDir(dir)
}

// dirFiles are the log files found in a directory, by start number.
type dirFiles struct {
	data, index []uint64
}

func (l *Log) open() error {
	found, err := l.list()
	if err != nil {
		return err
	}
	c, ok, err := readCheckpoint(l.fs, l.dir)
	if err != nil {
		return err
	}
	if !ok {
		if len(found.data)+len(found.index) > 0 {
			return fmt.Errorf("%w: %s holds segment files but no checkpoint file, so where the log starts is unknown; "+
				"restore the checkpoint file from a backup of this directory", ErrCorrupt, l.dir)
		}
		base := Position{Index: l.opts.FirstIndex}
		c = checkpoint{base: base, segSize: l.seg, indexSlots: l.slots, scan: base, durable: base}
		if l.ckf, err = createCheckpoint(l.fs, l.dir, c); err != nil {
			return err
		}
	} else {
		if c.segSize != l.seg {
			return fmt.Errorf("segment: %s was created with segment size %d, configured %d: "+
				"set the segment size (mappedFileSizeCommitLog) back to %d", l.dir, c.segSize, l.seg, c.segSize)
		}
		l.slots = c.indexSlots
		if l.ckf, err = openCheckpoint(l.fs, l.dir); err != nil {
			return err
		}
	}
	if c.synced.Index < c.durable.Index {
		c.synced = c.durable
	}
	l.ckpt, l.synced = c, c.durable
	if l.opts.VerifyAll {
		c.scan = c.base // scan (and re-index) everything
	}
	return l.recover(c, found)
}

// list finds the log's files, creating dir and removing temporary files.
func (l *Log) list() (dirFiles, error) {
	var found dirFiles
	if err := l.fs.MkdirAll(l.dir); err != nil {
		return found, fmt.Errorf("segment: create %s: %w", l.dir, err)
	}
	names, err := l.fs.List(l.dir)
	if err != nil {
		return found, fmt.Errorf("segment: list %s: %w", l.dir, err)
	}
	for _, n := range names {
		if strings.HasSuffix(n, tmpExt) {
			if err := l.fs.Remove(filepath.Join(l.dir, n)); err != nil {
				return found, fmt.Errorf("segment: remove leftover %s: %w", n, err)
			}
		} else if s, ok := parseName(n, dataExt); ok {
			found.data = append(found.data, s)
		} else if s, ok := parseName(n, indexExt); ok {
			found.index = append(found.index, s)
		}
	}
	return found, nil
}

func (l *Log) recover(c checkpoint, found dirFiles) error {
	var extra []string
	var err error
	l.data, extra, err = l.openRun(found.data, c.base.Offset/l.seg*l.seg, l.seg, dataExt, c.durable.Offset > c.base.Offset)
	if err != nil {
		return err
	}
	var more []string
	l.index, more, err = l.openRun(found.index, c.base.Index/l.slots*l.slots, l.slots, indexExt, c.scan.Index > c.base.Index)
	if err != nil {
		return err
	}
	extra = append(extra, more...)
	l.next, l.lastTerm, l.lastCRC = c.base, c.baseTerm, c.baseCRC
	l.terms.Store(&[]termRun{{first: c.base.Index - 1, term: c.baseTerm}})
	l.first.Store(c.base.Index)
	l.last.Store(c.scan.Index - 1)
	l.setView()
	if err := l.scan(c); err != nil {
		return err
	}
	if err := l.dropBeyond(extra); err != nil {
		return err
	}
	if err := l.rebuildTerms(c); err != nil {
		return err
	}
	l.publish()
	if l.damaged {
		if err := l.cutDamage(); err != nil {
			return err
		}
	}
	l.durable.Store(l.synced.Index - 1)
	if l.nextData == nil {
		l.nextData = l.prepare(l.data[len(l.data)-1].start+l.seg, dataExt, int64(l.seg))
	}
	if l.nextIdx == nil {
		l.nextIdx = l.prepare(l.index[len(l.index)-1].start+l.slots, indexExt, int64(l.slots*8))
	}
	return nil
}

// openRun maps the contiguous files starting at first (each step files
// apart). Files below first are removed: they are what an interrupted
// DeletePrefix left. Files after a gap are returned by name, to be removed
// once the scan has shown they hold nothing. If no file starts at first,
// one is created, unless needed says data must be there.
func (l *Log) openRun(starts []uint64, first, step uint64, ext string, needed bool) ([]*mfile, []string, error) {
	size := int64(step)
	if ext == indexExt {
		size *= 8
	}
	var run []*mfile
	var extra []string
	for _, s := range starts {
		path := filepath.Join(l.dir, fileName(s, ext))
		switch {
		case s < first:
			if err := l.fs.Remove(path); err != nil {
				return run, nil, fmt.Errorf("segment: remove %s below the log's start: %w", path, err)
			}
		case s == first+uint64(len(run))*step && len(extra) == 0:
			m, err := open(l.fs, path, s, size, l.opts.OnDamage != nil && ext == dataExt)
			if err != nil {
				return run, nil, err
			}
			run = append(run, m)
		default:
			extra = append(extra, path)
		}
	}
	if len(run) > 0 {
		return run, extra, nil
	}
	if needed {
		return nil, nil, fmt.Errorf("%w: %s: file %s is missing; restore it from a backup of this directory",
			ErrCorrupt, l.dir, fileName(first, ext))
	}
	m, err := l.take(nil, first, ext, size)
	if err != nil {
		return nil, nil, err
	}
	return []*mfile{m}, extra, nil
}

// scan reads forward from c.scan, indexing every valid entry; see Open.
func (l *Log) scan(c checkpoint) error {
	pos, term, crc := c.scan, c.baseTerm, c.baseCRC
	if pos.Index > c.base.Index {
		prev, err := l.Read(pos.Index - 1)
		if err != nil {
			return fmt.Errorf("segment: recovery of %s: %w; restore the directory from a backup", l.dir, err)
		}
		term, crc = prev.Term, prev.CRC
	}
	l.next, l.lastTerm, l.lastCRC = pos, term, crc
	for {
		e, off, err := l.validAt(pos, term, crc)
		if err != nil {
			return l.stop(c, pos, err)
		}
		if err := l.ensureIndex(e.Index); err != nil {
			return err
		}
		l.setSlot(e.Index, off)
		pos = Position{Index: e.Index + 1, Offset: off + uint64(e.Size())}
		term, crc = e.Term, e.CRC
		l.next, l.lastTerm, l.lastCRC = pos, term, crc
	}
}

// validAt decodes the entry that must follow (pos, term, crc): at
// pos.Offset or, if it did not fit there, at the start of the next file.
func (l *Log) validAt(pos Position, term uint64, crc uint32) (Entry, uint64, error) {
	e, err := l.entryAt(pos.Offset, pos.Index, term, crc)
	if err == nil || pos.Offset%l.seg == 0 {
		return e, pos.Offset, err
	}
	next := (pos.Offset/l.seg + 1) * l.seg
	e2, err2 := l.entryAt(next, pos.Index, term, crc)
	if err2 == nil && uint64(e2.Size()) > next-pos.Offset {
		return e2, next, nil
	}
	return e, pos.Offset, err
}

// errEnd marks the end of the data files: nothing more to read.
var errEnd = errors.New("end of files")

// entryAt decodes the entry at global offset off and checks that it is
// entry index, continuing an entry of the given term and crc.
func (l *Log) entryAt(off, index, term uint64, crc uint32) (Entry, error) {
	f, ok := l.dataIn(l.view.Load(), off)
	if !ok {
		return Entry{}, errEnd
	}
	if off+HeaderSize > f.start+l.seg {
		return Entry{}, fmt.Errorf("%w: no room for a header", ErrShortEntry)
	}
	e, _, err := Decode(f.b[off-f.start:])
	switch {
	case err != nil:
		return e, err
	case e.Index != index:
		return e, fmt.Errorf("%w: index %d, expected %d", ErrNotContiguous, e.Index, index)
	case e.Term < term:
		return e, fmt.Errorf("%w: term %d after %d", ErrNotContiguous, e.Term, term)
	case e.PrevCRC != crc:
		return e, fmt.Errorf("%w: previous crc %08x, expected %08x", ErrNotContiguous, e.PrevCRC, crc)
	}
	return e, nil
}

// stop handles the end of the scan at pos: corruption below the durable
// checkpoint, else a (possibly torn) tail that is dropped.
func (l *Log) stop(c checkpoint, pos Position, why error) error {
	f, _ := l.dataIn(l.view.Load(), pos.Offset)
	where := l.dir
	if f != nil {
		where = fmt.Sprintf("%s at file offset %d", f.path, pos.Offset-f.start)
	}
	had := max(c.synced.Index-1, l.validAfter(pos, why))
	if pos.Index <= had {
		d := Damage{Index: pos.Index, Had: had, Dir: l.dir, Where: where, Reason: why.Error()}
		if l.opts.OnDamage == nil {
			return fmt.Errorf("%w: %s", ErrCorrupt, d)
		}
		if err := l.opts.OnDamage(d); err != nil {
			return err
		}
		l.damaged = true
		l.opts.Logger.Error("segment: damaged log cut before the bad entry; the node must get the entries after it from a replica",
			"dir", l.dir, "at", where, "entry", pos.Index, "had", had, "reason", why.Error())
		return nil
	}
	if f != nil && !errors.Is(why, errEnd) && pos.Offset+HeaderSize <= f.start+l.seg &&
		!allZero(f.b[pos.Offset-f.start:][:HeaderSize]) {
		l.opts.Logger.Warn("segment: dropped a torn tail", "dir", l.dir, "at", where,
			"lastIndex", pos.Index-1, "reason", why.Error())
	}
	return nil
}

// Damage is what recovery reports about a damaged log: entries the log is
// known to have held fail their checks (a flipped bit, a file truncated or
// rolled back, a lost write).
type Damage struct {
	Index  uint64 // the first entry that fails its checks: the log is cut before it
	Had    uint64 // the highest index the log is known to have held; HadUnknown if unknown
	Dir    string // the log directory
	Where  string // file and offset of the bad entry
	Reason string // what is wrong with it
}

func (d Damage) String() string {
	if d.Had == HadUnknown {
		return fmt.Sprintf("%s: the log cannot be recovered (%s); its files are moved aside into a damaged-N "+
			"subdirectory and it restarts empty; rmqlog serve gets the entries back from the leader (docs/durability.md)",
			d.Where, d.Reason)
	}
	return fmt.Sprintf("%s: entry %d: %s, but the log held entries up to %d; "+
		"the log is damaged: inspect it with `rmqlog dump %s`; rmqlog serve repairs it from the leader "+
		"by itself (docs/durability.md)", d.Where, d.Index, d.Reason, d.Had, d.Dir)
}

// validAfter looks, with CheckUnsynced, for valid entries after the bad
// entry at pos (a damaged entry inside the log rather than the torn end of
// a write) and returns the last index of the valid chain it finds there,
// or 0. The next entry is looked for where the bad entry's header says it
// ends and where the index slot of pos.Index+1 points (a flipped length or
// type byte defeats the first). A chain that ends at another bad entry
// with valid entries after it is followed past it too, so any number of
// damaged entries gives the highest index the log held.
func (l *Log) validAfter(pos Position, why error) uint64 {
	had := uint64(0)
	for l.opts.CheckUnsynced && !errors.Is(why, errEnd) && !errors.Is(why, ErrNotContiguous) {
		last, stop, err := l.chainAfter(pos)
		if last == 0 {
			break
		}
		had, pos, why = last, stop, err
	}
	return had
}

// chainAfter finds the valid chain that follows the bad entry at pos: its
// last index (0 if none follows), where and why it stops.
func (l *Log) chainAfter(pos Position) (last uint64, stop Position, why error) {
	v := l.view.Load()
	var cands []uint64
	if f, ok := l.dataIn(v, pos.Offset); ok && pos.Offset+HeaderSize <= f.start+l.seg {
		if _, _, n, err := Peek(f.b[pos.Offset-f.start:]); err == nil {
			cands = append(cands, pos.Offset+uint64(n))
		}
	}
	if off, ok := l.offsetIn(v, pos.Index+1); ok && off > pos.Offset {
		cands = append(cands, off)
	}
	for _, off := range cands {
		if last, stop, why := l.chainFrom(off, pos.Index+1); last > 0 {
			return last, stop, why
		}
	}
	return 0, Position{}, nil
}

// chainFrom follows valid entries from entry index at global offset off
// and returns the last index of the chain (0 if no valid entry index
// starts there) and where and why it stops.
func (l *Log) chainFrom(off, index uint64) (last uint64, stop Position, why error) {
	f, ok := l.dataIn(l.view.Load(), off)
	if !ok || off+HeaderSize > f.start+l.seg {
		return 0, Position{}, nil
	}
	e, n, err := Decode(f.b[off-f.start:])
	if err != nil || e.Index != index {
		return 0, Position{}, nil
	}
	pos, term, crc := Position{Index: index + 1, Offset: off + uint64(n)}, e.Term, e.CRC
	for {
		e, at, err := l.validAt(pos, term, crc)
		if err != nil {
			return pos.Index - 1, pos, err
		}
		pos, term, crc = Position{Index: e.Index + 1, Offset: at + uint64(e.Size())}, e.Term, e.CRC
	}
}

// cutDamage makes the end recovery found on a damaged log durable:
//  1. lower the checkpoint to the new end (it claimed more);
//  2. zero the rest of the file the log ends in, fdatasync, so nothing of
//     the damaged region can be read as entries again.
//
// The files after it were removed by dropBeyond.
func (l *Log) cutDamage() error {
	pos := l.next
	if err := l.lowerCheckpoint(pos); err != nil {
		return err
	}
	if l.synced.Index > pos.Index {
		l.synced = pos
	}
	f, ok := l.dataIn(l.view.Load(), pos.Offset)
	if !ok {
		return nil
	}
	p := pos.Offset - f.start
	if err := writeZeros(f.f, int64(p), int64(l.seg-p)); err != nil {
		return fmt.Errorf("segment: zero the damaged tail of %s: %w", f.path, err)
	}
	if err := f.f.Sync(); err != nil {
		return fmt.Errorf("segment: fdatasync %s: %w", f.path, err)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// dropBeyond removes the files after the log's last one and the extra
// files found after gaps. The file right after the last one (data and
// index) is kept as the prepared next file: every file was zero-filled when
// created, and whatever a previous run wrote into it cannot continue the
// log (the CRC chain), so it need not be deleted and prepared again.
func (l *Log) dropBeyond(extra []string) error {
	keepData := l.activeStart(l.next)
	keepIdx := max((l.next.Index-1)/l.slots*l.slots, l.index[0].start)
	var drop, more []*mfile
	l.data, drop = splitAfter(l.data, keepData)
	l.index, more = splitAfter(l.index, keepIdx)
	if len(drop) > 0 && drop[0].start == keepData+l.seg {
		l.nextData, drop = l.reuse(drop[0], dataExt), drop[1:]
	}
	if len(more) > 0 && more[0].start == keepIdx+l.slots {
		l.nextIdx, more = l.reuse(more[0], indexExt), more[1:]
	}
	for _, m := range append(drop, more...) {
		extra = append(extra, m.path)
		_ = m.close()
	}
	for _, path := range extra {
		if err := l.fs.Remove(path); err != nil {
			return fmt.Errorf("segment: remove %s after the log's end: %w", path, err)
		}
	}
	l.setView()
	if len(extra) == 0 {
		return nil
	}
	return l.fs.SyncDir(l.dir)
}

// reuse makes m, a file with extension ext, the prepared next file,
// pre-faulting its pages in the background if files of its kind are
// pre-faulted when created (populate: index files, not data files).
func (l *Log) reuse(m *mfile, ext string) *pending {
	p := &pending{start: m.start, done: make(chan struct{}), m: m}
	close(p.done)
	if !populate(ext) {
		return p
	}
	m.warm = make(chan struct{})
	l.prep.Add(1)
	go func() {
		defer l.prep.Done()
		defer close(m.warm)
		_ = m.f.Populate()
	}()
	return p
}

// splitAfter splits files into those starting at or before keep and the rest.
func splitAfter(files []*mfile, keep uint64) (kept, rest []*mfile) {
	for i, f := range files {
		if f.start > keep {
			return files[:i:i], files[i:]
		}
	}
	return files, nil
}

// rebuildTerms finds where each term starts by bisection: terms never
// decrease along the log, so a range whose ends have one term has no
// boundary inside. It reads O(runs × log n) headers, not the whole log.
func (l *Log) rebuildTerms(c checkpoint) error {
	first, last := c.base.Index, l.next.Index-1
	runs := []termRun{{first: first - 1, term: c.baseTerm}}
	if last < first {
		l.terms.Store(&runs)
		return nil
	}
	l.last.Store(last)
	termOf := func(i uint64) (uint64, error) {
		e, err := l.Read(i) // verified: a damaged term must not spread to its neighbours
		if err != nil {
			return 0, fmt.Errorf("segment: rebuilding terms of %s: %w; restore the directory from a backup", l.dir, err)
		}
		return e.Term, nil
	}
	var walk func(lo, hi, tlo, thi uint64) error
	walk = func(lo, hi, tlo, thi uint64) error {
		if tlo == thi {
			return nil
		}
		if hi == lo+1 {
			runs = append(runs, termRun{first: hi, term: thi})
			return nil
		}
		mid := lo + (hi-lo)/2
		tm, err := termOf(mid)
		if err != nil {
			return err
		}
		if err := walk(lo, mid, tlo, tm); err != nil {
			return err
		}
		return walk(mid, hi, tm, thi)
	}
	tf, err := termOf(first)
	if err != nil {
		return err
	}
	tl, err := termOf(last)
	if err != nil {
		return err
	}
	if err := walk(first-1, first, c.baseTerm, tf); err != nil {
		return err
	}
	if err := walk(first, last, tf, tl); err != nil {
		return err
	}
	l.terms.Store(&runs)
	return nil
}
