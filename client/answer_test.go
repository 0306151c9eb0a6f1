package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/rmqlog/rmqlog/client/proto"
)

// TestReadAnswerAsReadFrame: readAnswer returns what ReadFrame reads from
// the same stream, answers decoded in place included, and the same error
// when the stream ends or fails, at once, in a header or in a body, read
// whole or a byte at a time.
func TestReadAnswerAsReadFrame(t *testing.T) {
	appendOK := proto.Frame(nil, proto.TypeAppend, proto.CodeOK, 7, proto.AppendResult(nil, 42, 3))
	refusal := proto.Frame(nil, proto.TypeAppend, proto.CodeBusy, 8, proto.AppendError(nil, proto.ErrorBody{Message: "busy"}))
	get := proto.Frame(nil, proto.TypeGet, proto.CodeOK, 9, proto.AppendEntry(nil, proto.Entry{Index: 1, Payload: []byte("p")}))
	bad := bytes.Clone(appendOK)
	bad[len(bad)-1] ^= 1
	reset := errors.New("connection reset by peer")
	streams := map[string]func() io.Reader{
		"empty":           func() io.Reader { return bytes.NewReader(nil) },
		"fails at once":   func() io.Reader { return &failsOnce{err: reset} },
		"cut in a header": func() io.Reader { return bytes.NewReader(appendOK[:9]) },
		"cut in a body":   func() io.Reader { return bytes.NewReader(appendOK[:25]) },
		"fails in a body": func() io.Reader { return io.MultiReader(bytes.NewReader(refusal[:25]), &failsOnce{err: reset}) },
		"bad crc":         func() io.Reader { return bytes.NewReader(bad) },
		"answers":         func() io.Reader { return bytes.NewReader(bytes.Join([][]byte{appendOK, refusal, get, appendOK}, nil)) },
		"over the limit": func() io.Reader {
			return bytes.NewReader(proto.Frame(nil, proto.TypeAppend, proto.CodeOK, 1, make([]byte, 100)))
		},
		"answers, a byte at a time": func() io.Reader {
			return iotest.OneByteReader(bytes.NewReader(bytes.Join([][]byte{refusal, appendOK, get}, nil)))
		},
	}
	for name, stream := range streams {
		t.Run(name, func(t *testing.T) {
			got, want := readAll(stream(), true), readAll(stream(), false)
			if got != want {
				t.Fatalf("readAnswer:\n%s\nReadFrame:\n%s", got, want)
			}
		})
	}
}

// readAll reads answers until an error (at most 10) with readAnswer, or
// with ReadFrame, and describes them.
func readAll(r io.Reader, answer bool) string {
	br := bufio.NewReaderSize(r, 64)
	hdr := make([]byte, proto.HeaderSize)
	var out string
	for range 10 {
		var h proto.Header
		var body []byte
		var err error
		inPlace := 0
		if answer {
			h, body, inPlace, err = readAnswer(br, hdr, 60)
		} else {
			h, body, err = proto.ReadFrame(br, hdr, 60)
		}
		out += fmt.Sprintf("%+v %x %v\n", h, body, err)
		br.Discard(inPlace)
		if err != nil {
			break
		}
	}
	return out
}

// failsOnce fails its first read with err, then ends (a socket after a
// reset): an error a reader drops is not seen again.
type failsOnce struct {
	err  error
	done bool
}

func (r *failsOnce) Read([]byte) (int, error) {
	if r.done {
		return 0, io.EOF
	}
	r.done = true
	return 0, r.err
}
