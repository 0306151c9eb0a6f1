package remoting_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/remoting"
)

// cat concatenates byte slices and strings into one slice.
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case []byte:
			b = append(b, p...)
		case string:
			b = append(b, p...)
		default:
			panic("cat: a " + reflect.TypeOf(p).String())
		}
	}
	return b
}

func u16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func u32(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

// frame builds a frame by its layout: the length word, the serialize
// type and header length, the header, the body.
func frame(ser byte, header, body []byte) []byte {
	return cat(u32(4+len(header)+len(body)), []byte{ser}, u32(len(header))[1:], header, body)
}

// rmqHeader is a ROCKETMQ header's fixed fields (code 10, language GO,
// version 1, opaque 2, flag 0) followed by rest: the remark and the
// extFields, as the test writes them.
func rmqHeader(rest ...any) []byte {
	return cat(append([]any{u16(10), []byte{9}, u16(1), u32(2), u32(0)}, rest...)...)
}

// TestDecodeErrors: each way a frame can be bad gives its named error, with
// the package prefix.
func TestDecodeErrors(t *testing.T) {
	okHeader := rmqHeader(u32(0), u32(0))
	for _, tc := range []struct {
		name  string
		frame []byte
		want  error
	}{
		{"no length word", []byte{0, 0, 0}, remoting.ErrShortFrame},
		{"lying total length", cat(u32(1000), u32(0), "{}"), remoting.ErrShortFrame},
		{"length under 4", cat(u32(3), "abc"), remoting.ErrFrameLength},
		{"negative length", cat(u32(-8), u32(0), "{}"), remoting.ErrFrameLength},
		{"header length beyond the frame", cat(u32(6), u32(3), "{}"), remoting.ErrHeaderLength},
		{"header length beyond the frame, more follows", cat(u32(6), u32(3), "{}", "}"), remoting.ErrHeaderLength},
		{"serialize type 2", frame(2, okHeader, nil), remoting.ErrSerializeType},
		{"serialize type 0xff", frame(0xff, []byte("{}"), nil), remoting.ErrSerializeType},

		{"JSON: empty header", frame(0, nil, []byte("body")), remoting.ErrBadJSON},
		{"JSON: null", frame(0, []byte("null"), nil), remoting.ErrBadJSON},
		{"JSON: an array", frame(0, []byte("[1]"), nil), remoting.ErrBadJSON},
		{"JSON: cut short", frame(0, []byte(`{"code":10,`), nil), remoting.ErrBadJSON},
		{"JSON: trailing bytes", frame(0, []byte(`{"code":10} x`), nil), remoting.ErrBadJSON},
		{"JSON: code beyond int32", frame(0, []byte(`{"code":3000000000}`), nil), remoting.ErrBadJSON},
		{"JSON: version beyond int16", frame(0, []byte(`{"version":40000}`), nil), remoting.ErrBadJSON},
		{"JSON: opaque as text", frame(0, []byte(`{"opaque":"1"}`), nil), remoting.ErrBadJSON},
		{"JSON: unknown language", frame(0, []byte(`{"language":"COBOL"}`), nil), remoting.ErrBadJSON},
		{"JSON: language 256", frame(0, []byte(`{"language":256}`), nil), remoting.ErrBadJSON},
		{"JSON: language true", frame(0, []byte(`{"language":true}`), nil), remoting.ErrBadJSON},
		{"JSON: extFields value a number", frame(0, []byte(`{"extFields":{"a":1}}`), nil), remoting.ErrBadJSON},

		{"ROCKETMQ: empty header", frame(1, nil, nil), remoting.ErrTruncated},
		{"ROCKETMQ: cut in the flag", frame(1, rmqHeader()[:15], nil), remoting.ErrTruncated},
		{"ROCKETMQ: no extFields length", frame(1, rmqHeader(u32(0)), nil), remoting.ErrTruncated},
		{"ROCKETMQ: remark past the header", frame(1, rmqHeader(u32(10), "ok", u32(0)), nil), remoting.ErrTruncated},
		{"ROCKETMQ: header cut inside the remark, body follows", frame(1, rmqHeader(u32(4), "ok"), []byte("body")),
			remoting.ErrTruncated},
		{"ROCKETMQ: extFields past the header", frame(1, rmqHeader(u32(0), u32(20), u16(1), "k", u32(1), "v"), nil),
			remoting.ErrTruncated},
		{"ROCKETMQ: key past the extFields", frame(1, rmqHeader(u32(0), u32(4), u16(9), "ke"), nil), remoting.ErrTruncated},
		{"ROCKETMQ: value length cut", frame(1, rmqHeader(u32(0), u32(5), u16(1), "k", u16(0)), nil), remoting.ErrTruncated},
		{"ROCKETMQ: value past the extFields", frame(1, rmqHeader(u32(0), u32(8), u16(1), "k", u32(3), "v"), nil),
			remoting.ErrTruncated},
		{"ROCKETMQ: negative remark length", frame(1, rmqHeader(u32(-1), u32(0)), nil), remoting.ErrBadHeader},
		{"ROCKETMQ: negative extFields length", frame(1, rmqHeader(u32(0), u32(-4)), nil), remoting.ErrBadHeader},
		{"ROCKETMQ: negative key length", frame(1, rmqHeader(u32(0), u32(7), u16(-1), "k", u32(0)), nil),
			remoting.ErrBadHeader},
		{"ROCKETMQ: negative value length", frame(1, rmqHeader(u32(0), u32(7), u16(1), "k", u32(-2)), nil),
			remoting.ErrBadHeader},
		{"ROCKETMQ: bytes after the extFields", frame(1, rmqHeader(u32(0), u32(0), "xy"), nil), remoting.ErrBadHeader},
	} {
		cmd, n, err := remoting.Decode(tc.frame)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			continue
		}
		if cmd != nil || n != 0 || !strings.HasPrefix(err.Error(), "remoting: ") {
			t.Errorf("%s: %v, %d, %q", tc.name, cmd, n, err)
		}
	}
}

