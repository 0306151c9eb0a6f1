package remoting

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// maxHeaderLength24 is the largest header the 24-bit header length holds.
const maxHeaderLength24 = 1<<24 - 1

// AppendFrame appends c to dst as one frame, in c.Serialize, and returns
// the extended slice. On error dst is returned unchanged (its length).
// extFields are written in key order, so equal commands encode equally.
func (c *Command) AppendFrame(dst []byte) ([]byte, error) {
	b, err := c.AppendHeader(dst)
	if err != nil {
		return dst, err
	}
	return append(b, c.Body...), nil
}

// AppendHeader appends c's frame without its body: the length word (which
// counts the body), the serialize type and header length, and the header.
// The frame is that followed by c.Body, so a large body can be written
// after it without being copied (net.Buffers). On error dst is returned
// unchanged (its length).
func (c *Command) AppendHeader(dst []byte) ([]byte, error) {
	start := len(dst)
	b := append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	var err error
	switch c.Serialize {
	case SerializeJSON:
		b = c.appendJSON(b)
	case SerializeRocketMQ:
		b, err = c.appendRocketMQ(b)
	default:
		err = fmt.Errorf("%w: %d (0 JSON, 1 ROCKETMQ)", ErrSerializeType, c.Serialize)
	}
	if err != nil {
		return dst, err
	}
	hlen := len(b) - start - 8
	if hlen > maxHeaderLength24 {
		return dst, fmt.Errorf("%w: a %d-byte %v header, the limit is %d", ErrTooLong, hlen, c.Serialize, maxHeaderLength24)
	}
	total := 4 + int64(hlen) + int64(len(c.Body))
	if total > math.MaxInt32 {
		return dst, fmt.Errorf("%w: a %d-byte frame, the length word holds %d", ErrTooLong, total, math.MaxInt32)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(total))
	binary.BigEndian.PutUint32(b[start+4:], uint32(c.Serialize)<<24|uint32(hlen))
	return b, nil
}

// appendJSON appends the JSON header as fastjson writes it: fields in
// alphabetical order, remark and extFields only when not empty.
func (c *Command) appendJSON(b []byte) []byte {
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(c.Code), 10)
	if len(c.ExtFields) > 0 {
		b = append(b, `,"extFields":{`...)
		for i, k := range slices.Sorted(maps.Keys(c.ExtFields)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, c.ExtFields[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"flag":`...)
	b = strconv.AppendInt(b, int64(c.Flag), 10)
	b = append(b, `,"language":`...)
	if name, ok := c.Language.name(); ok {
		b = appendJSONString(b, name)
	} else {
		b = strconv.AppendUint(b, uint64(c.Language), 10)
	}
	b = append(b, `,"opaque":`...)
	b = strconv.AppendInt(b, int64(c.Opaque), 10)
	if c.Remark != "" {
		b = append(b, `,"remark":`...)
		b = appendJSONString(b, c.Remark)
	}
	b = append(b, `,"serializeTypeCurrentRPC":"JSON","version":`...)
	b = strconv.AppendInt(b, int64(c.Version), 10)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string. Bytes that are not UTF-8
// become U+FFFD, as encoding/json writes them.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		ch := s[i]
		switch {
		case ch == '"' || ch == '\\':
			b = append(b, '\\', ch)
		case ch == '\n':
			b = append(b, '\\', 'n')
		case ch == '\r':
			b = append(b, '\\', 'r')
		case ch == '\t':
			b = append(b, '\\', 't')
		case ch < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[ch>>4], hex[ch&0xf])
		case ch < utf8.RuneSelf:
			b = append(b, ch)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return append(b, '"')
}

// appendRocketMQ appends the ROCKETMQ header (RocketMQSerializable).
func (c *Command) appendRocketMQ(b []byte) ([]byte, error) {
	if c.Code < math.MinInt16 || c.Code > math.MaxInt16 {
		return nil, fmt.Errorf("%w: code %d does not fit its 16 bits", ErrCodeRange, c.Code)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(int16(c.Code)))
	b = append(b, byte(c.Language))
	b = binary.BigEndian.AppendUint16(b, uint16(c.Version))
	b = binary.BigEndian.AppendUint32(b, uint32(c.Opaque))
	b = binary.BigEndian.AppendUint32(b, uint32(c.Flag))
	if len(c.Remark) > maxHeaderLength24 {
		return nil, fmt.Errorf("%w: a %d-byte remark, a header holds %d", ErrTooLong, len(c.Remark), maxHeaderLength24)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Remark)))
	b = append(b, c.Remark...)
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	for _, k := range slices.Sorted(maps.Keys(c.ExtFields)) {
		v := c.ExtFields[k]
		if len(k) > math.MaxInt16 || len(v) > maxHeaderLength24 {
			return nil, fmt.Errorf("%w: extFields key %.40q (%d bytes, at most %d) with a %d-byte value",
				ErrTooLong, k, len(k), math.MaxInt16, len(v))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
		if len(b)-at > maxHeaderLength24 {
			return nil, fmt.Errorf("%w: extFields of over %d bytes", ErrTooLong, maxHeaderLength24)
		}
	}
	binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	return b, nil
}
