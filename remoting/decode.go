package remoting

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Decode decodes the frame at the start of b (length word included) and
// returns it with the frame's size, 4 + its length word: a next frame
// starts at b[n:]. The command's Body aliases b; its strings do not.
// Decode allocates nothing by what the frame claims, only by the bytes
// present (b is the limit; a Reader also has a maximum frame size), and
// for a header at most MaxHeaderLength bytes and MaxExtFields entries.
func Decode(b []byte) (cmd *Command, n int, err error) {
	if len(b) < 4 {
		return nil, 0, fmt.Errorf("%w: %d bytes, the length word alone takes 4", ErrShortFrame, len(b))
	}
	size, err := frameLength(binary.BigEndian.Uint32(b), math.MaxInt32+4)
	if err != nil {
		return nil, 0, err
	}
	if len(b)-4 < size {
		return nil, 0, fmt.Errorf("%w: the length word says %d bytes follow it, %d do", ErrShortFrame, size, len(b)-4)
	}
	cmd, err = decodeFrame(b[4 : 4+size])
	if err != nil {
		return nil, 0, err
	}
	return cmd, 4 + size, nil
}

// frameLength checks a frame's length word against max, the limit on the
// whole frame with the length word (as Netty's LengthFieldBasedFrameDecoder
// counts it), and returns the bytes that follow the word.
func frameLength(word uint32, max int64) (int, error) {
	n := int64(int32(word))
	switch {
	case n < 4:
		return 0, fmt.Errorf("%w: %d, under the 4 bytes of the header length word", ErrFrameLength, n)
	case n+4 > max:
		return 0, fmt.Errorf("%w: a %d-byte frame, the maximum is %d", ErrFrameTooLarge, n+4, max)
	}
	return int(n), nil
}

// decodeFrame decodes the bytes after a length word: the serialize type
// and header length, the header, the body (which aliases f).
func decodeFrame(f []byte) (*Command, error) {
	ser, hlen, err := headerLength(f, len(f))
	if err != nil {
		return nil, err
	}
	header, body := f[4:4+hlen], f[4+hlen:]
	var c *Command
	switch ser {
	case SerializeJSON:
		c, err = decodeJSON(header)
	case SerializeRocketMQ:
		c, err = decodeRocketMQ(header)
	default:
		err = fmt.Errorf("%w: %d (0 JSON, 1 ROCKETMQ) in the header length word %08x", ErrSerializeType, ser,
			binary.BigEndian.Uint32(f))
	}
	if err != nil {
		return nil, err
	}
	c.Serialize = ser
	if len(body) > 0 {
		c.Body = body[:len(body):len(body)]
	}
	return c, nil
}

// headerLength reads the serialize type and header length word at the
// start of f, the start of a frame of size bytes after its length word,
// and checks the header length against the frame and MaxHeaderLength.
func headerLength(f []byte, size int) (SerializeType, int, error) {
	word := binary.BigEndian.Uint32(f)
	ser, hlen := SerializeType(word>>24), int(word&maxHeaderLength24)
	if hlen > size-4 {
		return 0, 0, fmt.Errorf("%w: a %d-byte header in a frame with %d bytes after the header length word",
			ErrHeaderLength, hlen, size-4)
	}
	if hlen > MaxHeaderLength {
		return 0, 0, fmt.Errorf("%w: a %d-byte %v header, the limit is %d bytes (remoting.MaxHeaderLength)",
			ErrHeaderTooLarge, hlen, ser, MaxHeaderLength)
	}
	return ser, hlen, nil
}

// jsonHeader is what the JSON header's fields decode into. Unknown fields
// (serializeTypeCurrentRPC, Java's) are ignored, as by both RocketMQ sides.
type jsonHeader struct {
	Code      int32           `json:"code"`
	Language  json.RawMessage `json:"language"`
	Version   int16           `json:"version"`
	Opaque    int32           `json:"opaque"`
	Flag      int32           `json:"flag"`
	Remark    string          `json:"remark"`
	ExtFields jsonExtFields   `json:"extFields"`
}