// TestDecodeErrorsSay: the errors say what is wrong and where.
func TestDecodeErrorsSay(t *testing.T) {
	for _, tc := range []struct {
		frame []byte
		want  string
	}{
		{cat(u32(1000), u32(0), "{}"), "remoting: short frame: the length word says 1000 bytes follow it, 6 do"},
		{cat(u32(6), u32(3), "{}"), "remoting: header length beyond the frame: a 3-byte header in a frame with 2 bytes after the header length word"},
		{frame(0, []byte(`{"language":"COBOL"}`), nil), `remoting: bad JSON header: unknown language "COBOL"`},
		{frame(1, rmqHeader(u32(10), "ok", u32(0)), nil),
			"remoting: truncated header field: remark needs 10 bytes at offset 17, past the end of the header at 23"},
		{frame(1, rmqHeader(u32(0), u32(8), u16(1), "k", u32(3), "v"), nil),
			"remoting: truncated header field: extFields entry 0 value needs 3 bytes at offset 28, past the end of the extFields at 29"},
		{frame(1, rmqHeader(u32(0), u32(7), u16(-1), "k", u32(0)), nil),
			"remoting: bad ROCKETMQ header: extFields entry 0 key length at offset 21 is -1"},
		{frame(1, rmqHeader(u32(0), u32(0), "xy"), nil),
			"remoting: bad ROCKETMQ header: 2 bytes after the extFields, which end at offset 21 of a 23-byte header"},
	} {
		if _, _, err := remoting.Decode(tc.frame); err == nil || err.Error() != tc.want {
			t.Errorf("error\n%v\nwant\n%s", err, tc.want)
		}
	}
}

// TestDecodeLenient: what RocketMQ's sides accept, Decode accepts too.
func TestDecodeLenient(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header string
		want   remoting.Command
	}{
		{"empty object: Java's defaults", `{}`, remoting.Command{}},
		{"unknown fields ignored", `{"code":1,"serializeTypeCurrentRPC":"JSON","suspended":true,"x":{"y":[1]}}`,
			remoting.Command{Code: 1}},
		{"language as a number", `{"language":9}`, remoting.Command{Language: remoting.LanguageGo}},
		{"language null", `{"language":null}`, remoting.Command{}},
		{"null remark and extFields", `{"remark":null,"extFields":null}`, remoting.Command{}},
		{"null extFields values dropped", `{"extFields":{"a":null,"b":"2"}}`,
			remoting.Command{ExtFields: map[string]string{"b": "2"}}},
		{"empty extFields is nil", `{"extFields":{}}`, remoting.Command{}},
		{"code beyond int16", `{"code":200050}`, remoting.Command{Code: 200050}},
		{"whitespace", " \n{ \"code\" : 5 }\n", remoting.Command{Code: 5}},
		{"escapes", `{"remark":"a\u0041\n\"","extFields":{"\u00fc":"\/"}}`,
			remoting.Command{Remark: "aA\n\"", ExtFields: map[string]string{"ü": "/"}}},
	} {
		cmd, _, err := remoting.Decode(frame(0, []byte(tc.header), nil))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(*cmd, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, *cmd, tc.want)
		}
	}
	// ROCKETMQ: a repeated key keeps its last value, as Java's HashMap;
	// empty keys, values and remark are empty strings.
	h := rmqHeader(u32(0), u32(22), u16(1), "k", u32(1), "a", u16(1), "k", u32(1), "b", u16(0), u32(0))
	cmd, _, err := remoting.Decode(frame(1, h, nil))
	if err != nil || !reflect.DeepEqual(cmd.ExtFields, map[string]string{"k": "b", "": ""}) || cmd.Remark != "" {
		t.Errorf("%+v, %v", cmd, err)
	}
	// The code is a signed 16-bit field.
	h = cat(u16(0xfffe), rmqHeader(u32(0), u32(0))[2:])
	if cmd, _, err := remoting.Decode(frame(1, h, nil)); err != nil || cmd.Code != -2 {
		t.Errorf("code 0xfffe: %+v, %v", cmd, err)
	}
}

