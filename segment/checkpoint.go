package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/crc32"
)

// castagnoli is the CRC32C table of checkpoint slots and hints.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkpoint is the small record recovery starts from. It is stored twice
// in the file "checkpoint", in two slots written alternately, so a torn
// write of one slot leaves the other intact; the valid slot with the higher
// sequence number wins.
//
//	slot (128 bytes, little endian; slots at file offsets 0 and 512)
//	+-------+-------+---------+-----+----------------------+----------+
//	| crc32c| magic | version | seq | base idx, off, term  | segsize  |
//	| 4     | 4     | 4       | 8   | 8, 8, 8              | 8        |
//	+-------+-------+---------+-----+----------------------+----------+
//	| index slots | scan idx, off | durable idx, off | base crc | synced idx, off | zeros |
//	| 8           | 8, 8          | 8, 8             | 8        | 8, 8            | to 128|
//	+-------------+---------------+------------------+----------+-----------------+-------+
//
// The crc covers bytes [4, 128) of the slot. "synced" is where the last
// Sync before this slot was written ended.
//
// After every Sync the log also writes a hint, without an fsync of its own,
// into a third place that is never a slot (file offset 1024), so that a
// torn or lost hint can never cost a slot:
//
//	hint (32 bytes, little endian, at file offset 1024)
//	+--------+-------+-----+------------------+
//	| crc32c | magic | seq | synced idx, off  |
//	| 4      | 4     | 8   | 8, 8             |
//	+--------+-------+-----+------------------+
//
// The hint counts only with the slot of the same seq: a slot written after
// it (a checkpoint, a truncation, a reset) supersedes it.
type checkpoint struct {
	seq        uint64
	base       Position // the first entry of the log
	baseTerm   uint64   // term of entry base.Index-1 (0 if none)
	baseCRC    uint32   // CRC of entry base.Index-1 (0 if none), the first PrevCRC
	segSize    uint64   // data file size the log was created with
	indexSlots uint64   // entries per index file
	// scan is where recovery starts reading: every index slot below
	// scan.Index is durable.
	scan Position
	// durable bounds the entries known to be on disk: a bad entry below it
	// is corruption, at or above it a torn tail.
	durable Position
	// synced is where the last Sync ended (>= durable), from the slot or
	// from the hint of the same seq (written after each Sync without an
	// fsync: it survives a process crash, a power cut may lose it). Entries
	// below it were acknowledged as durable: recovery treats a bad entry
	// below it as damage, not a torn tail.
	synced Position
}

const (
	ckptName      = "checkpoint"
	ckptSlotSize  = 128
	ckptSlotGap   = 512        // the second slot's offset: another sector
	ckptMagic     = 0x434d5152 // "RQMC"
	ckptVersion   = 1
	ckptHintOff   = 1024 // the hint: a third sector, never a slot
	ckptHintSize  = 32
	ckptHintMagic = 0x484d5152 // "RQMH"
	ckptFileSize  = ckptHintOff + ckptHintSize
)

func encodeHint(seq uint64, p Position) []byte {
	b := make([]byte, ckptHintSize)
	le := binary.LittleEndian
	le.PutUint32(b[4:], ckptHintMagic)
	le.PutUint64(b[8:], seq)
	le.PutUint64(b[16:], p.Index)
	le.PutUint64(b[24:], p.Offset)
	le.PutUint32(b[0:], crc32.Checksum(b[4:], castagnoli))
	return b
}

func decodeHint(b []byte) (seq uint64, p Position, ok bool) {
	le := binary.LittleEndian
	if len(b) < ckptHintSize || le.Uint32(b[0:]) != crc32.Checksum(b[4:ckptHintSize], castagnoli) ||
		le.Uint32(b[4:]) != ckptHintMagic {
		return 0, Position{}, false
	}
	return le.Uint64(b[8:]), Position{Index: le.Uint64(b[16:]), Offset: le.Uint64(b[24:])}, true
}

func (c *checkpoint) encode() []byte {
	b := make([]byte, ckptSlotSize)
	le := binary.LittleEndian
	le.PutUint32(b[4:], ckptMagic)
	le.PutUint32(b[8:], ckptVersion)
	for i, v := range []uint64{c.seq, c.base.Index, c.base.Offset, c.baseTerm, c.segSize,
		c.indexSlots, c.scan.Index, c.scan.Offset, c.durable.Index, c.durable.Offset, uint64(c.baseCRC),
		c.synced.Index, c.synced.Offset} {
		le.PutUint64(b[12+8*i:], v)
	}
	le.PutUint32(b[0:], crc32.Checksum(b[4:], castagnoli))
	return b
}

func decodeCheckpoint(b []byte) (checkpoint, bool) {
	le := binary.LittleEndian
	if len(b) < ckptSlotSize || le.Uint32(b[0:]) != crc32.Checksum(b[4:ckptSlotSize], castagnoli) ||
		le.Uint32(b[4:]) != ckptMagic || le.Uint32(b[8:]) != ckptVersion {
		return checkpoint{}, false
	}
	v := make([]uint64, 13)
	for i := range v {
		v[i] = le.Uint64(b[12+8*i:])
	}
	c := checkpoint{seq: v[0], base: Position{Index: v[1], Offset: v[2]}, baseTerm: v[3],
		segSize: v[4], indexSlots: v[5], scan: Position{Index: v[6], Offset: v[7]},
		durable: Position{Index: v[8], Offset: v[9]}, baseCRC: uint32(v[10]),
		synced: Position{Index: v[11], Offset: v[12]}}
	if c.synced.Index < c.durable.Index {
		c.synced = c.durable // no hint (an older slot), or one the durable position passed
	}
	return c, true
}