// jsonExtFields decodes the extFields object for encoding/json, counting
// its members before it allocates for them. encoding/json merges an
// object that comes again (a repeated or differently cased extFields key)
// into the same map and takes null as no map; so does this, and the count
// is of every member written.
type jsonExtFields struct {
	m map[string]*string
	n int // the members of every extFields object so far
}

// UnmarshalJSON decodes raw, one JSON value (encoding/json has checked
// the whole header's syntax before it calls this).
func (e *jsonExtFields) UnmarshalJSON(raw []byte) error {
	if string(raw) == "null" {
		e.m = nil
		return nil
	}
	e.n += jsonMembers(raw, MaxExtFields-e.n+1)
	if e.n > MaxExtFields {
		return fmt.Errorf("%w: more than %d entries in the JSON header's extFields (remoting.MaxExtFields)",
			ErrTooManyExtFields, MaxExtFields)
	}
	return json.Unmarshal(raw, &e.m)
}

// jsonMembers counts the members of the JSON object raw, up to max: the
// commas outside strings at its first level, and one. It counts no
// further than max, and 0 for anything but an object.
func jsonMembers(raw []byte, max int) int {
	if len(raw) < 2 || raw[0] != '{' || len(bytes.TrimLeft(raw[1:], " \t\r\n")) == 1 { // {} or { }
		return 0
	}
	n, depth, inString := 1, 0, false
	for i := 0; i < len(raw) && n < max; i++ {
		switch ch := raw[i]; {
		case inString && ch == '\\':
			i++
		case ch == '"':
			inString = !inString
		case inString:
		case ch == '{' || ch == '[':
			depth++
		case ch == '}' || ch == ']':
			depth--
		case ch == ',' && depth == 1:
			n++
		}
	}
	return n
}

func decodeJSON(h []byte) (*Command, error) {
	// json.Unmarshal takes a bare null as "no change"; a header is an object.
	if t := bytes.TrimLeft(h, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("%w: not an object: %.40q", ErrBadJSON, h)
	}
	if c, ok := parseJSONHeader(h); ok {
		return c, nil
	}
	return decodeJSONStd(h)
}

// decodeJSONStd decodes a JSON header with encoding/json: whatever the
// fast path does not take.
func decodeJSONStd(h []byte) (*Command, error) {
	var j jsonHeader
	if err := json.Unmarshal(h, &j); errors.Is(err, ErrTooManyExtFields) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadJSON, err)
	}
	lang, err := jsonLanguage(j.Language)
	if err != nil {
		return nil, err
	}
	c := &Command{Code: j.Code, Language: lang, Version: j.Version, Opaque: j.Opaque,
		Flag: j.Flag, Remark: j.Remark}
	for k, v := range j.ExtFields.m {
		if v == nil { // fastjson leaves null values out; so do we
			continue
		}
		if c.ExtFields == nil {
			c.ExtFields = make(map[string]string, len(j.ExtFields.m))
		}
		c.ExtFields[k] = *v
	}
	return c, nil
}

// jsonLanguage decodes the language field: the Java enum's name, or a
// number (fastjson takes an enum's ordinal, which is its code for every
// LanguageCode). Absent or null is JAVA, the Java side's default.
func jsonLanguage(raw json.RawMessage) (LanguageCode, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return LanguageJava, nil
	}
	if raw[0] == '"' {
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return 0, fmt.Errorf("%w: language %s: %w", ErrBadJSON, raw, err)
		}
		if l, ok := languageByName(name); ok {
			return l, nil
		}
		return 0, fmt.Errorf("%w: unknown language %.40q", ErrBadJSON, name)
	}
	n, err := strconv.ParseUint(string(raw), 10, 8)
	if err != nil {
		return 0, fmt.Errorf("%w: language %.40s is neither a name nor a code 0..255", ErrBadJSON, raw)
	}
	return LanguageCode(n), nil
}

