package remoting_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/rmqlog/rmqlog/remoting"
)

// The golden frames are written out byte by byte from the layout in
// doc.go (RemotingCommand.encode, RocketMQSerializable), not produced by
// this package's encoder.

// goldenJSONHeader is a SEND_MESSAGE_V2 request's header as a Java client
// writes it: fastjson, fields in alphabetical order, no remark (null).
const goldenJSONHeader = `{"code":310,"extFields":{"a":"pg","b":"TopicTest"},"flag":0,"language":"JAVA",` +
	`"opaque":42,"serializeTypeCurrentRPC":"JSON","version":479}`

func goldenJSONFrame(t testing.TB) []byte {
	if len(goldenJSONHeader) != 137 {
		t.Fatalf("the golden JSON header has %d bytes, its frame says 137", len(goldenJSONHeader))
	}
	f := []byte{
		0x00, 0x00, 0x00, 0x92, // length: 146 = 4 (header length word) + 137 (header) + 5 (body)
		0x00,             // serialize type: JSON
		0x00, 0x00, 0x89, // header length: 137
	}
	f = append(f, goldenJSONHeader...)
	return append(f, 'h', 'e', 'l', 'l', 'o') // body
}

var goldenJSONCommand = remoting.Command{Code: 310, Language: remoting.LanguageJava, Version: 479,
	Opaque: 42, ExtFields: map[string]string{"a": "pg", "b": "TopicTest"}, Body: []byte("hello"),
	Serialize: remoting.SerializeJSON}

// goldenRocketMQFrame is the SUCCESS response to that request in the
// ROCKETMQ serialization, with a remark and one extFields entry.
var goldenRocketMQFrame = []byte{
	0x00, 0x00, 0x00, 0x29, // length: 41 = 4 + 37 (header), no body
	0x01,             // serialize type: ROCKETMQ
	0x00, 0x00, 0x25, // header length: 37
	0x00, 0x00, // code: 0 (SUCCESS)
	0x00,       // language: 0 (JAVA)
	0x01, 0xdf, // version: 479 (V5_3_3)
	0x00, 0x00, 0x00, 0x2a, // opaque: 42
	0x00, 0x00, 0x00, 0x01, // flag: response
	0x00, 0x00, 0x00, 0x02, 'o', 'k', // remark: "ok"
	0x00, 0x00, 0x00, 0x0e, // extFields: 14 bytes
	0x00, 0x07, 'q', 'u', 'e', 'u', 'e', 'I', 'd', // key: "queueId"
	0x00, 0x00, 0x00, 0x01, '3', // value: "3"
}

var goldenRocketMQCommand = remoting.Command{Code: 0, Language: remoting.LanguageJava, Version: 479,
	Opaque: 42, Flag: remoting.FlagResponse, Remark: "ok", ExtFields: map[string]string{"queueId": "3"},
	Serialize: remoting.SerializeRocketMQ}

// goldenGoClientHeader is a HEART_BEAT request's header as
// rocketmq-client-go writes it (jsoniter over its struct): declaration
// order, remark always, no serializeTypeCurrentRPC, version 317 (V4_5_2).
const goldenGoClientHeader = `{"code":34,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":{}}`

func goldenGoClientFrame(t testing.TB) []byte {
	if len(goldenGoClientHeader) != 88 {
		t.Fatalf("the golden Go client header has %d bytes, its frame says 88", len(goldenGoClientHeader))
	}
	f := []byte{
		0x00, 0x00, 0x00, 0x6d, // length: 109 = 4 + 88 (header) + 17 (body)
		0x00,             // serialize type: JSON
		0x00, 0x00, 0x58, // header length: 88
	}
	f = append(f, goldenGoClientHeader...)
	return append(f, `{"clientID":"c1"}`...) // body: the heartbeat data
}

var goldenGoClientCommand = remoting.Command{Code: 34, Language: remoting.LanguageGo, Version: 317,
	Opaque: 1, Body: []byte(`{"clientID":"c1"}`), Serialize: remoting.SerializeJSON}

// TestGoldenEncode: the encoder writes the golden frames byte for byte
// (the JSON one as fastjson does).
func TestGoldenEncode(t *testing.T) {
	for name, tc := range map[string]struct {
		cmd  remoting.Command
		want []byte
	}{
		"JSON":     {goldenJSONCommand, goldenJSONFrame(t)},
		"ROCKETMQ": {goldenRocketMQCommand, goldenRocketMQFrame},
	} {
		prefix := []byte("kept")
		got, err := tc.cmd.AppendFrame(prefix)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got[:4], prefix) || !bytes.Equal(got[4:], tc.want) {
			t.Errorf("%s: encoded\n%q\nwant\n%q", name, got[4:], tc.want)
		}
		hdr, err := tc.cmd.AppendHeader(nil)
		if err != nil || !bytes.Equal(append(hdr, tc.cmd.Body...), tc.want) {
			t.Errorf("%s: AppendHeader + body = %q, %v", name, hdr, err)
		}
	}
}

// TestGoldenDecode: the golden frames, and the Go client's form of a JSON
// header, decode to their commands.
func TestGoldenDecode(t *testing.T) {
	for name, tc := range map[string]struct {
		frame []byte
		want  remoting.Command
	}{
		"JSON":      {goldenJSONFrame(t), goldenJSONCommand},
		"ROCKETMQ":  {goldenRocketMQFrame, goldenRocketMQCommand},
		"Go client": {goldenGoClientFrame(t), goldenGoClientCommand},
	} {
		next := []byte{0xde, 0xad} // the start of a next frame
		cmd, n, err := remoting.Decode(append(bytes.Clone(tc.frame), next...))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n != len(tc.frame) {
			t.Errorf("%s: took %d bytes, the frame has %d", name, n, len(tc.frame))
		}
		if !reflect.DeepEqual(*cmd, tc.want) {
			t.Errorf("%s: decoded\n%+v\nwant\n%+v", name, *cmd, tc.want)
		}
	}
}