// roundTripCommands are commands every serialization must carry.
var roundTripCommands = []remoting.Command{
	{},
	{Code: int32(remoting.SendMessageV2), Language: remoting.LanguageJava, Version: 479, Opaque: 1,
		ExtFields: map[string]string{"a": "group", "b": "TopicTest", "i": "KEYS\x01k1\x02TAGS\x01t"},
		Body:      []byte("message body")},
	{Code: int32(remoting.PullNotFound), Language: remoting.LanguageGo, Version: 317, Opaque: math.MinInt32,
		Flag: remoting.FlagResponse, Remark: "no new message"},
	{Code: -1, Version: -1, Opaque: -1, Flag: -1, Language: 255, Remark: "中文 ü 🚀"},
	{Code: math.MaxInt16, Version: math.MaxInt16, Opaque: math.MaxInt32, Flag: remoting.FlagOneway,
		ExtFields: map[string]string{"": "", "empty": "", "k": strings.Repeat("v", 70000)},
		Body:      bytes.Repeat([]byte{0, 1, 2, 0xff}, 300000)},
	{Code: math.MinInt16, Language: remoting.LanguageNodeJS, ExtFields: map[string]string{"x": "y"}},
}

// TestRoundTrip: a command encodes and decodes to itself in both
// serializations, alone and as one frame of a run of frames.
func TestRoundTrip(t *testing.T) {
	for _, ser := range []remoting.SerializeType{remoting.SerializeJSON, remoting.SerializeRocketMQ} {
		var run []byte
		var want []remoting.Command
		for i, c := range roundTripCommands {
			c.Serialize = ser
			f, err := c.AppendFrame(nil)
			if err != nil {
				t.Fatalf("%v %d: %v", ser, i, err)
			}
			got, n, err := remoting.Decode(f)
			if err != nil || n != len(f) {
				t.Fatalf("%v %d: decoded %d of %d bytes: %v", ser, i, n, len(f), err)
			}
			if !reflect.DeepEqual(*got, c) {
				t.Errorf("%v %d: decoded\n%+.200v\nwant\n%+.200v", ser, i, *got, c)
			}
			run = append(run, f...)
			want = append(want, c)
		}
		for i := 0; len(run) > 0; i++ {
			got, n, err := remoting.Decode(run)
			if err != nil || !reflect.DeepEqual(*got, want[i]) {
				t.Fatalf("%v: frame %d of the run: %v", ser, i, err)
			}
			run = run[n:]
		}
	}
}

// TestDecodeAliasesBody: Body aliases the frame, with its capacity capped
// so an append to it cannot overwrite a next frame.
func TestDecodeAliasesBody(t *testing.T) {
	f := append(frame(0, []byte("{}"), []byte("body")), frame(0, []byte("{}"), nil)...)
	cmd, _, err := remoting.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if &cmd.Body[0] != &f[10] || cap(cmd.Body) != 4 {
		t.Errorf("body %q does not alias the frame, or has capacity %d", cmd.Body, cap(cmd.Body))
	}
}

// TestDecodeLyingLengthAllocatesNothing: a slice whose length word claims
// 2 GiB costs no more than the error.
func TestDecodeLyingLengthAllocatesNothing(t *testing.T) {
	f := cat(u32(math.MaxInt32), u32(2), "{}")
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := remoting.Decode(f); !errors.Is(err, remoting.ErrShortFrame) {
			t.Fatal(err)
		}
	})
	if allocs > 4 {
		t.Errorf("%v allocations to refuse a lying length", allocs)
	}
}
