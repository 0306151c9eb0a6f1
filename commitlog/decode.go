package commitlog

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
)

// layout is where the parts of one message lie, as scan found them. Every
// offset and slice lies within the message's total size.
type layout struct {
	size      int
	version   Version
	sysFlag   SysFlag
	storeTime int // offset of the store timestamp
	storeHost int // offset of the store host
	tail      int // offset of the reconsume times
	body      []byte
	topic     []byte
	props     []byte
}

// hostLen is the size of a host field, by its v6 bit in a system flag.
func hostLen(v6 SysFlag) int {
	if v6 != 0 {
		return hostV6Size
	}
	return hostV4Size
}

// scan checks the framing of the message at the start of b, every length
// against the total size and the total size against len(b), and returns
// its layout. It reads no more than the length fields and the ports.
func scan(b []byte) (layout, error) {
	be := binary.BigEndian
	if len(b) < offMagic+4 {
		return layout{}, fmt.Errorf("%w: %d bytes, a message starts with 8", ErrShort, len(b))
	}
	l := layout{}
	switch magic := be.Uint32(b[offMagic:]); magic {
	case MagicV1:
		l.version = V1
	case MagicV2:
		l.version = V2
	case BlankMagic:
		return layout{}, fmt.Errorf("%w: blank of %d bytes", ErrEndOfFile, int32(be.Uint32(b)))
	default:
		return layout{}, fmt.Errorf("%w: %08x", ErrMagic, magic)
	}
	size := int32(be.Uint32(b[offTotalSize:]))
	if size < MinSize {
		return layout{}, fmt.Errorf("%w: total size %d, the smallest message takes %d", ErrCorrupt, size, MinSize)
	}
	if int64(size) > int64(len(b)) {
		return layout{}, fmt.Errorf("%w: total size %d, %d bytes in the buffer", ErrShort, size, len(b))
	}
	l.size = int(size)
	b = b[:l.size]
	l.sysFlag = SysFlag(be.Uint32(b[offSysFlag:]))
	l.storeTime = offBornHost + hostLen(l.sysFlag&FlagBornHostV6)
	l.storeHost = l.storeTime + 8
	l.tail = l.storeHost + hostLen(l.sysFlag&FlagStoreHostV6)
	if err := l.variable(b, l.tail+4+8); err != nil {
		return layout{}, err
	}
	if err := checkPort(b, l.storeTime-4, "born"); err != nil {
		return layout{}, err
	}
	return l, checkPort(b, l.tail-4, "store")
}

// variable finds the body, topic and properties of message b, whose body
// length field is at offset p, and checks that they end at its total size.
func (l *layout) variable(b []byte, p int) error {
	be := binary.BigEndian
	n := len(b)
	if p+4 > n {
		return fmt.Errorf("%w: total size %d, its fixed fields take %d", ErrCorrupt, n, p+4)
	}
	bodyLen := int32(be.Uint32(b[p:]))
	if bodyLen < 0 || int64(bodyLen) > int64(n-p-4) {
		return fmt.Errorf("%w: body length %d at offset %d, total size %d", ErrCorrupt, bodyLen, p, n)
	}
	p += 4
	l.body = b[p : p+int(bodyLen) : p+int(bodyLen)]
	p += int(bodyLen)
	tls := l.version.topicLenSize()
	if p+tls > n {
		return fmt.Errorf("%w: total size %d ends in the topic length at %d", ErrCorrupt, n, p)
	}
	var topicLen int
	if l.version == V2 {
		topicLen = int(int16(be.Uint16(b[p:])))
	} else {
		topicLen = int(int8(b[p]))
	}
	p += tls
	if topicLen < 0 || topicLen > n-p {
		return fmt.Errorf("%w: v%d topic length %d at offset %d, total size %d", ErrCorrupt, l.version, topicLen, p-tls, n)
	}
	l.topic = b[p : p+topicLen : p+topicLen]
	p += topicLen
	if p+2 > n {
		return fmt.Errorf("%w: total size %d ends in the properties length at %d", ErrCorrupt, n, p)
	}
	propsLen := int(int16(be.Uint16(b[p:])))
	p += 2
	if propsLen < 0 || propsLen != n-p {
		return fmt.Errorf("%w: properties length %d at offset %d: the fields add up to %d bytes, total size %d",
			ErrCorrupt, propsLen, p-2, p+propsLen, n)
	}
	l.props = b[p:n:n]
	return nil
}

// checkPort checks the port field at offset p of b.
func checkPort(b []byte, p int, which string) error {
	if port := binary.BigEndian.Uint32(b[p:]); port > math.MaxUint16 {
		return fmt.Errorf("%w: %s port %d at offset %d", ErrCorrupt, which, int32(port), p)
	}
	return nil
}

// host reads the host field at offset p of b (checked by scan).
func host(b []byte, p int, v6 bool) netip.AddrPort {
	var ip netip.Addr
	if v6 {
		ip = netip.AddrFrom16([16]byte(b[p : p+16]))
		p += 16
	} else {
		ip = netip.AddrFrom4([4]byte(b[p : p+4]))
		p += 4
	}
	return netip.AddrPortFrom(ip, uint16(binary.BigEndian.Uint32(b[p:])))
}

