package commitlog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"net/netip"
)

// Magic codes: the second field of every entry in a CommitLog file.
const (
	// MagicV1 marks a message whose topic length is 1 byte (RocketMQ's
	// MESSAGE_MAGIC_CODE, 0xDAA320A7).
	MagicV1 uint32 = 0xDAA320A7
	// MagicV2 marks a message whose topic length is 2 bytes (RocketMQ 5's
	// MESSAGE_MAGIC_CODE_V2, 0xDAA320AB).
	MagicV2 uint32 = 0xDAA320AB
	// BlankMagic marks the padding at the end of a CommitLog file
	// (RocketMQ's BLANK_MAGIC_CODE, 0xCBD43194).
	BlankMagic uint32 = 0xCBD43194
)

// Version says which magic code a message carries, and so the size of its
// topic length field.
type Version uint8

const (
	// VersionAuto lets Encode choose: V1 for a topic of up to 127 bytes,
	// V2 above, as a RocketMQ 5 broker does.
	VersionAuto Version = 0
	// V1: a 1-byte topic length (MagicV1); every RocketMQ 4 message.
	V1 Version = 1
	// V2: a 2-byte topic length (MagicV2).
	V2 Version = 2
)

func (v Version) magic() uint32 {
	if v == V2 {
		return MagicV2
	}
	return MagicV1
}

// topicLenSize is the size of v's topic length field.
func (v Version) topicLenSize() int { return int(v) }

// MaxTopicV1 and MaxTopicV2 are the longest topics (in bytes) each version
// holds: RocketMQ reads the length as a signed byte or a signed short.
const (
	MaxTopicV1 = math.MaxInt8
	MaxTopicV2 = math.MaxInt16
)

// MaxProperties is the longest properties string (in bytes): its length is
// a signed 16-bit field.
const MaxProperties = math.MaxInt16

// DefaultMaxBody is RocketMQ's default maxMessageSize (4 MiB), the body
// limit a broker passes to Encode unless configured otherwise.
const DefaultMaxBody = 4 << 20

// SysFlag is a message's system flag (RocketMQ's MessageSysFlag).
type SysFlag int32

// The bits of a SysFlag.
const (
	FlagCompressed SysFlag = 1 << 0 // the body is compressed (CompressionMask says how)
	FlagMultiTags  SysFlag = 1 << 1 // the topic filters on several tags
	// The transaction type, two bits (TransactionMask).
	TransactionNone     SysFlag = 0
	TransactionPrepared SysFlag = 1 << 2 // a half message: not consumable
	TransactionCommit   SysFlag = 2 << 2
	TransactionRollback SysFlag = 3 << 2
	TransactionMask     SysFlag = 3 << 2
	FlagBornHostV6      SysFlag = 1 << 4 // the born host is 16+4 bytes
	FlagStoreHostV6     SysFlag = 1 << 5 // the store host is 16+4 bytes
	FlagNeedUnwrap      SysFlag = 1 << 6 // batch marker
	FlagInnerBatch      SysFlag = 1 << 7 // batch marker
	// The compression type, three bits: 0 (older brokers) and 3 mean zlib.
	CompressionLZ4  SysFlag = 1 << 8
	CompressionZstd SysFlag = 2 << 8
	CompressionZlib SysFlag = 3 << 8
	CompressionMask SysFlag = 7 << 8
)

// Transaction returns f's transaction type, one of the Transaction* values.
func (f SysFlag) Transaction() SysFlag { return f & TransactionMask }

