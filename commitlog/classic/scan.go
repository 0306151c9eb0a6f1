package classic

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/rmqlog/rmqlog/commitlog"
)

// Msg is one message of a classic CommitLog, as Scan walks them.
type Msg struct {
	// Phys is the message's physical offset: its file's start plus its
	// position in the file, which its PHYSICALOFFSET field says too.
	Phys int64
	// File is the name of the file holding it.
	File string
	// Bytes is the whole stored message, Header.Size bytes, its body CRC
	// verified. It aliases Scan's read buffer: valid only during the call
	// of fn; copy what you keep.
	Bytes []byte
	// Header is what commitlog.Peek reads of Bytes; its Topic and
	// Properties alias Bytes.
	Header commitlog.Header
}

// Summary is what a walk over a directory found.
type Summary struct {
	// Messages is the number of valid messages, Bytes the sum of their
	// total sizes (blanks not counted).
	Messages int64 `json:"messages"`
	Bytes    int64 `json:"bytes"`
	// First is the physical offset of the first message, End one past
	// the last valid one: RocketMQ's min and max physical offsets. Both
	// are the first file's start if there is no message.
	First int64 `json:"first"`
	End   int64 `json:"end"`
	// Torn is the torn write that ends the log, if any: a damaged
	// message with nothing valid after it, which RocketMQ's recovery
	// truncates (Damage.Torn).
	Torn *Damage `json:"torn,omitempty"`
}

// Scan walks every message of the directory in order, verifies it and
// calls fn with it (fn may be nil: Scan only verifies). It reads the files
// one at a time through one reused buffer (1 MiB, or a message's size if
// larger). It checks that each message decodes (commitlog.Decode), that
// its body CRC verifies, and that its PHYSICALOFFSET field is its place in
// the log; an end-of-file blank sends it to the next file; a zero total
// size ends the data, and then the log unless a later file holds data
// (ErrHole). A damaged message with nothing valid after it ends the log
// too: Summary.Torn. Scan returns a *Damage for damage with valid data
// after it, an I/O error, or fn's error, unchanged; the Summary counts
// what was walked until then.
func (d *Dir) Scan(fn func(m Msg) error) (Summary, error) {
	c := newCursor(d)
	defer c.close()
	for {
		m, err := c.next()
		if err == io.EOF {
			return c.sum, nil
		}
		if err != nil {
			return c.sum, err
		}
		if fn != nil {
			if err := fn(m); err != nil {
				return c.sum, err
			}
		}
	}
}

// cursor walks a directory's messages one by one (Scan; Compare runs two
// side by side).
type cursor struct {
	d   *Dir
	i   int   // the current file: an index in d.Files
	pos int64 // where the next entry starts in it
	r   reader
	sum Summary
	err error // sticky: io.EOF at the end of the log, a *Damage, an I/O error
}

func newCursor(d *Dir) *cursor {
	s := d.Files[0].Start
	return &cursor{d: d, sum: Summary{First: s, End: s}}
}

func (c *cursor) close() { c.r.close() }

func (c *cursor) file() File               { return c.d.Files[c.i] }
func (c *cursor) path(i int) string        { return filepath.Join(c.d.Path, c.d.Files[i].Name) }
func (c *cursor) damage(err error) *Damage { return newDamage(c.d, c.file(), c.pos, err) }

// next returns the next valid message, io.EOF after the last, or the
// error that stopped the walk (a *Damage, an I/O error), again on every
// later call. The message is valid until the next call.
func (c *cursor) next() (Msg, error) {
	for c.err == nil {
		m, ok, err := c.step()
		if err != nil {
			c.err = err
			c.close()
		} else if ok {
			return m, nil
		}
	}
	return Msg{}, c.err
}

// step reads the entry at c.pos: a message (ok), or the blank or the end
// of the file (c moves to the next file), or the end of the data (io.EOF),
// or damage.
func (c *cursor) step() (Msg, bool, error) {
	if c.r.f == nil {
		if err := c.open(); err != nil {
			return Msg{}, false, err
		}
	}
	room := c.d.FileSize - c.pos
	if room == 0 {
		return Msg{}, false, c.nextFile()
	}
	head, err := c.r.at(c.pos, int(min(room, 8)))
	if err != nil {
		return Msg{}, false, err
	}
	if len(head) >= 4 && binary.BigEndian.Uint32(head) == 0 {
		return Msg{}, false, c.endOfData()
	}
	if _, ok := commitlog.Blank(head); ok {
		return Msg{}, false, c.nextFile()
	}
	e, err := c.read(c.pos)
	if err != nil {
		return Msg{}, false, err
	}
	if e.reason != nil {
		return Msg{}, false, c.damaged(e)
	}
	if c.sum.Messages == 0 {
		c.sum.First = e.msg.Phys
	}
	c.sum.Messages++
	c.sum.Bytes += e.size
	c.sum.End = e.msg.Phys + e.size
	c.pos += e.size
	return e.msg, true, nil
}

// open opens the current file; after the last, the log has ended
// (io.EOF).
func (c *cursor) open() error {
	if c.i == len(c.d.Files) {
		return io.EOF
	}
	bufSize := c.d.bufSize
	if bufSize == 0 {
		bufSize = defaultBufSize
	}
	return c.r.open(c.path(c.i), c.d.FileSize, bufSize)
}

// nextFile moves c to the start of the next file; after the last, the
// log has ended (io.EOF).
func (c *cursor) nextFile() error {
	if err := c.r.close(); err != nil {
		return fmt.Errorf("classic: %w", err)
	}
	c.i, c.pos = c.i+1, 0
	if c.i == len(c.d.Files) {
		return io.EOF
	}
	return nil
}

