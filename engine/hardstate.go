package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/klauspost/crc32"
	"github.com/rmqlog/rmqlog/segment"
)

// The hard state file holds the node's term and vote. It is replaced, never
// edited: write a temporary file, fsync it, rename it over the old one,
// fsync the directory. A crash leaves the old state or the new one, and a
// vote is on disk before the node answers the candidate (DLedger wrote this
// file without fsync and deleted it before the rename: a crash could allow
// a second vote in one term).
//
//	0      4   5   6        14     16        16+n        24+n          32+n
//	+------+---+---+--------+------+---------+-----------+-------------+--------+
//	| RMQS |ver|flg|  term  | vlen |  vote   | repair to | repair term | crc32c |
//	+------+---+---+--------+------+---------+-----------+-------------+--------+
//
// flg (version 3): bit 0 AsyncOpen, bit 1 TermLost. Version 1 files (no repair fields) are
// read as not repairing; versions 1 and 2 have 0 in the flags byte.
const (
	stateFile    = "raft-state"
	stateTmp     = "raft-state.tmp"
	stateMagic   = "RMQS"
	stateVersion = 3
	maxVoteLen   = 255

	stateAsyncOpen = 1 << 0
	stateTermLost  = 1 << 1
	stateFlags     = stateAsyncOpen | stateTermLost
)

// ErrState is returned for a hard state file that cannot be read.
var ErrState = errors.New("engine: bad hard state file")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeState(hs HardState) []byte {
	b := make([]byte, 0, 36+len(hs.Vote))
	b = append(b, stateMagic...)
	var flags byte
	if hs.AsyncOpen {
		flags |= stateAsyncOpen
	}
	if hs.TermLost {
		flags |= stateTermLost
	}
	b = append(b, stateVersion, flags)
	b = binary.LittleEndian.AppendUint64(b, hs.Term)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(hs.Vote)))
	b = append(b, hs.Vote...)
	b = binary.LittleEndian.AppendUint64(b, hs.RepairTo)
	b = binary.LittleEndian.AppendUint64(b, hs.RepairTerm)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeState(b []byte) (HardState, error) {
	if len(b) < 20 || string(b[:4]) != stateMagic {
		return HardState{}, fmt.Errorf("%w: %d bytes, no %q header", ErrState, len(b), stateMagic)
	}
	extra := 0 // bytes between the vote and the crc
	switch b[4] {
	case 1:
	case 2, stateVersion:
		extra = 16
	default:
		return HardState{}, fmt.Errorf("%w: version %d, this build reads 1 to %d", ErrState, b[4], stateVersion)
	}
	n := int(binary.LittleEndian.Uint16(b[14:]))
	if n > maxVoteLen || len(b) != 20+n+extra {
		return HardState{}, fmt.Errorf("%w: vote of %d bytes in a %d-byte file", ErrState, n, len(b))
	}
	end := 16 + n + extra
	if c := crc32.Checksum(b[:end], castagnoli); c != binary.LittleEndian.Uint32(b[end:]) {
		return HardState{}, fmt.Errorf("%w: crc mismatch", ErrState)
	}
	if b[5]&^stateFlags != 0 || b[4] < stateVersion && b[5] != 0 {
		return HardState{}, fmt.Errorf("%w: version %d with unknown flags %#x", ErrState, b[4], b[5])
	}
	hs := HardState{Term: binary.LittleEndian.Uint64(b[6:]), Vote: string(b[16 : 16+n]), AsyncOpen: b[5]&stateAsyncOpen != 0,
		TermLost: b[5]&stateTermLost != 0}
	if extra > 0 {
		hs.RepairTo = binary.LittleEndian.Uint64(b[16+n:])
		hs.RepairTerm = binary.LittleEndian.Uint64(b[24+n:])
	}
	return hs, nil
}

// loadState reads the hard state in dir; a missing file is the zero state
// of a new node.
func loadState(fsys segment.FS, dir string) (HardState, error) {
	path := filepath.Join(dir, stateFile)
	f, err := fsys.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return HardState{}, nil
	}
	if err != nil {
		return HardState{}, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return HardState{}, err
	}
	if size > 36+maxVoteLen {
		return HardState{}, fmt.Errorf("%w: %s is %d bytes", ErrState, path, size)
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil {
		return HardState{}, fmt.Errorf("%s: %w", path, err)
	}
	hs, err := decodeState(b)
	if err != nil {
		return HardState{}, fmt.Errorf("%s: %w", path, err)
	}
	return hs, nil
}

// stateExists reports whether dir holds a hard state file.
func stateExists(fsys segment.FS, dir string) bool {
	f, err := fsys.Open(filepath.Join(dir, stateFile))
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// setStateAside renames a hard state file that cannot be decoded to
// raft-state.damaged (or .damaged.N), for inspection, and returns the new
// path. Nothing is deleted.
func setStateAside(fsys segment.FS, dir string) (string, error) {
	for k := 0; k < 1000; k++ {
		name := stateFile + ".damaged"
		if k > 0 {
			name += fmt.Sprintf(".%d", k)
		}
		path := filepath.Join(dir, name)
		if f, err := fsys.Open(path); err == nil {
			f.Close()
			continue
		}
		if err := fsys.Rename(filepath.Join(dir, stateFile), path); err != nil {
			return "", err
		}
		return path, fsys.SyncDir(dir)
	}
	return "", fmt.Errorf("engine: %s holds 1000 set-aside hard state files; move them elsewhere", dir)
}

// saveState durably replaces the hard state in dir: temp file, fsync,
// rename, fsync of the directory.
func saveState(fsys segment.FS, dir string, hs HardState) error {
	if len(hs.Vote) > maxVoteLen {
		return fmt.Errorf("engine: vote for %q: node ids are at most %d bytes", hs.Vote, maxVoteLen)
	}
	return writeFileDurably(fsys, dir, stateTmp, stateFile, encodeState(hs))
}

// ReadHardState reads the hard state of the node whose data directory
// (storePathRootDir) is dir: its term, vote, and repair state.
func ReadHardState(dir string) (HardState, error) { return loadState(segment.OSFS{}, dir) }

// ClearRepair ends, by hand, the repair of a stopped node (see
// raft.repairing), and its census if its hard state was lost: the node
// votes and campaigns normally at its next start. It is for a group that
// cannot elect a leader because a member is gone for good while the others
// repair: entries those nodes had acknowledged may be lost, and a node that
// had lost its hard state may vote a second time in a term. It returns the
// state before the change.
func ClearRepair(dir string) (HardState, error) {
	hs, err := loadState(segment.OSFS{}, dir)
	if err != nil || hs.RepairTo == 0 && !hs.TermLost {
		return hs, err
	}
	cleared := hs
	cleared.RepairTo, cleared.RepairTerm, cleared.TermLost = 0, 0, false
	return hs, saveState(segment.OSFS{}, dir, cleared)
}
