package remoting_test

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/rmqlog/rmqlog/remoting"
)

// decodeErrors are the errors Decode may return; anything else is a bug.
var decodeErrors = []error{remoting.ErrFrameLength, remoting.ErrShortFrame, remoting.ErrHeaderLength,
	remoting.ErrSerializeType, remoting.ErrBadJSON, remoting.ErrTruncated, remoting.ErrBadHeader}

// FuzzDecode: Decode never panics and returns only its named errors; a
// frame it accepts re-encodes, in its serialization, to a frame that
// decodes to the same command; and a Reader reads the same command from
// the same bytes. The seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add(goldenJSONFrame(f))
	f.Add(goldenRocketMQFrame)
	f.Add(goldenGoClientFrame(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, n, err := remoting.Decode(b)
		if err != nil {
			for _, e := range decodeErrors {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("unnamed error %v", err)
		}
		if n < 8 || n > len(b) {
			t.Fatalf("took %d of %d bytes", n, len(b))
		}
		again, err := cmd.AppendFrame(nil)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", cmd, err)
		}
		cmd2, n2, err := remoting.Decode(again)
		if err != nil || n2 != len(again) {
			t.Fatalf("decoding the re-encoded %q: %d bytes, %v", again, n2, err)
		}
		if !reflect.DeepEqual(cmd, cmd2) {
			t.Fatalf("decoded\n%+v\nre-encoded and decoded\n%+v", cmd, cmd2)
		}
		rd := remoting.NewReader(bytes.NewReader(b), len(b))
		cmd3, err := rd.ReadCommand()
		if err != nil || !reflect.DeepEqual(cmd, cmd3) {
			t.Fatalf("Reader: %+v, %v; Decode: %+v", cmd3, err, cmd)
		}
		if n == len(b) {
			if _, err := rd.ReadCommand(); err != io.EOF {
				t.Fatalf("Reader after the only frame: %v", err)
			}
		}
	})
}