// Decode decodes the message at the start of b and returns it and the
// number of bytes it occupies (its total size). Body, Topic and Properties
// alias b (with capacity cut at their length, so an append copies); the
// message is valid as long as b is. It checks the magic code, that every
// length lies inside the total size and that they add up to it, and that
// the total size lies inside b; it does not verify the body CRC
// (VerifyBody). At the end-of-file blank it returns ErrEndOfFile.
func Decode(b []byte) (Message, int, error) {
	l, err := scan(b)
	if err != nil {
		return Message{}, 0, err
	}
	be := binary.BigEndian
	return Message{
		Version:                   l.version,
		BodyCRC:                   be.Uint32(b[offBodyCRC:]),
		QueueID:                   int32(be.Uint32(b[offQueueID:])),
		Flag:                      int32(be.Uint32(b[offFlag:])),
		QueueOffset:               int64(be.Uint64(b[offQueueOffset:])),
		PhysicalOffset:            int64(be.Uint64(b[offPhysicalOffset:])),
		SysFlag:                   l.sysFlag,
		BornTimestamp:             int64(be.Uint64(b[offBornTimestamp:])),
		BornHost:                  host(b, offBornHost, l.sysFlag&FlagBornHostV6 != 0),
		StoreTimestamp:            int64(be.Uint64(b[l.storeTime:])),
		StoreHost:                 host(b, l.storeHost, l.sysFlag&FlagStoreHostV6 != 0),
		ReconsumeTimes:            int32(be.Uint32(b[l.tail:])),
		PreparedTransactionOffset: int64(be.Uint64(b[l.tail+4:])),
		Body:                      l.body,
		Topic:                     l.topic,
		Properties:                l.props,
	}, l.size, nil
}

// VerifyBody checks m's body against its stored CRC and returns ErrBodyCRC
// if they differ (RocketMQ's checkCRCOnRecover).
func (m *Message) VerifyBody() error {
	if c := BodyCRC(m.Body); c != m.BodyCRC {
		return fmt.Errorf("%w: stored %08x, body of %d bytes has %08x", ErrBodyCRC, m.BodyCRC, len(m.Body), c)
	}
	return nil
}

// Header is what a consume queue needs of a message (RocketMQ's
// DispatchRequest): read by Peek without decoding the hosts or the body.
// Topic and Properties alias the buffer Peek read.
type Header struct {
	// Size is the message's total size: the next message starts Size
	// bytes later.
	Size           int
	Version        Version
	QueueID        int32
	QueueOffset    int64
	PhysicalOffset int64
	SysFlag        SysFlag
	StoreTimestamp int64
	Topic          []byte
	Properties     []byte
}

// Peek reads the header of the message at the start of b. It checks the
// message exactly as Decode does and accepts the same inputs, returning the
// same errors.
func Peek(b []byte) (Header, error) {
	l, err := scan(b)
	if err != nil {
		return Header{}, err
	}
	be := binary.BigEndian
	return Header{
		Size:           l.size,
		Version:        l.version,
		QueueID:        int32(be.Uint32(b[offQueueID:])),
		QueueOffset:    int64(be.Uint64(b[offQueueOffset:])),
		PhysicalOffset: int64(be.Uint64(b[offPhysicalOffset:])),
		SysFlag:        l.sysFlag,
		StoreTimestamp: int64(be.Uint64(b[l.storeTime:])),
		Topic:          l.topic,
		Properties:     l.props,
	}, nil
}

// TagsCode returns the tags hash code the consume queue stores for the
// message: TagsCode of its TAGS property, 0 without one.
func (h *Header) TagsCode() int64 {
	tags, _ := Lookup(h.Properties, PropertyTags)
	return TagsCode(tags)
}

// SetOffsets writes the queue offset and the physical offset into the
// encoded message at the start of b, in place: the broker assigns them at
// commit time (RocketMQ's doAppend, which writes queue offset 0 for a
// prepared or rolled-back transaction message: it enters no consume
// queue). It reads nothing and checks nothing but len(b); b must hold a
// message Encode or Decode accepted.
func SetOffsets(b []byte, queueOffset, physicalOffset int64) {
	if len(b) < MinSize {
		panic(fmt.Sprintf("commitlog: SetOffsets on %d bytes, a message has at least %d", len(b), MinSize))
	}
	binary.BigEndian.PutUint64(b[offQueueOffset:], uint64(queueOffset))
	binary.BigEndian.PutUint64(b[offPhysicalOffset:], uint64(physicalOffset))
}

// SetStoreTimestamp writes the store timestamp into the encoded message at
// the start of b, in place (RocketMQ refreshes it under its put lock). b
// must hold a message Encode or Decode accepted: its system flag says where
// the field is.
func SetStoreTimestamp(b []byte, ms int64) {
	if len(b) < MinSize {
		panic(fmt.Sprintf("commitlog: SetStoreTimestamp on %d bytes, a message has at least %d", len(b), MinSize))
	}
	p := offBornHost + hostLen(SysFlag(binary.BigEndian.Uint32(b[offSysFlag:]))&FlagBornHostV6)
	binary.BigEndian.PutUint64(b[p:], uint64(ms))
}
