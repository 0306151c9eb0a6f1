package remoting_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/rmqlog/rmqlog/remoting"
)

// TestReader: a stream of frames, delivered a byte at a time, reads as the
// commands, then io.EOF, again and again.
func TestReader(t *testing.T) {
	var stream []byte
	var want []remoting.Command
	for i, c := range roundTripCommands {
		c.Serialize = remoting.SerializeType(i % 2)
		f, err := c.AppendFrame(nil)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, f...)
		want = append(want, c)
	}
	rd := remoting.NewReader(iotest.OneByteReader(bytes.NewReader(stream)), 0)
	for i := range want {
		got, err := rd.ReadCommand()
		if err != nil || !reflect.DeepEqual(*got, want[i]) {
			t.Fatalf("command %d: %+.200v, %v", i, got, err)
		}
	}
	for range 2 {
		if got, err := rd.ReadCommand(); err != io.EOF {
			t.Fatalf("after the last frame: %+v, %v", got, err)
		}
	}
}

// TestReaderOwnsFrames: each command's body is its own memory.
func TestReaderOwnsFrames(t *testing.T) {
	f := frame(0, []byte("{}"), []byte("one"))
	rd := remoting.NewReader(bufio.NewReader(bytes.NewReader(cat(f, f))), 0)
	a, err1 := rd.ReadCommand()
	b, err2 := rd.ReadCommand()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	a.Body[0] = 'X'
	if string(b.Body) != "one" {
		t.Errorf("the second body became %q", b.Body)
	}
}

// TestReaderErrors: framing and stream errors stick; a header error does
// not (the frame was consumed whole).
func TestReaderErrors(t *testing.T) {
	good := frame(0, []byte(`{"code":7}`), nil)
	boom := errors.New("connection reset")
	for _, tc := range []struct {
		name   string
		stream io.Reader
		max    int
		want   error
		sticks bool
	}{
		{"cut in the length word", bytes.NewReader([]byte{0, 0}), 0, remoting.ErrShortFrame, true},
		{"cut in the frame", bytes.NewReader(cat(u32(100), u32(2), "{}")), 0, remoting.ErrShortFrame, true},
		{"length under 4", bytes.NewReader(cat(u32(2), "{}", good)), 0, remoting.ErrFrameLength, true},
		{"over the default maximum", bytes.NewReader(cat(u32(remoting.DefaultMaxFrameSize-3), u32(2), "{}")), 0,
			remoting.ErrFrameTooLarge, true},
		{"over a maximum of 64", bytes.NewReader(cat(frame(0, []byte("{}"), make([]byte, 59)), good)), 64,
			remoting.ErrFrameTooLarge, true},
		{"stream error", iotest.ErrReader(boom), 0, boom, true},
		{"stream error mid-frame", io.MultiReader(bytes.NewReader(cat(u32(10))), iotest.ErrReader(boom)), 0, boom, true},
		{"bad header, then a good frame", bytes.NewReader(cat(frame(0, []byte("nul"), nil), good)), 0,
			remoting.ErrBadJSON, false},
		{"serialize type 9, then a good frame", bytes.NewReader(cat(frame(9, nil, nil), good)), 0,
			remoting.ErrSerializeType, false},
		{"header length beyond the frame, then a good frame", bytes.NewReader(cat(u32(6), u32(3), "{}", good)), 0,
			remoting.ErrHeaderLength, false},
		{"header over MaxHeaderLength, then a good frame",
			bytes.NewReader(cat(frame(0, sizedHeader(t, 0, 0, remoting.MaxHeaderLength+1), nil), good)), 0,
			remoting.ErrHeaderTooLarge, false},
		{"header over MaxHeaderLength, cut", bytes.NewReader(frame(0, sizedHeader(t, 0, 0, 2<<20), nil)[:1<<20]), 0,
			remoting.ErrShortFrame, true},
		{"over MaxExtFields, then a good frame",
			bytes.NewReader(cat(frame(1, extFieldsHeader(1, remoting.MaxExtFields+1, 0), nil), good)), 0,
			remoting.ErrTooManyExtFields, false},
	} {
		rd := remoting.NewReader(tc.stream, tc.max)
		_, err := rd.ReadCommand()
		if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "remoting: ") {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			continue
		}
		cmd, again := rd.ReadCommand()
		if tc.sticks && again != err {
			t.Errorf("%s: then %v", tc.name, again)
		}
		if !tc.sticks && (again != nil || cmd.Code != 7) {
			t.Errorf("%s: the next frame: %+v, %v", tc.name, cmd, again)
		}
	}
	_, err := remoting.NewReader(bytes.NewReader(cat(u32(100), u32(2), "{}")), 0).ReadCommand()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a cut frame: %v does not wrap io.ErrUnexpectedEOF", err)
	}
}

