package remoting_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/rmqlog/rmqlog/remoting"
)

// sendRequest is a SEND_MESSAGE_V2 request as the Java producer sends it:
// 14 short-name fields and a 1 KiB body.
var sendRequest = remoting.Command{Code: int32(remoting.SendMessageV2), Language: remoting.LanguageJava,
	Version: 479, Opaque: 123456, ExtFields: map[string]string{"a": "please_rename_unique_group_name",
		"b": "TopicTest", "c": "TBW102", "d": "4", "e": "3", "f": "0", "g": "1700000000000", "h": "0",
		"i": "UNIQ_KEY\x01AC110001000018B4AAC2\x02WAIT\x01true\x02TAGS\x01TagA\x02", "j": "0", "k": "false",
		"l": "16", "m": "false", "n": "broker-a"}, Body: bytes.Repeat([]byte("x"), 1024)}

func BenchmarkAppendFrame(b *testing.B) {
	for _, ser := range []remoting.SerializeType{remoting.SerializeJSON, remoting.SerializeRocketMQ} {
		b.Run("ser="+ser.String(), func(b *testing.B) {
			c := sendRequest
			c.Serialize = ser
			buf, _ := c.AppendFrame(nil)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = c.AppendFrame(buf[:0])
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, ser := range []remoting.SerializeType{remoting.SerializeJSON, remoting.SerializeRocketMQ} {
		b.Run("ser="+ser.String(), func(b *testing.B) {
			c := sendRequest
			c.Serialize = ser
			f, err := c.AppendFrame(nil)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(f)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := remoting.Decode(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeExtFields: what a header of many extFields entries costs
// the decoder, at the limit and over it (the header of 10^6 entries is
// the bad-input campaign's, internal/hostile's many extFields).
func BenchmarkDecodeExtFields(b *testing.B) {
	for _, ser := range []byte{0, 1} {
		for _, n := range []int{14, 256, 257, 100_000, 1_000_000} {
			b.Run(fmt.Sprintf("ser=%s/entries=%d", remoting.SerializeType(ser), n), func(b *testing.B) {
				f := frame(ser, extFieldsHeader(ser, n, 0), nil)
				b.SetBytes(int64(len(f)))
				b.ReportAllocs()
				for b.Loop() {
					remoting.Decode(f) // over the limits an error, before them a command
				}
			})
		}
	}
}