// entry is what read found at a position: a valid message, or the reason
// there is none. size is the total size field, which may lie.
type entry struct {
	msg    Msg
	size   int64
	reason error
}

// read decodes and verifies the message at pos of the current file. An
// error is an I/O error; a message that is not valid comes back with its
// reason.
func (c *cursor) read(pos int64) (entry, error) {
	room := c.d.FileSize - pos
	head, err := c.r.at(pos, int(min(room, 8)))
	if err != nil {
		return entry{}, err
	}
	if len(head) < 8 {
		return entry{reason: fmt.Errorf("%w: %d bytes left in the file, an entry takes at least 8", commitlog.ErrShort, room)}, nil
	}
	e := entry{size: int64(int32(binary.BigEndian.Uint32(head)))}
	magic := binary.BigEndian.Uint32(head[4:])
	n := int64(8) // enough for Decode to explain a bad magic code or total size
	switch {
	case magic != commitlog.MagicV1 && magic != commitlog.MagicV2:
	case e.size > room:
		e.reason = fmt.Errorf("%w: total size %d runs past the end of the file, %d bytes left", commitlog.ErrShort, e.size, room)
		return e, nil
	case e.size >= commitlog.MinSize:
		n = e.size
	}
	b, err := c.load(pos, n)
	if err != nil || b == nil {
		if err == nil { // what Decode would refuse with ErrCorrupt, in fewer words
			e.reason = fmt.Errorf("%w: the lengths of the message do not add up to its total size %d", commitlog.ErrCorrupt, n)
		}
		return e, err
	}
	m, _, err := commitlog.Decode(b)
	if err == nil {
		err = m.VerifyBody()
	}
	if err == nil && m.PhysicalOffset != c.file().Start+pos {
		err = c.offsetError(pos, m.PhysicalOffset)
	}
	if err != nil {
		e.reason = err
		return e, nil
	}
	h, _ := commitlog.Peek(b) // accepts what Decode accepted
	e.msg = Msg{Phys: c.file().Start + pos, File: c.file().Name, Bytes: b, Header: h}
	return e, nil
}

// load returns the n bytes at pos of the current file. If they do not fit
// in the read buffer, it first checks that the lengths of the message
// there add up to n, and returns nil if they do not: the buffer grows
// only for a message that may be real.
func (c *cursor) load(pos, n int64) ([]byte, error) {
	if n > int64(len(c.r.buf)) {
		if ok, err := c.r.framed(pos, int(n)); err != nil || !ok {
			return nil, err
		}
	}
	b, err := c.r.at(pos, int(n))
	if err != nil {
		return nil, err
	}
	return b[:n:n], nil
}

// offsetError explains a message at pos whose physical offset field says
// said.
func (c *cursor) offsetError(pos, said int64) error {
	f := c.file()
	err := fmt.Errorf("%w: the message says it lies at offset %d, it lies at %d", ErrOffset, said, f.Start+pos)
	if start := said - pos; start >= 0 && start%c.d.FileSize == 0 && start != f.Start {
		return fmt.Errorf("%w: %s was copied under another name (its messages say it is %s) or is damaged", err, f.Name, FileName(start))
	}
	return fmt.Errorf("%w: %s is damaged, or was copied under another name", err, f.Name)
}

// endOfData: a zero total size at c.pos ends the file's data; it ends the
// log unless a later file holds data (a hole).
func (c *cursor) endOfData() error {
	later, err := c.laterData()
	if err != nil || later == "" {
		return firstErr(err, io.EOF)
	}
	d := c.damage(fmt.Errorf("%w: a zero total size ends the data of %s at position %d", ErrHole, c.file().Name, c.pos))
	d.Follows = later
	return d
}

// damaged decides what the entry at c.pos that read found invalid is: a
// torn tail if nothing valid follows it (recorded in the summary, and the
// log ends), damage inside the log otherwise (returned). A wrong physical
// offset is never a torn write.
func (c *cursor) damaged(e entry) error {
	d := c.damage(e.reason)
	if errors.Is(e.reason, ErrOffset) {
		return d
	}
	follows, err := c.follows(e.size)
	if err != nil {
		return err
	}
	if follows != "" {
		d.Follows = follows
		return d
	}
	c.sum.Torn = d
	return io.EOF
}

// follows describes the valid data after the damaged entry at c.pos whose
// total size field says size: the message or blank right after it, if
// size puts it inside the file, or a later file that holds data. It
// returns "" if there is none.
func (c *cursor) follows(size int64) (string, error) {
	next := c.pos + size
	if size >= commitlog.MinSize && next < c.d.FileSize {
		at := c.file().Start + next
		head, err := c.r.at(next, int(min(c.d.FileSize-next, 8)))
		if err != nil {
			return "", err
		}
		if _, ok := commitlog.Blank(head); ok {
			return fmt.Sprintf("the end-of-file blank at offset %d", at), nil
		}
		e, err := c.read(next)
		if err != nil {
			return "", err
		}
		if e.reason == nil {
			return fmt.Sprintf("a valid message at offset %d", at), nil
		}
	}
	return c.laterData()
}

// laterData names the first file after the current one that holds data,
// "" if none does.
func (c *cursor) laterData() (string, error) {
	for j := c.i + 1; j < len(c.d.Files); j++ {
		ok, err := holdsData(c.path(j))
		if err != nil {
			return "", err
		}
		if ok {
			return "data in file " + c.d.Files[j].Name, nil
		}
	}
	return "", nil
}

// firstErr returns the first of a and b that is not nil.
func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