// decodeRocketMQ decodes a ROCKETMQ header, which its fields must fill
// exactly.
func decodeRocketMQ(h []byte) (*Command, error) {
	r := fieldReader{b: h, size: len(h), what: "header"}
	c := &Command{}
	c.Code = int32(int16(r.u16("code")))
	c.Language = LanguageCode(r.u8("language"))
	c.Version = int16(r.u16("version"))
	c.Opaque = int32(r.u32("opaque"))
	c.Flag = int32(r.u32("flag"))
	c.Remark = string(r.take(r.length32("remark length"), "remark"))
	extAt := r.off()
	ext := r.take(r.length32("extFields length"), "extFields")
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) > 0 {
		return nil, fmt.Errorf("%w: %d bytes after the extFields, which end at offset %d of a %d-byte header",
			ErrBadHeader, len(r.b), r.off(), len(h))
	}
	var err error
	c.ExtFields, err = decodeExtFields(ext, extAt+4)
	return c, err
}

// decodeExtFields decodes the extFields entries in b, which starts at
// offset base of the header. It walks them twice: once to check them and
// count them (at most MaxExtFields), allocating nothing, then into a map
// of that size. A repeated key keeps its last value, as Java's HashMap
// does.
func decodeExtFields(b []byte, base int) (map[string]string, error) {
	n, err := extEntries(b, base, nil)
	if err != nil || n == 0 {
		return nil, err
	}
	m := make(map[string]string, n)
	extEntries(b, base, func(k, v []byte) { m[string(k)] = string(v) })
	return m, nil
}

// extEntries walks the extFields entries in b, which starts at offset base
// of the header, and returns how many there are; f, if not nil, gets each
// key and value (aliasing b). It stops at the first bad entry, and at an
// entry past MaxExtFields before reading it.
func extEntries(b []byte, base int, f func(k, v []byte)) (int, error) {
	r := fieldReader{b: b, size: len(b), base: base, what: "extFields"}
	for r.entry = 0; len(r.b) > 0; r.entry++ {
		at := r.off()
		if r.entry == MaxExtFields {
			return 0, fmt.Errorf("%w: entry %d at offset %d of the ROCKETMQ header, the limit is %d entries (remoting.MaxExtFields)",
				ErrTooManyExtFields, r.entry, at, MaxExtFields)
		}
		klen := int16(r.u16("key length"))
		if klen < 0 && r.err == nil {
			r.fail(ErrBadHeader, "key length", int(klen), at)
		}
		k := r.take(int(klen), "key")
		v := r.take(r.length32("value length"), "value")
		if r.err != nil {
			return 0, r.err
		}
		if f != nil {
			f(k, v)
		}
	}
	return r.entry, nil
}

// fieldReader takes a ROCKETMQ header's fields in turn; the first failure
// sticks, and later takes return zero values.
type fieldReader struct {
	b     []byte
	size  int    // the bytes the reader started with
	base  int    // their offset in the header
	what  string // "header" or "extFields": where the fields are
	entry int    // the extFields entry being read
	err   error
}

func (r *fieldReader) off() int { return r.base + r.size - len(r.b) }

func (r *fieldReader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail(ErrTruncated, field, n, r.off())
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// fail records what is wrong with the field at offset at: for
// ErrTruncated, n is the bytes it needs; for ErrBadHeader, the negative
// length it has.
func (r *fieldReader) fail(sentinel error, field string, n, at int) {
	name := field
	if r.what == "extFields" {
		name = "extFields entry " + strconv.Itoa(r.entry) + " " + field
	}
	if sentinel == ErrTruncated {
		r.err = fmt.Errorf("%w: %s needs %d bytes at offset %d, past the end of the %s at %d",
			sentinel, name, n, at, r.what, r.base+r.size)
		return
	}
	r.err = fmt.Errorf("%w: %s at offset %d is %d", sentinel, name, at, n)
}

func (r *fieldReader) u8(field string) uint8 {
	if v := r.take(1, field); v != nil {
		return v[0]
	}
	return 0
}

func (r *fieldReader) u16(field string) uint16 {
	if v := r.take(2, field); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *fieldReader) u32(field string) uint32 {
	if v := r.take(4, field); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

// length32 takes an int32 length, which must not be negative.
func (r *fieldReader) length32(field string) int {
	at := r.off()
	n := int32(r.u32(field))
	if n < 0 && r.err == nil {
		r.fail(ErrBadHeader, field, int(n), at)
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}