// Message is one message in RocketMQ's CommitLog layout (doc.go draws it).
// Decode returns Body, Topic and Properties aliasing the decoded buffer.
type Message struct {
	// Version is the magic code's version. Decode sets it; Encode writes
	// it (VersionAuto: V1 or V2 by topic length) and sets what it wrote.
	Version Version
	// BodyCRC is the stored body checksum (BodyCRC of the body). Encode
	// computes it and sets it here; Decode returns the stored value,
	// unverified (VerifyBody checks it).
	BodyCRC uint32
	QueueID int32
	// Flag is the producer's flag, opaque to the broker.
	Flag int32
	// QueueOffset is the message's index in its consume queue (topic,
	// queue id); PhysicalOffset its byte offset in the whole CommitLog.
	// The broker assigns both at commit time: SetOffsets.
	QueueOffset    int64
	PhysicalOffset int64
	// SysFlag: Encode sets FlagBornHostV6 and FlagStoreHostV6 from the
	// hosts (and here), and writes every other bit as given.
	SysFlag SysFlag
	// BornTimestamp and StoreTimestamp are milliseconds since the epoch:
	// when the producer made the message, when the broker stored it.
	BornTimestamp  int64
	BornHost       netip.AddrPort
	StoreTimestamp int64
	// StoreHost is the broker's address; with PhysicalOffset it makes the
	// message id (MessageID).
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	Body                      []byte
	// Topic is UTF-8, stored without a terminator.
	Topic []byte
	// Properties is RocketMQ's string form of the message's properties
	// (AppendProperties builds it, ParseProperties and Lookup read it).
	// Encode writes it as it is.
	Properties []byte
}

// Layout of the fixed part: the offset of each field, for IPv4 hosts.
// With FlagBornHostV6 everything from StoreTimestamp on moves 12 bytes
// later, with FlagStoreHostV6 everything from ReconsumeTimes on.
const (
	offTotalSize      = 0
	offMagic          = 4
	offBodyCRC        = 8
	offQueueID        = 12
	offFlag           = 16
	offQueueOffset    = 20
	offPhysicalOffset = 28
	offSysFlag        = 36
	offBornTimestamp  = 40
	offBornHost       = 48

	// after the born host: store timestamp (8), store host, reconsume
	// times (4), prepared transaction offset (8), body length (4).
	hostV4Size = 4 + 4
	hostV6Size = 16 + 4
	// fixedV4 is the size up to and including the body length field with
	// two IPv4 hosts.
	fixedV4 = offBornHost + hostV4Size + 8 + hostV4Size + 4 + 8 + 4
)

// MinSize is the size of the smallest message: v1, IPv4 hosts, empty body,
// topic and properties.
const MinSize = fixedV4 + 1 + 2

func hostSize(a netip.AddrPort) int {
	if a.Addr().Is4() {
		return hostV4Size
	}
	return hostV6Size
}

// version returns the version Encode writes for m.
func (m *Message) version() Version {
	if m.Version != VersionAuto {
		return m.Version
	}
	if len(m.Topic) > MaxTopicV1 {
		return V2
	}
	return V1
}

// Size returns the number of bytes Encode writes for m (RocketMQ's
// calMsgLength), assuming Encode accepts it.
func (m *Message) Size() int {
	return fixedV4 - 2*hostV4Size + hostSize(m.BornHost) + hostSize(m.StoreHost) +
		len(m.Body) + m.version().topicLenSize() + len(m.Topic) + 2 + len(m.Properties)
}

// BodyCRC returns the checksum RocketMQ stores for body (UtilAll.crc32):
// CRC-32 with the IEEE polynomial (java.util.zip.CRC32), its top bit
// cleared so that it is never negative as a Java int.
func BodyCRC(body []byte) uint32 { return crc32.ChecksumIEEE(body) & 0x7FFFFFFF }

// Encode appends m in the CommitLog layout to dst and returns the extended
// slice. It computes the body CRC and the host bits of the system flag and
// sets them, and the version it wrote, in m. maxBody is the largest body
// accepted (the broker's maxMessageSize, DefaultMaxBody by default). On
// error dst is returned unchanged.
func Encode(dst []byte, m *Message, maxBody int) ([]byte, error) {
	if err := m.check(maxBody); err != nil {
		return dst, err
	}
	m.Version = m.version()
	m.BodyCRC = BodyCRC(m.Body)
	m.SysFlag &^= FlagBornHostV6 | FlagStoreHostV6
	if !m.BornHost.Addr().Is4() {
		m.SysFlag |= FlagBornHostV6
	}
	if !m.StoreHost.Addr().Is4() {
		m.SysFlag |= FlagStoreHostV6
	}
	n := len(dst)
	dst = append(dst, make([]byte, m.Size())...)
	put(dst[n:], m)
	return dst, nil
}

