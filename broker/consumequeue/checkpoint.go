package consumequeue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/rmqlog/rmqlog/segment"
)

// The checkpoint file holds two slots, written alternately in place, so a
// torn write of one leaves the other; the valid slot with the higher seq
// wins (doc.go says why slots and not a rename).
//
//	slot (32 bytes, big endian; at file offsets 0 and 512, two sectors)
//	+--------+-------+---------+----------+-----+-------+
//	| crc32c | magic | version | reserved | seq | index |
//	| 4      | 4     | 4       | 4        | 8   | 8     |
//	+--------+-------+---------+----------+-----+-------+
//
// The crc covers bytes [4, 32) of the slot.
const (
	ckptName     = "consumequeue.checkpoint"
	ckptSlotSize = 32
	ckptSlotGap  = 512
	ckptMagic    = 0x43514350 // "CQCP"
	ckptVersion  = 1
	ckptFileSize = ckptSlotGap + ckptSlotSize
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkpoint is one slot's contents.
type checkpoint struct {
	seq   uint64
	index uint64 // every unit of the entries up to it is written and synced
}

func (c checkpoint) encode(b []byte) {
	be := binary.BigEndian
	be.PutUint32(b[4:], ckptMagic)
	be.PutUint32(b[8:], ckptVersion)
	be.PutUint32(b[12:], 0)
	be.PutUint64(b[16:], c.seq)
	be.PutUint64(b[24:], c.index)
	be.PutUint32(b[0:], crc32.Checksum(b[4:ckptSlotSize], castagnoli))
}

// decodeCheckpoint reads one slot; ok is false for a torn, zero or foreign
// slot.
func decodeCheckpoint(b []byte) (c checkpoint, ok bool) {
	be := binary.BigEndian
	if len(b) < ckptSlotSize || be.Uint32(b[0:]) != crc32.Checksum(b[4:ckptSlotSize], castagnoli) ||
		be.Uint32(b[4:]) != ckptMagic || be.Uint32(b[8:]) != ckptVersion {
		return checkpoint{}, false
	}
	return checkpoint{seq: be.Uint64(b[16:]), index: be.Uint64(b[24:])}, true
}

// pickCheckpoint chooses between the file's two slots.
func pickCheckpoint(file []byte) (c checkpoint, ok bool) {
	a, aok := decodeCheckpoint(file[:min(len(file), ckptSlotSize)])
	b, bok := decodeCheckpoint(file[min(len(file), ckptSlotGap):])
	if bok && (!aok || b.seq > a.seq) {
		return b, true
	}
	return a, aok
}

// ckptFile is the open checkpoint file.
type ckptFile struct {
	f    segment.File
	path string
	last checkpoint // the slot written last
	buf  [ckptSlotSize]byte
}

// readCheckpoint opens dir's checkpoint. exists is false if there is no
// file; ok is false if it has no valid slot.
func readCheckpoint(fs segment.FS, dir string) (cf *ckptFile, exists, ok bool, err error) {
	path := filepath.Join(dir, ckptName)
	f, err := fs.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, false, nil
	}
	if err != nil {
		return nil, false, false, fmt.Errorf("consumequeue: open %s: %w", path, err)
	}
	buf := make([]byte, ckptFileSize)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, true, false, fmt.Errorf("consumequeue: read %s: %w", path, err)
	}
	c, ok := pickCheckpoint(buf[:n])
	if n < ckptFileSize {
		if err := f.Allocate(ckptFileSize); err != nil {
			f.Close()
			return nil, true, false, fmt.Errorf("consumequeue: extend %s: %w", path, err)
		}
	}
	return &ckptFile{f: f, path: path, last: c}, true, ok, nil
}

// createCheckpoint writes a checkpoint file holding index in both slots:
// a temporary file, fsync, rename, fsync of the directory. Used when there
// is no file and when both slots are bad (the file is replaced whole).
func createCheckpoint(fs segment.FS, dir string, index uint64) (*ckptFile, error) {
	path := filepath.Join(dir, ckptName)
	tmp := path + ".tmp"
	_ = fs.Remove(tmp) // a leftover of a crash during this very step
	f, err := fs.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("consumequeue: create %s: %w", tmp, err)
	}
	c := checkpoint{seq: 1, index: index}
	buf := make([]byte, ckptFileSize)
	c.encode(buf[0:])
	c.encode(buf[ckptSlotGap:])
	if _, err = f.WriteAt(buf, 0); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = fs.Rename(tmp, path)
	}
	if err == nil {
		err = fs.SyncDir(dir)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("consumequeue: write %s: %w", path, err)
	}
	return &ckptFile{f: f, path: path, last: c}, nil
}

// write records index in the slot not written last, and fsyncs it.
func (cf *ckptFile) write(index uint64) error {
	c := checkpoint{seq: cf.last.seq + 1, index: index}
	c.encode(cf.buf[:])
	off := int64(0)
	if c.seq%2 == 0 {
		off = ckptSlotGap
	}
	if _, err := cf.f.WriteAt(cf.buf[:], off); err != nil {
		return fmt.Errorf("consumequeue: write %s: %w", cf.path, err)
	}
	if err := cf.f.Sync(); err != nil {
		return fmt.Errorf("consumequeue: sync %s: %w", cf.path, err)
	}
	cf.last = c
	return nil
}
