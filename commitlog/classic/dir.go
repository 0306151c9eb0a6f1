package classic

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rmqlog/rmqlog/commitlog"
)

// NameLen is the length of a CommitLog file name: its start offset in
// decimal, zero-padded (RocketMQ's UtilAll.offset2FileName).
const NameLen = 20

// MinFileSize is the smallest file size Open and NewWriter accept: room
// for the smallest message and the end-of-file blank. The largest is
// math.MaxInt32 (a blank's size field is an int32; RocketMQ's
// mappedFileSizeCommitLog is an int). RocketMQ's default is 1 GiB.
const MinFileSize = commitlog.MinSize + commitlog.BlankSize

// FileName returns the name of the CommitLog file that starts at start.
func FileName(start int64) string { return fmt.Sprintf("%0*d", NameLen, start) }

// File is one file of a classic CommitLog directory.
type File struct {
	// Name is the file's name: Start in 20 digits.
	Name string `json:"name"`
	// Start is the physical offset of the file's first byte.
	Start int64 `json:"start"`
}

// Dir is a classic CommitLog directory as Open listed it: files of
// FileSize bytes each, sorted, contiguous, the first starting at a
// multiple of FileSize. Open reads no file's contents; Scan and Compare
// do, opening the files one at a time. A Dir holds no open file and is not
// modified by Scan, so several Scans may run at once.
type Dir struct {
	Path     string `json:"path"`
	FileSize int64  `json:"file_size"`
	Files    []File `json:"files"`
	// Ignored names what Open skipped, each with the reason: a
	// subdirectory and an empty last file (RocketMQ's MappedFileQueue
	// skips both), a hidden file (a name starting with ".": editors',
	// file managers' and rsync's litter, never a CommitLog file).
	Ignored []string `json:"ignored,omitempty"`

	// bufSize is the read buffer's size (0: defaultBufSize); tests set
	// it small to exercise the buffer's growth.
	bufSize int
}

// Open lists the classic CommitLog directory path and checks its shape:
// every file (but those Dir.Ignored lists) is named by its start offset in
// 20 digits and has fileSize bytes, the first start is a multiple of
// fileSize and every next file starts where the one before ends. fileSize
// 0 means the size of the first file. Open reports every problem it finds,
// each naming its file (ErrName, ErrFileSize, ErrMissingFile, ErrEmpty,
// joined with errors.Join).
func Open(path string, fileSize int64) (*Dir, error) {
	d, sizes, errs, err := list(path)
	if err != nil {
		return nil, err
	}
	if n := len(d.Files); n > 0 && sizes[n-1] == 0 {
		d.Ignored = append(d.Ignored, d.Files[n-1].Name+" (an empty last file: the broker had only begun to create it)")
		d.Files, sizes = d.Files[:n-1], sizes[:n-1]
	}
	if len(d.Files) == 0 {
		errs = append(errs, fmt.Errorf("%w in %s (files named by their start offset in 20 digits, e.g. %s): "+
			"is it the broker's store/commitlog directory?", ErrEmpty, path, FileName(1<<30)))
		return nil, errors.Join(errs...)
	}
	d.FileSize = fileSize
	if fileSize == 0 {
		d.FileSize = sizes[0]
	}
	errs = append(errs, d.checkShape(sizes, fileSize == 0)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// list reads the directory path: its CommitLog files in name order and
// their sizes, what it ignores, and the names that are wrong (errs); err
// is an I/O error.
func list(path string) (d *Dir, sizes []int64, errs []error, err error) {
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("classic: open CommitLog directory: %w", err)
	}
	d = &Dir{Path: path}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
			d.Ignored = append(d.Ignored, name+" (a directory)")
			continue
		case strings.HasPrefix(name, "."):
			d.Ignored = append(d.Ignored, name+" (a hidden file)")
			continue
		}
		start, err := parseName(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(path, name), err))
			continue
		}
		fi, err := os.Stat(filepath.Join(path, name))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("classic: %w", err)
		}
		d.Files = append(d.Files, File{Name: name, Start: start})
		sizes = append(sizes, fi.Size())
	}
	return d, sizes, errs, nil
}

