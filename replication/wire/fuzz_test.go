package wire_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/rmqlog/rmqlog/replication/wire"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ and run with plain
// `go test`; `go test -fuzz=FuzzDecode ./replication/wire/` explores further.

// FuzzDecode: Decode never panics, every error wraps ErrFrame, and a frame
// it accepts re-encodes to the same bytes (no field is lost or invented).
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := wire.Decode(b)
		if err != nil {
			if !errors.Is(err, wire.ErrFrame) {
				t.Fatalf("error %v does not wrap ErrFrame", err)
			}
			return
		}
		if again := wire.Encode(nil, &m); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded\n%x\ninput\n%x", again, b)
		}
	})
}

// FuzzReadFrame: reading a stream frame by frame never panics, never
// returns a frame over the limit, returns exactly the stream's bytes in
// order, and ends with io.EOF (clean end) or a framing error. A limit of 0
// stands for 64 KiB rather than DefaultMaxFrame, so that a fuzzed length
// prefix does not allocate 64 MiB per run (TestReadFrame covers the default).
func FuzzReadFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte, limitArg uint16) {
		limit := int(limitArg)
		if limit == 0 {
			limit = 64 << 10
		}
		r := bytes.NewReader(stream)
		var (
			buf  []byte
			seen int
			err  error
		)
		for {
			buf, err = wire.ReadFrame(r, buf, limit)
			if err != nil {
				break
			}
			if len(buf) > limit {
				t.Fatalf("%d-byte frame over the limit %d", len(buf), limit)
			}
			if !bytes.Equal(buf, stream[seen:seen+len(buf)]) {
				t.Fatalf("frame at %d differs from the stream", seen)
			}
			seen += len(buf)
		}
		switch {
		case err == io.EOF:
			if seen != len(stream) {
				t.Fatalf("io.EOF after %d of %d bytes", seen, len(stream))
			}
		case errors.Is(err, wire.ErrFrame), errors.Is(err, wire.ErrTooLarge):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzReadHello: ReadHello never panics, every error wraps ErrHandshake, and
// an accepted hello re-encodes to exactly the bytes it consumed.
func FuzzReadHello(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		h, err := wire.ReadHello(r)
		if err != nil {
			if !errors.Is(err, wire.ErrHandshake) {
				t.Fatalf("error %v does not wrap ErrHandshake", err)
			}
			return
		}
		var again bytes.Buffer
		if err := wire.WriteHello(&again, h); err != nil {
			t.Fatalf("WriteHello of an accepted hello %+v: %v", h, err)
		}
		if consumed := b[:len(b)-r.Len()]; !bytes.Equal(again.Bytes(), consumed) {
			t.Fatalf("re-encoded\n%x\nconsumed\n%x", again.Bytes(), consumed)
		}
	})
}

// FuzzReadAnswer: ReadAnswer never panics, every error wraps ErrHandshake,
// and an accepted answer re-encodes to the bytes it consumed (the version
// byte aside: a refusal from another version is accepted).
func FuzzReadAnswer(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		st, reason, err := wire.ReadAnswer(r)
		if err != nil {
			if !errors.Is(err, wire.ErrHandshake) {
				t.Fatalf("error %v does not wrap ErrHandshake", err)
			}
			return
		}
		consumed := b[:len(b)-r.Len()]
		if consumed[4] != wire.Version {
			if st == wire.StatusOK {
				t.Fatalf("accepted StatusOK from version %d", consumed[4])
			}
			return // the CRC covers the version byte, so re-encoding differs
		}
		var again bytes.Buffer
		if err := wire.WriteAnswer(&again, st, reason); err != nil {
			t.Fatalf("WriteAnswer of an accepted answer: %v", err)
		}
		if !bytes.Equal(again.Bytes(), consumed) {
			t.Fatalf("re-encoded\n%x\nconsumed\n%x", again.Bytes(), consumed)
		}
	})
}