// TestReaderMaximum: a frame of exactly the maximum (length word
// included) is read; one byte more is refused.
func TestReaderMaximum(t *testing.T) {
	const max = 1 << 20
	f := frame(1, rmqHeader(u32(0), u32(0)), make([]byte, max-8-21)) // 8: the two words; 21: the header
	if len(f) != max {
		t.Fatalf("the frame has %d bytes", len(f))
	}
	if _, err := remoting.NewReader(bytes.NewReader(f), max).ReadCommand(); err != nil {
		t.Errorf("a frame of the maximum: %v", err)
	}
	if _, err := remoting.NewReader(bytes.NewReader(f), max-1).ReadCommand(); !errors.Is(err, remoting.ErrFrameTooLarge) {
		t.Errorf("a frame one byte over: %v", err)
	}
}

// TestReaderLyingLengthBounded: a frame that claims 2 GiB and sends 100
// bytes allocates nothing large: nothing at all under the default maximum,
// and no more than the first growth step when the maximum allows 2 GiB.
func TestReaderLyingLengthBounded(t *testing.T) {
	lie := cat(u32(math.MaxInt32), u32(2), "{}", make([]byte, 94))
	for _, tc := range []struct {
		name     string
		max      int
		want     error
		maxBytes uint64
	}{
		{"default maximum", 0, remoting.ErrFrameTooLarge, 4 << 10},
		{"maximum of 2 GiB", math.MaxInt32 + 4, remoting.ErrShortFrame, 128 << 10},
	} {
		const runs = 20
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			_, err := remoting.NewReader(bytes.NewReader(lie), tc.max).ReadCommand()
			if !errors.Is(err, tc.want) {
				t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		runtime.ReadMemStats(&after)
		per := (after.TotalAlloc - before.TotalAlloc) / runs
		t.Logf("%s: %d bytes allocated per lying frame", tc.name, per)
		if per > tc.maxBytes {
			t.Errorf("%s: %d bytes allocated per lying frame, want at most %d", tc.name, per, tc.maxBytes)
		}
	}
}

// TestReaderLongHeaderBounded: a frame whose header is over
// MaxHeaderLength is refused from its first bytes and the rest skipped,
// not buffered: a 15 MiB frame costs the first growth step (64 KiB), not
// its 15 MiB and their doubling.
func TestReaderLongHeaderBounded(t *testing.T) {
	long := frame(1, sizedHeader(t, 1, 0, 15<<20), nil)
	stream := cat(long, frame(0, []byte(`{"code":7}`), nil))
	var err error
	var cmd *remoting.Command
	n := allocated(func() {
		rd := remoting.NewReader(bytes.NewReader(stream), 0)
		if _, err = rd.ReadCommand(); errors.Is(err, remoting.ErrHeaderTooLarge) {
			cmd, err = rd.ReadCommand()
		}
	})
	t.Logf("a %d-byte frame with a %d-byte header, then a small one: %d bytes allocated", len(long), len(long)-8, n)
	if err != nil || cmd.Code != 7 {
		t.Fatalf("the frame after: %+v, %v", cmd, err)
	}
	if bound := uint64(128 << 10); n > bound {
		t.Errorf("%d bytes allocated, more than %d", n, bound)
	}
}
