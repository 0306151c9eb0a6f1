package remoting_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/remoting"
)

// TestEncodeErrors: what a serialization cannot hold is an error naming
// it, and dst comes back as it was.
func TestEncodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  remoting.Command
		want error
	}{
		{"POP_MESSAGE in ROCKETMQ", remoting.Command{Code: int32(remoting.PopMessage),
			Serialize: remoting.SerializeRocketMQ}, remoting.ErrCodeRange},
		{"code under int16 in ROCKETMQ", remoting.Command{Code: -40000,
			Serialize: remoting.SerializeRocketMQ}, remoting.ErrCodeRange},
		{"key of 32768 bytes in ROCKETMQ", remoting.Command{ExtFields: map[string]string{
			strings.Repeat("k", 32768): "v"}, Serialize: remoting.SerializeRocketMQ}, remoting.ErrTooLong},
		{"header over 2^24-1 bytes", remoting.Command{Remark: strings.Repeat("r", 1<<24)}, remoting.ErrTooLong},
		{"serialize type 2", remoting.Command{Serialize: 2}, remoting.ErrSerializeType},
	} {
		dst := []byte("dst")
		got, err := tc.cmd.AppendFrame(dst)
		if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "remoting: ") {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		if string(got) != "dst" {
			t.Errorf("%s: dst became %.40q", tc.name, got)
		}
	}
	// In JSON the same code and key are fine.
	ok := remoting.Command{Code: int32(remoting.PopMessage), ExtFields: map[string]string{strings.Repeat("k", 32768): "v"}}
	if _, err := ok.AppendFrame(nil); err != nil {
		t.Errorf("JSON: %v", err)
	}
}

// TestEncodeJSONStrings: remark, keys and values are JSON strings that
// encoding/json reads back as they were (invalid UTF-8 as U+FFFD).
func TestEncodeJSONStrings(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnl\ncr\r\x00\x01\x1f\x7f",
		"中文 ünïcode 🚀", "bad \xff utf-8 \xc3", "</script>&", "\u2028\u2029"} {
		cmd := remoting.Command{Remark: s + "x", ExtFields: map[string]string{s: s}}
		f, err := cmd.AppendFrame(nil)
		if err != nil {
			t.Fatal(err)
		}
		header := f[8:]
		var got struct {
			Remark    string
			ExtFields map[string]string
		}
		if err := json.Unmarshal(header, &got); err != nil {
			t.Fatalf("%q: %v in %s", s, err, header)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if got.Remark != want+"x" || len(got.ExtFields) != 1 || got.ExtFields[want] != want {
			t.Errorf("%q came back as %+v from %s", s, got, header)
		}
		if bytes.ContainsAny(header, "\x00\n\r\t") {
			t.Errorf("%q: a control byte unescaped in %q", s, header)
		}
	}
}

// TestEncodeJSONLanguage: a language without a name is written as its
// number, which fastjson reads as the enum's ordinal.
func TestEncodeJSONLanguage(t *testing.T) {
	for lang, want := range map[remoting.LanguageCode]string{remoting.LanguageGo: `"language":"GO"`,
		remoting.LanguageNodeJS: `"language":"NODE_JS"`, 200: `"language":200`} {
		f, err := (&remoting.Command{Language: lang}).AppendFrame(nil)
		if err != nil || !bytes.Contains(f, []byte(want)) {
			t.Errorf("language %d: %s, %v; want %s", uint8(lang), f, err, want)
		}
	}
}
