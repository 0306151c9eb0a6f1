package remoting_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/remoting"
)

// decodeErrors are the errors Decode may return; anything else is a bug.
var decodeErrors = []error{remoting.ErrFrameLength, remoting.ErrShortFrame, remoting.ErrHeaderLength,
	remoting.ErrSerializeType, remoting.ErrBadJSON, remoting.ErrTruncated, remoting.ErrBadHeader,
	remoting.ErrHeaderTooLarge, remoting.ErrTooManyExtFields}

// FuzzDecode: Decode never panics and returns only its named errors; a
// frame it accepts re-encodes, in its serialization, to a frame that
// decodes to the same command; and a Reader reads the same command from
// the same bytes. The seed corpus is in testdata/fuzz/FuzzDecode, with
// the golden frames and (not when fuzzing) headers at and over
// MaxExtFields added here.
func FuzzDecode(f *testing.F) {
	f.Add(goldenJSONFrame(f))
	f.Add(goldenRocketMQFrame)
	f.Add(goldenGoClientFrame(f))
	// Headers at MaxExtFields and one over, the smallest such (one key
	// repeated), for the seed corpus run (go test) only: when fuzzing,
	// every new input found from a 1.5 KB seed costs the minimizer its
	// whole -fuzzminimizetime (60 s), and fuzzing all but stops.
	for _, n := range []int{remoting.MaxExtFields, remoting.MaxExtFields + 1} {
		if fuzzing() {
			break
		}
		f.Add(frame(0, []byte(`{"extFields":{`+strings.Repeat(`"":"",`, n-1)+`"":""}}`), nil))
		f.Add(frame(1, rmqHeader(u32(0), u32(6*n), bytes.Repeat(cat(u16(0), u32(0)), n)), []byte("body")))
	}
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

// fuzzing reports whether the test binary fuzzes (-test.fuzz) rather than
// runs the seed corpora.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}