// check returns why Encode refuses m, or nil.
func (m *Message) check(maxBody int) error {
	if err := checkHost(m.BornHost, "born"); err != nil {
		return err
	}
	if err := checkHost(m.StoreHost, "store"); err != nil {
		return err
	}
	switch v := m.version(); {
	case v != V1 && v != V2:
		panic(fmt.Sprintf("commitlog: Encode of a message with version %d", v))
	case v == V1 && len(m.Topic) > MaxTopicV1:
		return fmt.Errorf("%w: %d bytes, v1 holds %d", ErrTopicTooLong, len(m.Topic), MaxTopicV1)
	case len(m.Topic) > MaxTopicV2:
		return fmt.Errorf("%w: %d bytes, v2 holds %d", ErrTopicTooLong, len(m.Topic), MaxTopicV2)
	}
	if len(m.Properties) > MaxProperties {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrPropertiesTooLong, len(m.Properties), MaxProperties)
	}
	if len(m.Body) > maxBody {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrBodyTooLarge, len(m.Body), maxBody)
	}
	if m.Size() > math.MaxInt32 {
		return fmt.Errorf("%w: the message would take %d bytes, a total size holds %d", ErrBodyTooLarge, m.Size(), math.MaxInt32)
	}
	return nil
}

func checkHost(a netip.AddrPort, which string) error {
	if !a.IsValid() || a.Addr().Zone() != "" {
		return fmt.Errorf("%w: %s host %q", ErrHost, which, a)
	}
	return nil
}

// put writes m, already checked, into b, which holds exactly m.Size() bytes.
func put(b []byte, m *Message) {
	be := binary.BigEndian
	be.PutUint32(b[offTotalSize:], uint32(len(b)))
	be.PutUint32(b[offMagic:], m.Version.magic())
	be.PutUint32(b[offBodyCRC:], m.BodyCRC)
	be.PutUint32(b[offQueueID:], uint32(m.QueueID))
	be.PutUint32(b[offFlag:], uint32(m.Flag))
	be.PutUint64(b[offQueueOffset:], uint64(m.QueueOffset))
	be.PutUint64(b[offPhysicalOffset:], uint64(m.PhysicalOffset))
	be.PutUint32(b[offSysFlag:], uint32(m.SysFlag))
	be.PutUint64(b[offBornTimestamp:], uint64(m.BornTimestamp))
	p := offBornHost + putHost(b[offBornHost:], m.BornHost)
	be.PutUint64(b[p:], uint64(m.StoreTimestamp))
	p += 8
	p += putHost(b[p:], m.StoreHost)
	be.PutUint32(b[p:], uint32(m.ReconsumeTimes))
	be.PutUint64(b[p+4:], uint64(m.PreparedTransactionOffset))
	be.PutUint32(b[p+12:], uint32(len(m.Body)))
	p += 16 + copy(b[p+16:], m.Body)
	if m.Version == V2 {
		be.PutUint16(b[p:], uint16(len(m.Topic)))
	} else {
		b[p] = byte(len(m.Topic))
	}
	p += m.Version.topicLenSize()
	p += copy(b[p:], m.Topic)
	be.PutUint16(b[p:], uint16(len(m.Properties)))
	copy(b[p+2:], m.Properties)
}

// putHost writes a's address and port into b and returns the bytes written.
func putHost(b []byte, a netip.AddrPort) int {
	var n int
	if ip := a.Addr(); ip.Is4() {
		a4 := ip.As4()
		n = copy(b, a4[:])
	} else {
		a16 := ip.As16()
		n = copy(b, a16[:])
	}
	binary.BigEndian.PutUint32(b[n:], uint32(a.Port()))
	return n + 4
}
