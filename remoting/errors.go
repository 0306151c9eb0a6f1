package remoting

import "errors"

// Framing errors: the frame's boundaries are lost, so is the stream's.
// A Reader returns the same error from then on; close the connection.
var (
	// ErrFrameLength: a length word under 4 (no room for the header length
	// word) or negative as Java's int.
	ErrFrameLength = errors.New("remoting: bad frame length")
	// ErrFrameTooLarge: a length over the reader's maximum frame size.
	ErrFrameTooLarge = errors.New("remoting: frame too large")
	// ErrShortFrame: the bytes end inside a frame (a slice shorter than its
	// length word says, a stream cut mid-frame).
	ErrShortFrame = errors.New("remoting: short frame")
)

// Header errors: the frame was delimited and consumed whole, but its
// header is no command. RocketMQ closes the connection; so should a broker.
var (
	// ErrHeaderLength: a header length beyond the frame.
	ErrHeaderLength = errors.New("remoting: header length beyond the frame")
	// ErrSerializeType: a serialize type other than JSON (0) or ROCKETMQ (1).
	ErrSerializeType = errors.New("remoting: unknown serialize type")
	// ErrBadJSON: a JSON header that is not an object of the command's
	// fields (bad syntax, a number out of its field's range, an unknown
	// language name).
	ErrBadJSON = errors.New("remoting: bad JSON header")
	// ErrTruncated: a ROCKETMQ header field that runs past the header's end
	// (or an extFields entry past the extFields' end).
	ErrTruncated = errors.New("remoting: truncated header field")
	// ErrBadHeader: a ROCKETMQ header with a negative length, or with bytes
	// left after its extFields.
	ErrBadHeader = errors.New("remoting: bad ROCKETMQ header")
	// ErrHeaderTooLarge: a header length over MaxHeaderLength.
	ErrHeaderTooLarge = errors.New("remoting: header too large")
	// ErrTooManyExtFields: a header of either form with more than
	// MaxExtFields extFields entries.
	ErrTooManyExtFields = errors.New("remoting: too many extFields")
)

// Encoding errors: the command cannot be written in its serialization.
var (
	// ErrTooLong: a header over 2^24-1 bytes, a frame over 2^31-1, or an
	// extFields key over 32767 bytes in the ROCKETMQ form.
	ErrTooLong = errors.New("remoting: too long to encode")
	// ErrCodeRange: a code outside int16 in the ROCKETMQ form.
	ErrCodeRange = errors.New("remoting: code out of the ROCKETMQ header's range")
)
