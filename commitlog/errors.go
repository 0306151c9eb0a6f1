package commitlog

import "errors"

// Errors of decoding, sorted by what a reader does with them. Each is
// returned wrapped with the numbers that broke it; test with errors.Is.
var (
	// ErrShort: the buffer ends inside a message: fewer bytes than a
	// message header, or than its total size says. At the end of what was
	// written this is a torn tail (truncate it); a pull answer or a batch
	// cut there was cut by its sender.
	ErrShort = errors.New("commitlog: short message")
	// ErrMagic: the magic code is neither a message's (v1, v2) nor the
	// end-of-file blank's: the bytes are not a message at all (a scan has
	// lost its place, or the file is not a CommitLog).
	ErrMagic = errors.New("commitlog: bad magic code")
	// ErrCorrupt: a message whose fields contradict each other: a length
	// that is negative, overruns the total size or does not add up to it;
	// a port beyond 65535; a v1 topic length above 127 (RocketMQ reads it
	// as a negative byte).
	ErrCorrupt = errors.New("commitlog: corrupt message")
	// ErrBodyCRC: the body does not match its CRC (Message.VerifyBody).
	ErrBodyCRC = errors.New("commitlog: body CRC mismatch")
	// ErrEndOfFile: the end-of-file blank (BlankMagic) where a message
	// was expected: the rest of this CommitLog file is padding and the
	// next message starts at the next file.
	ErrEndOfFile = errors.New("commitlog: end of file blank")
)

// Errors of encoding: a message RocketMQ's format cannot hold, or that the
// broker refuses. Each is returned wrapped with the numbers that broke it.
var (
	// ErrTopicTooLong: a topic longer than its length field holds: 127
	// bytes in v1, 32767 in v2.
	ErrTopicTooLong = errors.New("commitlog: topic too long")
	// ErrPropertiesTooLong: properties longer than 32767 bytes (their
	// length is a signed 16-bit field; RocketMQ's PROPERTIES_SIZE_EXCEEDED).
	ErrPropertiesTooLong = errors.New("commitlog: properties too long")
	// ErrBodyTooLarge: a body over the caller's limit (the broker's
	// maxMessageSize; RocketMQ's MESSAGE_ILLEGAL), or a message over the
	// 2 GiB a total size field holds.
	ErrBodyTooLarge = errors.New("commitlog: body too large")
	// ErrHost: a born or store host that is not an IPv4 or IPv6 address
	// without a zone (the zero netip.AddrPort included).
	ErrHost = errors.New("commitlog: bad host address")
	// ErrProperty: a property RocketMQ's string form cannot carry: an
	// empty name or value (a decoder drops it), or one that contains a
	// separator byte (1 or 2).
	ErrProperty = errors.New("commitlog: bad property")
	// ErrMessageID: a string that is not a message id (ParseMessageID).
	ErrMessageID = errors.New("commitlog: bad message id")
)