// valid checks the invariants recovery relies on.
func (c *checkpoint) valid() error {
	switch {
	case c.segSize < minSegmentSize || c.segSize > maxSegmentSize || c.segSize%minSegmentSize != 0:
		return fmt.Errorf("segment size %d out of range", c.segSize)
	case c.indexSlots < 512 || c.indexSlots > maxIndexEntries || c.indexSlots%512 != 0:
		return fmt.Errorf("index slots %d out of range", c.indexSlots)
	case c.base.Index == 0:
		return errors.New("base index 0")
	case below(c.scan, c.base):
		return fmt.Errorf("scan position %+v below base %+v", c.scan, c.base)
	case below(c.durable, c.scan):
		return fmt.Errorf("durable position %+v below scan %+v", c.durable, c.scan)
	}
	return nil
}

// below reports whether a comes before b. Positions of one index may
// differ in offset (before and after a roll to the next file).
func below(a, b Position) bool {
	return a.Index < b.Index || (a.Index > b.Index && a.Offset < b.Offset)
}

// readCheckpoint loads the newest valid slot. ok is false if the file does
// not exist; an existing file with no valid slot is an error.
func readCheckpoint(fs FS, dir string) (c checkpoint, ok bool, err error) {
	path := filepath.Join(dir, ckptName)
	f, err := fs.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return checkpoint{}, false, nil
	}
	if err != nil {
		return checkpoint{}, false, fmt.Errorf("segment: open %s: %w", path, err)
	}
	defer f.Close()
	buf := make([]byte, ckptFileSize)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return checkpoint{}, false, fmt.Errorf("segment: read %s: %w", path, err)
	}
	a, aok := decodeCheckpoint(buf[:n])
	b, bok := decodeCheckpoint(buf[min(n, ckptSlotGap):min(n, ckptSlotGap+ckptSlotSize)])
	if bok && (!aok || b.seq > a.seq) {
		a, aok = b, true
	}
	if seq, p, ok := decodeHint(buf[min(n, ckptHintOff):n]); ok && aok && seq == a.seq && p.Index > a.synced.Index {
		a.synced = p
	}
	if !aok {
		return checkpoint{}, false, fmt.Errorf("%w: %s has no valid slot; "+
			"restore it from a backup of this directory", ErrCorrupt, path)
	}
	if err := a.valid(); err != nil {
		return checkpoint{}, false, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	return a, true, nil
}

// ckptFile is the open checkpoint file; writes alternate between slots.
type ckptFile struct {
	f    File
	path string
}

// createCheckpoint writes the first checkpoint durably: both slots into a
// temporary file, fdatasync, rename into place, sync the directory.
func createCheckpoint(fs FS, dir string, c checkpoint) (*ckptFile, error) {
	path := filepath.Join(dir, ckptName)
	tmp := path + tmpExt
	f, err := fs.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("segment: create %s: %w", tmp, noSpace(err))
	}
	buf := make([]byte, ckptFileSize) // the hint's place written too: hints never grow the file
	copy(buf, c.encode())
	copy(buf[ckptSlotGap:], c.encode())
	if _, err = f.WriteAt(buf, 0); err == nil {
		if err = f.Sync(); err == nil {
			if err = fs.Rename(tmp, path); err == nil {
				err = fs.SyncDir(dir)
			}
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("segment: write %s: %w", path, noSpace(err))
	}
	return &ckptFile{f: f, path: path}, nil
}

func openCheckpoint(fs FS, dir string) (*ckptFile, error) {
	path := filepath.Join(dir, ckptName)
	f, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("segment: open %s: %w", path, err)
	}
	// A file written before the hint existed is 640 bytes: give the hint its
	// place now, so that a hint never grows the file (and never meets a full
	// disk later).
	if size, err := f.Size(); err == nil && size < ckptFileSize {
		if _, err := f.WriteAt(make([]byte, ckptFileSize-size), size); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("segment: extend %s for the sync hint: %w", path, noSpace(err))
		}
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("segment: sync %s: %w", path, err)
		}
	}
	return &ckptFile{f: f, path: path}, nil
}

// hint writes the synced position for the slot of seq into the hint's
// place, without an fsync: see checkpoint.synced.
func (k *ckptFile) hint(seq uint64, p Position) error {
	if _, err := k.f.WriteAt(encodeHint(seq, p), ckptHintOff); err != nil {
		return fmt.Errorf("segment: write %s: %w", k.path, err)
	}
	return nil
}

// writeBoth stores c in both slots, one after the other, each durably, and
// advances c.seq by one for the second. A change that removes files (a new
// base) is written so: otherwise a bit flipped in the newest slot would make
// recovery fall back to the older one, which names files already removed.
func (k *ckptFile) writeBoth(c *checkpoint) error {
	if err := k.write(*c); err != nil {
		return err
	}
	c.seq++
	return k.write(*c)
}

// write stores c (whose seq the caller has advanced) in slot seq%2 and
// makes it durable.
func (k *ckptFile) write(c checkpoint) error {
	off := int64(c.seq%2) * ckptSlotGap
	if _, err := k.f.WriteAt(c.encode(), off); err != nil {
		return fmt.Errorf("segment: write %s: %w", k.path, err)
	}
	if err := k.f.Sync(); err != nil {
		return fmt.Errorf("segment: sync %s: %w", k.path, err)
	}
	return nil
}
