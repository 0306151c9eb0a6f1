package remoting

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
)

// fastHeaders are headers the fast path must take: what both RocketMQ
// sides write, escapes included (a message's properties separate their
// entries with \u0001 and \u0002).
var fastHeaders = []string{
	`{}`,
	`{"code":310,"extFields":{"a":"pg","b":"TopicTest"},"flag":0,"language":"JAVA","opaque":42,` +
		`"serializeTypeCurrentRPC":"JSON","version":479}`,
	`{"code":34,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":{}}`,
	`{"code":310,"extFields":{"i":"UNIQ_KEY\u0001AC11\u0002WAIT\u0001true\u0002","n":"broker-a"},"flag":2,` +
		`"language":"JAVA","opaque":-2147483648,"serializeTypeCurrentRPC":"JSON","version":-32768}`,
	` { "code" : -1 , "remark" : "中文 \"q\" \\ \/ \b\f\n\r\t \u00fc\u20AC 🚀" , "language" : 9 } `,
	`{"code":2147483647,"version":32767,"language":255,"extFields":{"":"","k":"v","k":"w"}}`,
}

func TestJSONFastPathTaken(t *testing.T) {
	for _, h := range fastHeaders {
		fast, ok := parseJSONHeader([]byte(h))
		if !ok {
			t.Errorf("the fast path declined %s", h)
			continue
		}
		std, err := decodeJSONStd([]byte(h))
		if err != nil || !reflect.DeepEqual(fast, std) {
			t.Errorf("%s: fast %+v, encoding/json %+v, %v", h, fast, std, err)
		}
	}
}

// TestJSONFastPathDeclines: what the fast path leaves to encoding/json.
func TestJSONFastPathDeclines(t *testing.T) {
	for _, h := range []string{`null`, `{"code":1.0}`, `{"code":1e2}`, `{"code":2147483648}`,
		`{"version":32768}`, `{"code":01}`, `{"Code":1}`, `{"suspended":false}`, `{"remark":null}`,
		`{"language":null}`, `{"language":-0}`, `{"language":256}`, `{"language":"COBOL"}`,
		`{"extFields":{"a":null}}`, `{"extFields":{},"extFields":{}}`, `{"remark":"\ud83d\ude80"}`,
		"{\"remark\":\"\xff\"}", "{\"remark\":\"a\nb\"}", `{"code":1,}`, `{"code":1} x`, `{"code":1`,
		`{"remark":"\x"}`, `{"remark":"\u12"}`} {
		if c, ok := parseJSONHeader([]byte(h)); ok {
			t.Errorf("the fast path took %s as %+v", h, c)
		}
	}
}

// extHeader is a header as the Java side writes it, with n extFields.
func extHeader(n int) []byte {
	h := []byte(`{"code":310,"extFields":{`)
	for i := range n {
		if i > 0 {
			h = append(h, ',')
		}
		h = strconv.AppendQuote(h, strconv.Itoa(i))
		h = append(h, `:"v"`...)
	}
	return append(h, `},"flag":0,"language":"JAVA","opaque":42,"version":479}`...)
}

// TestJSONFastPathLimit: the fast path takes MaxExtFields entries, as
// encoding/json's path does, and declines one more, which that path
// refuses.
func TestJSONFastPathLimit(t *testing.T) {
	h := extHeader(MaxExtFields)
	fast, ok := parseJSONHeader(h)
	std, err := decodeJSONStd(h)
	if !ok || err != nil || len(fast.ExtFields) != MaxExtFields || !reflect.DeepEqual(fast, std) {
		t.Errorf("MaxExtFields entries: fast path took it: %v, encoding/json: %v", ok, err)
	}
	h = extHeader(MaxExtFields + 1)
	if _, ok := parseJSONHeader(h); ok {
		t.Error("the fast path took MaxExtFields+1 entries")
	}
	if _, err := decodeJSONStd(h); !errors.Is(err, ErrTooManyExtFields) {
		t.Errorf("encoding/json's path, MaxExtFields+1 entries: %v", err)
	}
}

// FuzzJSONFastPath: whatever the fast path takes, encoding/json decodes to
// the same command (the reference). Seeds: testdata/fuzz/FuzzJSONFastPath.
func FuzzJSONFastPath(f *testing.F) {
	for _, h := range fastHeaders {
		f.Add([]byte(h))
	}
	f.Add(extHeader(MaxExtFields))
	f.Add(extHeader(MaxExtFields + 1))
	f.Fuzz(func(t *testing.T, h []byte) {
		fast, ok := parseJSONHeader(h)
		if !ok {
			return
		}
		std, err := decodeJSONStd(h)
		if err != nil {
			t.Fatalf("the fast path took %q, encoding/json: %v", h, err)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("%q: fast\n%+v\nencoding/json\n%+v", h, fast, std)
		}
	})
}

// BenchmarkJSONHeader: the fast path against encoding/json, on a
// SEND_MESSAGE_V2 header as the Java producer writes it.
func BenchmarkJSONHeader(b *testing.B) {
	h := []byte(`{"code":310,"extFields":{"a":"please_rename_unique_group_name","b":"TopicTest","c":"TBW102",` +
		`"d":"4","e":"3","f":"0","g":"1700000000000","h":"0","i":"UNIQ_KEY\u0001AC110001000018B4AAC2\u0002` +
		`WAIT\u0001true\u0002TAGS\u0001TagA\u0002","j":"0","k":"false","l":"16","m":"false","n":"broker-a"},` +
		`"flag":0,"language":"JAVA","opaque":123456,"serializeTypeCurrentRPC":"JSON","version":479}`)
	for _, p := range []struct {
		name   string
		decode func([]byte) (*Command, error)
	}{
		{"path=fast", func(h []byte) (*Command, error) { c, _ := parseJSONHeader(h); return c, nil }},
		{"path=encoding-json", decodeJSONStd},
	} {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(h)))
			b.ReportAllocs()
			for b.Loop() {
				if c, err := p.decode(h); err != nil || c == nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestJSONMembers: the members of an object are its first level's commas
// outside strings, and one; counted up to max.
func TestJSONMembers(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		max  int
		want int
	}{
		{`{}`, 10, 0},
		{`{ }`, 10, 0},
		{`"a,b"`, 10, 0},
		{`[1,2]`, 10, 0},
		{`{"a":"b"}`, 10, 1},
		{`{"a":"b","c":"d"}`, 10, 2},
		{`{"a,b":"c\",d\\","e":"f"}`, 10, 2},
		{`{"a":{"x":1,"y":[1,2,{"z":3}]},"b":[1,2]}`, 10, 2},
		{`{"a":1,"b":2,"c":3,"d":4}`, 2, 2},
	} {
		if got := jsonMembers([]byte(tc.raw), tc.max); got != tc.want {
			t.Errorf("jsonMembers(%s, %d) = %d, want %d", tc.raw, tc.max, got, tc.want)
		}
	}
}
