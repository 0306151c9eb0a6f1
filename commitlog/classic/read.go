package classic

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rmqlog/rmqlog/commitlog"
)

// defaultBufSize is the read buffer's size: a file is read through it
// from start to end, so a 1 GiB file costs 1 MiB of memory, not 1 GiB.
const defaultBufSize = 1 << 20

// reader reads one file at a time through a window of a buffer that is
// reused from file to file. The buffer grows only to hold a message whose
// length fields add up to its total size (framed), so memory is bounded by
// the buffer and the largest real message: a lying total size costs none.
type reader struct {
	f    *os.File
	path string
	size int64  // the file's size as Open saw it
	buf  []byte // the buffer, reused
	off  int64  // the file position of win[0]
	win  []byte // the bytes [off, off+len(win)) of the file
}

func (r *reader) open(path string, size int64, bufSize int) error {
	if err := r.close(); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("classic: %w", err)
	}
	r.f, r.path, r.size, r.off, r.win = f, path, size, 0, nil
	if r.buf == nil {
		r.buf = make([]byte, min(int64(bufSize), size))
	}
	return nil
}

func (r *reader) close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f, r.win = nil, nil
	return err
}

// at returns the file's bytes from pos on, at least n of them; n must not
// exceed size-pos. The slice is valid until the next call.
func (r *reader) at(pos int64, n int) ([]byte, error) {
	if pos >= r.off && pos+int64(n) <= r.off+int64(len(r.win)) {
		return r.win[pos-r.off:], nil
	}
	if n > len(r.buf) {
		r.buf = make([]byte, n)
	}
	want := min(int64(len(r.buf)), r.size-pos)
	k, err := r.f.ReadAt(r.buf[:want], pos)
	if int64(k) < want {
		if err == io.EOF {
			err = fmt.Errorf("%s ends at %d, Open saw %d bytes: was it changed since?", r.path, pos+int64(k), r.size)
		}
		return nil, fmt.Errorf("classic: read %d bytes at %d: %w", want, pos, err)
	}
	r.off, r.win = pos, r.buf[:want]
	return r.win, nil
}

// readAt reads len(b) bytes at pos into b, around the window.
func (r *reader) readAt(b []byte, pos int64) error {
	if _, err := r.f.ReadAt(b, pos); err != nil {
		return fmt.Errorf("classic: read %s at %d: %w", r.path, pos, err)
	}
	return nil
}

// framed reports whether the length fields of the message of size bytes
// at pos add up to its size (the check package commitlog's Decode makes),
// reading only them: at most 4 small reads, none into the buffer. The
// caller knows the message lies inside the file.
func (r *reader) framed(pos int64, size int) (bool, error) {
	var b [4]byte
	field := func(off, n int) (int, error) {
		if off < 0 || off > size-n {
			return -1, nil
		}
		if err := r.readAt(b[:n], pos+int64(off)); err != nil {
			return 0, err
		}
		if n == 1 {
			return int(int8(b[0])), nil
		}
		if n == 2 {
			return int(int16(binary.BigEndian.Uint16(b[:]))), nil
		}
		return int(int32(binary.BigEndian.Uint32(b[:]))), nil
	}
	magic, err := field(4, 4)
	if err != nil || uint32(magic) != commitlog.MagicV1 && uint32(magic) != commitlog.MagicV2 {
		return false, err
	}
	flag, err := field(36, 4)
	if err != nil {
		return false, err
	}
	p := 48 + hostSize(commitlog.SysFlag(flag)&commitlog.FlagBornHostV6) + 8 +
		hostSize(commitlog.SysFlag(flag)&commitlog.FlagStoreHostV6) + 4 + 8
	topicLenSize := 1
	if uint32(magic) == commitlog.MagicV2 {
		topicLenSize = 2
	}
	for _, n := range []int{4, topicLenSize, 2} { // body, topic, properties
		l, err := field(p, n)
		if err != nil || l < 0 {
			return false, err
		}
		p += n + l
	}
	return p == size, nil
}

// hostSize is the size of a host field whose v6 bit in the system flag is v6.
func hostSize(v6 commitlog.SysFlag) int {
	if v6 != 0 {
		return 16 + 4
	}
	return 4 + 4
}

// holdsData reports whether the file at path holds data: whether its
// first 8 bytes (a total size and a magic code) are not all zero.
func holdsData(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("classic: %w", err)
	}
	defer f.Close()
	var b [8]byte
	if _, err := f.ReadAt(b[:], 0); err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("classic: read %s: %w", path, err)
	}
	return b != [8]byte{}, nil
}
