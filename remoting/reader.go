package remoting

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxFrameSize is the largest frame a Reader accepts by default,
// length word included: 16 MiB, the default of RocketMQ's own decoder
// (netty/NettyDecoder.java: com.rocketmq.remoting.frameMaxLength =
// 16777216, given to Netty's LengthFieldBasedFrameDecoder, which counts
// the length word too). Java brokers, name servers and clients of 4.x
// (checked at 4.9.4) and 5.x all read with it, so a larger frame is one
// a default RocketMQ peer refuses too. It holds a message or batch of the
// default maxMessageSize, 4 MiB (DefaultMQProducer and the broker's
// MessageStoreConfig), four times over: the rest is room for the header,
// the batch's per-message framing and properties, and pull responses of
// several messages. (rocketmq-client-go reads with no limit at all.)
const DefaultMaxFrameSize = 16 << 20

// growStep is the frame memory a Reader commits to before any of the
// frame arrived; beyond it the buffer doubles as bytes arrive, so a peer
// that announces a large frame and sends little costs at most twice what
// it sent.
const growStep = 64 << 10

// Reader reads commands from a stream, one frame at a time. It reads the
// length word and the frame with separate reads: give it a buffered
// reader (bufio.Reader over a net.Conn). Not safe for concurrent use: one
// goroutine reads a connection.
type Reader struct {
	r    io.Reader
	max  int64
	word [4]byte
	err  error // the first error, returned from then on
}

// NewReader returns a Reader of r that refuses frames over maxFrameSize
// bytes, length word included (DefaultMaxFrameSize when maxFrameSize <= 0).
func NewReader(r io.Reader, maxFrameSize int) *Reader {
	if maxFrameSize <= 0 {
		maxFrameSize = DefaultMaxFrameSize
	}
	return &Reader{r: r, max: int64(maxFrameSize)}
}

// ReadCommand reads and decodes the next frame. The command and its Body
// are the caller's (each frame is read into new memory). It returns io.EOF
// when the stream ends between frames; an error of this package when a
// frame is bad (doc.go: Errors); the stream's error, wrapped, when reading
// fails. Framing and stream errors stick: later calls return them again.
// After a header error the next call reads the next frame, but RocketMQ
// closes the connection instead.
func (rd *Reader) ReadCommand() (*Command, error) {
	if rd.err != nil {
		return nil, rd.err
	}
	f, headerErr, err := rd.readFrame()
	if err != nil {
		rd.err = err
		return nil, err
	}
	if headerErr != nil {
		return nil, headerErr
	}
	return decodeFrame(f)
}

// readFrame reads a length word and the bytes it announces, which it
// allocates as they arrive. A header length the frame's first bytes
// refuse (beyond the frame, over MaxHeaderLength) is headerErr, and the
// rest of the frame is skipped unread, not buffered.
func (rd *Reader) readFrame() (f []byte, headerErr, err error) {
	if _, err := io.ReadFull(rd.r, rd.word[:]); err != nil {
		if err == io.EOF {
			return nil, nil, io.EOF
		}
		return nil, nil, streamError(err, "the length word")
	}
	n, err := frameLength(binary.BigEndian.Uint32(rd.word[:]), rd.max)
	if err != nil {
		return nil, nil, err
	}
	what := fmt.Sprintf("a frame of %d bytes after its length word", n)
	f = make([]byte, min(n, growStep))
	if _, err := io.ReadFull(rd.r, f); err != nil {
		return nil, nil, streamError(err, what)
	}
	if _, _, headerErr = headerLength(f, n); headerErr != nil {
		if _, err := io.CopyN(io.Discard, rd.r, int64(n-len(f))); err != nil {
			return nil, nil, streamError(err, what)
		}
		return nil, headerErr, nil
	}
	if f, err = grow(rd.r, f, n); err != nil {
		return nil, nil, streamError(err, what)
	}
	return f, nil, nil
}

// grow reads the rest of a frame of n bytes whose first bytes are b into
// a slice of exactly n bytes, allocated as they arrive (doubling).
func grow(r io.Reader, b []byte, n int) ([]byte, error) {
	for len(b) < n {
		have := len(b)
		nb := make([]byte, min(n, 2*have))
		copy(nb, b)
		if _, err := io.ReadFull(r, nb[have:]); err != nil {
			return nil, err
		}
		b = nb
	}
	return b, nil
}

// streamError wraps an error of the stream met while reading what: an end
// of stream inside a frame is ErrShortFrame.
func streamError(err error, what string) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the stream ended inside %s: %w", ErrShortFrame, what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("remoting: reading %s: %w", what, err)
}
