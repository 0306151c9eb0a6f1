package classic

import (
	"errors"
	"fmt"
	"path/filepath"
)

// Errors of Open: the directory is no classic CommitLog directory as it
// stands. Each is returned wrapped with the file and the numbers; test
// with errors.Is. Open reports every problem it finds (errors.Join).
var (
	// ErrEmpty: the directory holds no CommitLog file.
	ErrEmpty = errors.New("classic: no CommitLog files")
	// ErrName: a file whose name is not a start offset of 20 digits.
	ErrName = errors.New("classic: not a CommitLog file name")
	// ErrFileSize: a file of another size than the others (or than the
	// size asked for), or a file size no CommitLog uses.
	ErrFileSize = errors.New("classic: wrong file size")
	// ErrMissingFile: the files' starts are not contiguous, or not on the
	// grid of the file size.
	ErrMissingFile = errors.New("classic: missing file")
)

// Errors of Scan and Compare, found in the data. A *Damage wraps one of
// these or one of package commitlog's decode errors (commitlog.ErrShort,
// ErrMagic, ErrCorrupt, ErrBodyCRC).
var (
	// ErrOffset: a message whose PHYSICALOFFSET field is not its place in
	// the log: its file was copied under another name, or is damaged.
	ErrOffset = errors.New("classic: physical offset mismatch")
	// ErrHole: a file's data ends (a zero total size) but a later file
	// holds data.
	ErrHole = errors.New("classic: hole in the log")
)

// Damage is where and why a walk over a directory stopped short of the
// end of its files: a message that does not decode, whose body CRC fails,
// whose physical offset is wrong, or a hole.
//
// As Summary.Torn it is a torn write at the end of the log: nothing valid
// follows it, RocketMQ's recovery truncates the log there, and it is no
// error. Returned as an error (by Scan, or in Copy.Damage) it is damage in
// the middle of the log: Follows says what valid data comes after it.
type Damage struct {
	// Dir and File name the file; Offset is the physical offset of the
	// damaged message (or of the hole), Pos its position in the file.
	Dir    string `json:"dir"`
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Pos    int64  `json:"pos"`
	// Follows describes the valid data after the damage ("a valid
	// message at offset 4200", "data in file 00000000000000008192");
	// empty for a torn tail and for ErrOffset.
	Follows string `json:"follows,omitempty"`
	// Reason is Err's text, for JSON.
	Reason string `json:"reason"`
	// Err is why: ErrOffset, ErrHole, or a decode error of package
	// commitlog.
	Err error `json:"-"`
}

func newDamage(d *Dir, f File, pos int64, err error) *Damage {
	return &Damage{Dir: d.Path, File: f.Name, Offset: f.Start + pos, Pos: pos, Reason: err.Error(), Err: err}
}

// Torn reports whether d is a torn tail: nothing valid follows it.
func (d *Damage) Torn() bool { return d.Follows == "" && !errors.Is(d.Err, ErrOffset) }

func (d *Damage) Error() string {
	where := fmt.Sprintf("%s, offset %d (position %d of the file)", filepath.Join(d.Dir, d.File), d.Offset, d.Pos)
	switch {
	case errors.Is(d.Err, ErrOffset):
		return fmt.Sprintf("%s: %v: give the file its right name, or copy it again from its source", where, d.Err)
	case d.Torn():
		return fmt.Sprintf("%s: %v: a torn write at the end of the log (nothing valid follows it); "+
			"RocketMQ's recovery truncates the log here", where, d.Err)
	default:
		return fmt.Sprintf("%s: %v; %s follows it, so this is damage inside the log, not a torn write at its end: "+
			"copy %s from another copy of this CommitLog in which it verifies (rmqlog commitlog check compares copies)",
			where, d.Err, d.Follows, d.File)
	}
}

func (d *Damage) Unwrap() error { return d.Err }
