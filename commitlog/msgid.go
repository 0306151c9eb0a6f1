package commitlog

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
)

// MessageID returns the id RocketMQ gives a stored message (MessageDecoder's
// createMessageId; the Go client's OffsetMsgId): the store host's address
// (4 or 16 bytes), its port (4 bytes) and the physical offset (8 bytes),
// big endian, as upper-case hex: 32 characters for an IPv4 store host, 56
// for IPv6. The client's MsgId is the UNIQ_KEY property when there is one,
// this id otherwise.
func MessageID(storeHost netip.AddrPort, physicalOffset int64) string {
	return string(AppendMessageID(nil, storeHost, physicalOffset))
}

// AppendMessageID appends MessageID(storeHost, physicalOffset) to dst.
func AppendMessageID(dst []byte, storeHost netip.AddrPort, physicalOffset int64) []byte {
	var raw [hostV6Size + 8]byte
	n := putHost(raw[:], storeHost)
	binary.BigEndian.PutUint64(raw[n:], uint64(physicalOffset))
	const digits = "0123456789ABCDEF"
	for _, c := range raw[:n+8] {
		dst = append(dst, digits[c>>4], digits[c&0x0F])
	}
	return dst
}

// ParseMessageID is the inverse of MessageID (RocketMQ's decodeMessageId):
// the store host and physical offset an id names. It accepts either case.
func ParseMessageID(id string) (netip.AddrPort, int64, error) {
	if len(id) != 2*(hostV4Size+8) && len(id) != 2*(hostV6Size+8) {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: %q has %d characters, want 32 or 56", ErrMessageID, id, len(id))
	}
	raw, err := hex.DecodeString(id)
	if err != nil {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: %q: %v", ErrMessageID, id, err)
	}
	ipLen := len(raw) - 12
	if port := binary.BigEndian.Uint32(raw[ipLen:]); port > 0xFFFF {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: %q: port %d", ErrMessageID, id, port)
	}
	return host(raw, 0, ipLen == 16), int64(binary.BigEndian.Uint64(raw[ipLen+4:])), nil
}
