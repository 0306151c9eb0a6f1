package classic

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/rmqlog/rmqlog/commitlog"
)

// ErrTooLarge: a message that fits no file of the Writer's size, even an
// empty one (with the 8 bytes of the blank after it).
var ErrTooLarge = errors.New("classic: message larger than a file")

// Writer makes a classic CommitLog directory as a RocketMQ broker writes
// one: messages back to back in files of a fixed size, each file created
// at its full size (sparse, zero-filled: Truncate), the end-of-file blank
// when the next message does not fit, the offsets assigned at append
// time. It exists for tests and measurements (no Java broker runs here),
// not for a broker: it does not fsync, and one goroutine uses it at a
// time.
type Writer struct {
	path     string
	fileSize int64
	f        *os.File // the file being written
	start    int64    // its start offset
	pos      int64    // where the next message goes in it
	next     map[queue]int64
	buf      []byte // the encoding buffer, reused
	err      error  // sticky: the first write that failed
}

// queue names a consume queue: a topic and a queue id.
type queue struct {
	topic string
	id    int32
}

// NewWriter creates the directory path (it may exist, but must hold no
// file) and its first file, at offset 0, of fileSize bytes.
func NewWriter(path string, fileSize int64) (*Writer, error) {
	if fileSize < MinFileSize || fileSize > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d, want %d to %d", ErrFileSize, fileSize, MinFileSize, math.MaxInt32)
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("classic: %w", err)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("classic: %w", err)
	}
	if len(entries) > 0 {
		return nil, fmt.Errorf("classic: %s holds %s: a Writer makes a new CommitLog directory", path, entries[0].Name())
	}
	w := &Writer{path: path, fileSize: fileSize, next: map[queue]int64{}}
	if err := w.create(0); err != nil {
		return nil, err
	}
	return w, nil
}

// SetQueueOffset sets the queue offset of the next message of topic and
// queueID (a broker's consume queue that does not start at 0).
func (w *Writer) SetQueueOffset(topic string, queueID int32, next int64) {
	w.next[queue{topic, queueID}] = next
}

// Append writes m at the end of the log and returns its physical offset.
// It sets m's queue offset (the next of its topic and queue id; 0 for a
// prepared or rolled-back transaction message, which takes none, as
// RocketMQ's doAppend) and physical offset, and what commitlog.Encode sets
// (the body CRC, the version, the host bits of the system flag). A message
// that does not fit in the rest of the file goes to the next file, after
// the blank. Encode's refusals and ErrTooLarge leave the Writer usable; a
// failed write is returned by every later call.
func (w *Writer) Append(m *commitlog.Message) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	b, err := commitlog.Encode(w.buf[:0], m, math.MaxInt32)
	if err != nil {
		return 0, err
	}
	w.buf = b
	if !commitlog.Fits(len(b), int(w.fileSize)) {
		return 0, fmt.Errorf("%w: %d bytes, a file of %d holds at most %d", ErrTooLarge, len(b), w.fileSize, w.fileSize-commitlog.BlankSize)
	}
	if !commitlog.Fits(len(b), int(w.fileSize-w.pos)) {
		if err := w.roll(); err != nil {
			w.err = err
			return 0, err
		}
	}
	q := queue{string(m.Topic), m.QueueID}
	switch m.QueueOffset = 0; m.SysFlag.Transaction() {
	case commitlog.TransactionPrepared, commitlog.TransactionRollback:
	default:
		m.QueueOffset = w.next[q]
		w.next[q]++
	}
	m.PhysicalOffset = w.start + w.pos
	commitlog.SetOffsets(b, m.QueueOffset, m.PhysicalOffset)
	if _, err := w.f.WriteAt(b, w.pos); err != nil {
		w.err = fmt.Errorf("classic: %w", err)
		return 0, w.err
	}
	w.pos += int64(len(b))
	return m.PhysicalOffset, nil
}

// roll pads the rest of the current file with the blank and starts the
// next file.
func (w *Writer) roll() error {
	if _, err := w.f.WriteAt(commitlog.AppendBlank(nil, int(w.fileSize-w.pos)), w.pos); err != nil {
		return fmt.Errorf("classic: %w", err)
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("classic: %w", err)
	}
	return w.create(w.start + w.fileSize)
}

// create makes the file that starts at start, at its full size, and
// writes into it from now on.
func (w *Writer) create(start int64) error {
	f, err := os.OpenFile(filepath.Join(w.path, FileName(start)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("classic: %w", err)
	}
	if err := f.Truncate(w.fileSize); err != nil {
		f.Close()
		return fmt.Errorf("classic: %w", err)
	}
	w.f, w.start, w.pos = f, start, 0
	return nil
}

// End returns the physical offset the next message would get if it fits
// in the current file: one past the last message.
func (w *Writer) End() int64 { return w.start + w.pos }

// errClosed is what Append returns after Close.
var errClosed = errors.New("classic: Writer closed")

// Close closes the file being written. The directory stays as it is: the
// last file's rest is zeros, the end of the data.
func (w *Writer) Close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if w.err == nil {
		w.err = errClosed
	}
	if err != nil {
		return fmt.Errorf("classic: %w", err)
	}
	return nil
}