// parseName returns the start offset a CommitLog file name says.
func parseName(name string) (int64, error) {
	bad := len(name) != NameLen
	for i := 0; i < len(name) && !bad; i++ {
		bad = name[i] < '0' || name[i] > '9'
	}
	if bad {
		return 0, fmt.Errorf("%w (a CommitLog file is named by its start offset in %d digits, e.g. %s): "+
			"move it out of the directory", ErrName, NameLen, FileName(1<<30))
	}
	start, err := strconv.ParseInt(name, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: the offset is beyond 2^63: move it out of the directory", ErrName)
	}
	return start, nil
}

// checkShape checks the sizes (sizes[i] of Files[i]) and the starts of
// d's files against d.FileSize, which was inferred from the first file's
// size or given.
func (d *Dir) checkShape(sizes []int64, inferred bool) []error {
	if d.FileSize < MinFileSize || d.FileSize > math.MaxInt32 {
		what := fmt.Sprintf("file size %d", d.FileSize)
		if inferred {
			what = fmt.Sprintf("%s has %d bytes, the file size of this directory, which", filepath.Join(d.Path, d.Files[0].Name), d.FileSize)
		}
		return []error{fmt.Errorf("%w: %s is no CommitLog file size (%d to %d bytes; RocketMQ's mappedFileSizeCommitLog, 1 GiB by default)",
			ErrFileSize, what, MinFileSize, math.MaxInt32)}
	}
	if !inferred && sizes[0] != d.FileSize && !slices.ContainsFunc(sizes, func(n int64) bool { return n != sizes[0] }) {
		return []error{fmt.Errorf("%w: every file in %s has %d bytes, not %d as asked: pass the broker's mappedFileSizeCommitLog, "+
			"or 0 to take the files' size", ErrFileSize, d.Path, sizes[0], d.FileSize)}
	}
	var errs []error
	for i, f := range d.Files {
		if sizes[i] != d.FileSize {
			errs = append(errs, fmt.Errorf("%w: %s has %d bytes, want %d (%s): cut short by an interrupted copy, "+
				"or from a broker with another mappedFileSizeCommitLog; copy it again from its source",
				ErrFileSize, filepath.Join(d.Path, f.Name), sizes[i], d.FileSize, d.sizeSource(inferred)))
		}
	}
	if first := d.Files[0]; first.Start%d.FileSize != 0 {
		errs = append(errs, fmt.Errorf("%w: the first file %s starts at %d, not a multiple of the file size %d: "+
			"wrong file size, or the file was renamed", ErrMissingFile, filepath.Join(d.Path, first.Name), first.Start, d.FileSize))
	}
	for i := 1; i < len(d.Files); i++ {
		prev, f := d.Files[i-1], d.Files[i]
		switch want := prev.Start + d.FileSize; {
		case f.Start > want:
			more := ""
			if n := (f.Start-want)/d.FileSize - 1; n > 0 {
				more = fmt.Sprintf(" (and %d more)", n)
			}
			errs = append(errs, fmt.Errorf("%w: %s%s between %s and %s in %s: copy it from another copy of this CommitLog "+
				"(rmqlog commitlog check compares copies)", ErrMissingFile, FileName(want), more, prev.Name, f.Name, d.Path))
		case f.Start < want:
			errs = append(errs, fmt.Errorf("%w: %s starts at %d, inside %s, which holds offsets %d to %d: "+
				"wrong file size, or the file was renamed", ErrMissingFile, filepath.Join(d.Path, f.Name), f.Start, prev.Name, prev.Start, want))
		}
	}
	return errs
}

func (d *Dir) sizeSource(inferred bool) string {
	if inferred {
		return "the size of the first file, " + d.Files[0].Name
	}
	return "the file size asked for"
}

// fileOf returns the index in d.Files of the file holding offset, which
// may lie before the first file or after the last (a negative index or
// one beyond the slice).
func (d *Dir) fileOf(offset int64) int {
	return int(floorDiv(offset-d.Files[0].Start, d.FileSize))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
