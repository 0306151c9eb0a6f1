package server

import (
	"io"
	"net"
	"os"
	"syscall"
)

// input is a connection's read side, owned by its reader goroutine: a
// pooled ioBufSize buffer (a body buffer of the largest class), held only
// while bytes are buffered. At a frame boundary with nothing buffered it
// gives the buffer back and waits for the next bytes holding none: on a
// connection with a descriptor (TCP) it waits for the socket to turn
// readable and reads what arrived straight into a pooled buffer, one read;
// on one without (TLS), it reads one byte, then takes a buffer for the
// rest. (1,024 idle connections would otherwise pin 64 MiB.)
type input struct {
	nc  net.Conn
	raw syscall.RawConn // nc's descriptor; nil without one
	// readRaw is in.readRaw, made once: RawConn.Read's callback.
	readRaw func(fd uintptr) bool
	buf     *[]byte // the pooled buffer, nil while idle
	r, w    int     // (*buf)[r:w] is buffered
	err     error   // sticky: the read error that ended the input
	one     [1]byte // the byte an idle wait without a descriptor reads
}

func newInput(nc net.Conn) *input {
	in := &input{nc: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			in.raw, in.readRaw = raw, in.readIdle
		}
	}
	return in
}

// next readies the input for a frame: at once with bytes buffered, else
// after the idle wait. Its errors are the connection's: io.EOF is a close
// between frames.
func (in *input) next() error {
	if in.r < in.w {
		return nil
	}
	in.release()
	if in.err != nil {
		return in.err
	}
	if in.raw == nil {
		if _, err := io.ReadFull(in.nc, in.one[:]); err != nil {
			return err
		}
		in.take()
		(*in.buf)[0], in.w = in.one[0], 1
		return nil
	}
	if err := in.raw.Read(in.readRaw); err != nil {
		return err // closed, or the read deadline (Shutdown)
	}
	return in.err
}

// readIdle is RawConn.Read's callback in an idle wait, called at once and
// again each time the socket turns readable, until it returns true: it
// takes a buffer and reads into it, and with nothing to read gives the
// buffer back before the wait.
func (in *input) readIdle(fd uintptr) bool {
	in.take()
	for {
		n, err := syscall.Read(int(fd), *in.buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			in.release()
			return false
		case err != nil:
			in.release()
			in.err = &net.OpError{Op: "read", Net: in.nc.LocalAddr().Network(), Source: in.nc.LocalAddr(),
				Addr: in.nc.RemoteAddr(), Err: os.NewSyscallError("read", err)}
		case n == 0:
			in.release()
			in.err = io.EOF
		default:
			in.w = n
		}
		return true
	}
}

func (in *input) take() {
	in.buf, in.r, in.w = bodyBuf(ioBufSize), 0, 0
}

// release gives the buffer back to the pool; what it held is dropped.
func (in *input) release() {
	if in.buf != nil {
		putBody(in.buf)
		in.buf, in.r, in.w = nil, 0, 0
	}
}

// buffered returns the bytes buffered; valid until the next read.
func (in *input) buffered() []byte { return (*in.buf)[in.r:in.w] }

// discard drops the first n buffered bytes.
func (in *input) discard(n int) { in.r += n }

// peek returns the bytes buffered once they are at least n <= ioBufSize,
// reading as need be; with an error, what there is.
func (in *input) peek(n int) ([]byte, error) {
	for in.w-in.r < n {
		if err := in.fill(); err != nil {
			return in.buffered(), err
		}
	}
	return in.buffered(), nil
}

// fill reads more bytes after those buffered (moved to the front first).
func (in *input) fill() error {
	if in.err != nil {
		return in.err
	}
	b := *in.buf
	if in.r > 0 {
		in.w = copy(b, b[in.r:in.w])
		in.r = 0
	}
	n, err := in.nc.Read(b[in.w:])
	in.w += n
	if n == 0 && err != nil {
		in.err = err
		return err
	}
	return nil
}

// Read reads the buffered bytes, then the connection's: for frames the
// buffer does not hold whole (ReadFrame, skip). A read at least as large as
// the buffer goes to the connection directly.
func (in *input) Read(p []byte) (int, error) {
	if in.r == in.w {
		if len(p) >= len(*in.buf) && in.err == nil {
			n, err := in.nc.Read(p)
			if n == 0 && err != nil {
				in.err = err
			}
			return n, err
		}
		if err := in.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, in.buffered())
	in.r += n
	return n, nil
}
