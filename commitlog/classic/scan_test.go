package classic_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/commitlog/classic"
)

// TestRoundTrip: what the Writer writes, Scan returns, message for
// message, with its offsets, across files, blanks and retention.
func TestRoundTrip(t *testing.T) {
	// fill0 is the body that makes message 0 take all of a 4096-byte file
	// but the 8 bytes of the blank.
	m0 := message(0, 0)
	fill0 := 4096 - commitlog.BlankSize - m0.Size()
	tests := []struct {
		name     string
		fileSize int64
		msgs     []commitlog.Message
		// dropFirst files are removed after writing, as retention does.
		dropFirst int
		files     int // files holding data
	}{
		{name: "empty log", fileSize: 4096},
		{name: "one message", fileSize: 4096, msgs: messages(1, 10), files: 1},
		{name: "many files with blanks", fileSize: 4096, msgs: messages(120, 0, 17, 300, 1000, 64), files: 15},
		{name: "one message per file: every one forces a blank", fileSize: 1024, msgs: messages(5, 700), files: 5},
		{name: "a message leaves exactly the 8 bytes of the blank", fileSize: 4096,
			msgs: []commitlog.Message{message(0, fill0), message(1, 5), message(3, fill0)}, files: 3},
		{name: "messages larger than the 1 MiB read buffer", fileSize: 4 << 20,
			msgs: messages(5, 1<<20+512<<10, 10, 3<<20), files: 3},
		{name: "retention deleted the first two files: queue offsets start above 0", fileSize: 4096,
			msgs: oneQueue(messages(60, 200, 900)), dropFirst: 2, files: 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			want := write(t, dir, tc.fileSize, tc.msgs)
			for i := 0; i < tc.dropFirst; i++ {
				name := classic.FileName(int64(i) * tc.fileSize)
				if err := os.Remove(filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
				for len(want) > 0 && want[0].file == name {
					want = want[1:]
				}
			}
			d := open(t, dir)
			if d.FileSize != tc.fileSize || d.Files[0].Start != int64(tc.dropFirst)*tc.fileSize {
				t.Fatalf("Open: file size %d, first file %v", d.FileSize, d.Files[0])
			}
			got, sum, err := scanAll(t, d)
			if err != nil {
				t.Fatal(err)
			}
			checkMessages(t, got, want)
			first, end := d.Files[0].Start, d.Files[0].Start
			if len(want) > 0 {
				first, end = want[0].phys, want[len(want)-1].phys+int64(len(want[len(want)-1].bytes))
			}
			if wantSum := (classic.Summary{Messages: int64(len(want)), Bytes: sizes(want), First: first, End: end}); sum != wantSum {
				t.Fatalf("Summary %+v, want %+v", sum, wantSum)
			}
			if n := countFiles(want); n != tc.files-tc.dropFirst && len(want) > 0 {
				t.Fatalf("the messages lie in %d files, want %d", n, tc.files-tc.dropFirst)
			}
			if tc.dropFirst > 0 && got[0].Header.QueueOffset == 0 {
				t.Fatalf("after retention the first message has queue offset 0")
			}
		})
	}
}

// oneQueue puts every message of ms into queue 0 of TopicA.
func oneQueue(ms []commitlog.Message) []commitlog.Message {
	for i := range ms {
		ms[i].Topic, ms[i].QueueID = []byte("TopicA"), 0
	}
	return ms
}

func countFiles(ws []written) int {
	files := map[string]bool{}
	for _, w := range ws {
		files[w.file] = true
	}
	return len(files)
}

// TestWriterBlank: the Writer pads a file with the blank that declares
// the rest of the file, and creates every file at its full size.
func TestWriterBlank(t *testing.T) {
	dir := t.TempDir()
	ws := write(t, dir, 1024, messages(2, 700))
	b, err := os.ReadFile(filepath.Join(dir, ws[0].file))
	if err != nil {
		t.Fatal(err)
	}
	end := len(ws[0].bytes)
	if size, ok := commitlog.Blank(b[end:]); !ok || size != 1024-end {
		t.Fatalf("after the first message: blank %v of %d bytes, want %d", ok, size, 1024-end)
	}
	if ws[1].phys != 1024 || len(b) != 1024 {
		t.Fatalf("the second message at %d, the file of %d bytes", ws[1].phys, len(b))
	}
}

// TestWriterQueueOffsets: offsets count per topic and queue id, from a
// base SetQueueOffset sets; a prepared transaction message takes none.
func TestWriterQueueOffsets(t *testing.T) {
	w, err := classic.NewWriter(t.TempDir(), 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetQueueOffset("TopicB", 1, 500)
	tests := []struct {
		topic string
		queue int32
		flag  commitlog.SysFlag
		want  int64
	}{
		{"TopicA", 0, 0, 0}, {"TopicA", 0, 0, 1}, {"TopicA", 1, 0, 0}, {"TopicB", 1, 0, 500},
		{"TopicA", 0, commitlog.TransactionPrepared, 0}, {"TopicA", 0, commitlog.TransactionCommit, 2}, {"TopicB", 1, 0, 501},
	}
	for i, tc := range tests {
		m := commitlog.Message{Topic: []byte(tc.topic), QueueID: tc.queue, SysFlag: tc.flag, BornHost: bornHost, StoreHost: storeHost}
		if _, err := w.Append(&m); err != nil {
			t.Fatal(err)
		}
		if m.QueueOffset != tc.want {
			t.Errorf("append %d (%s %d): queue offset %d, want %d", i, tc.topic, tc.queue, m.QueueOffset, tc.want)
		}
	}
}

// TestWriterRefuses: a message no file holds, a directory that is not
// empty, a file size out of range.
func TestWriterRefuses(t *testing.T) {
	dir := t.TempDir()
	w, err := classic.NewWriter(dir, 1024)
	if err != nil {
		t.Fatal(err)
	}
	m := message(0, 1024)
	if _, err := w.Append(&m); !errors.Is(err, classic.ErrTooLarge) {
		t.Fatalf("Append of a message larger than the file: %v", err)
	}
	m = message(1, 10)
	if _, err := w.Append(&m); err != nil {
		t.Fatalf("Append after a refused message: %v", err)
	}
	w.Close()
	if _, err := classic.NewWriter(dir, 1024); err == nil || !strings.Contains(err.Error(), "00000000000000000000") {
		t.Fatalf("NewWriter in a directory with files: %v", err)
	}
	if _, err := classic.NewWriter(t.TempDir(), 50); !errors.Is(err, classic.ErrFileSize) {
		t.Fatalf("NewWriter with 50-byte files: %v", err)
	}
}

// TestScanLyingSizeCostsNoMemory: in a file of 256 MiB (sparse), a
// message whose total size field says 200 MiB, lengths not adding up,
// is reported without allocating for it.
func TestScanLyingSizeCostsNoMemory(t *testing.T) {
	dir := t.TempDir()
	ws := write(t, dir, 256<<20, messages(3, 100))
	patch(t, dir, ws[2].file, ws[2].phys, binary.BigEndian.AppendUint32(nil, 200<<20))
	d := open(t, dir)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sum, err := d.Scan(nil)
	runtime.ReadMemStats(&after)
	if err != nil || sum.Torn == nil || sum.Messages != 2 {
		t.Fatalf("Scan: %+v, %v; want a torn tail after 2 messages", sum, err)
	}
	if !errors.Is(sum.Torn, commitlog.ErrCorrupt) || !strings.Contains(sum.Torn.Error(), "do not add up to its total size 209715200") {
		t.Fatalf("Torn: %v", sum.Torn)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Fatalf("Scan allocated %d bytes", n)
	}
}

// TestScanFnError: Scan stops at fn's error and returns it as it is.
func TestScanFnError(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, 4096, messages(10, 100))
	stop := errors.New("stop")
	n := 0
	sum, err := open(t, dir).Scan(func(classic.Msg) error {
		if n++; n == 4 {
			return stop
		}
		return nil
	})
	if err != stop || sum.Messages != 4 {
		t.Fatalf("Scan: %+v, %v", sum, err)
	}
}

// TestScanMsgBytesCapped: a message's Bytes end at its size, so an append
// does not write into the next message.
func TestScanMsgBytesCapped(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, 4096, messages(3, 100))
	_, err := open(t, dir).Scan(func(m classic.Msg) error {
		if len(m.Bytes) != m.Header.Size || cap(m.Bytes) != len(m.Bytes) || !bytes.Equal(m.Header.Topic, m.Bytes[len(m.Bytes)-len(m.Header.Properties)-2-len(m.Header.Topic):][:len(m.Header.Topic)]) {
			t.Fatalf("message at %d: %d bytes, capacity %d, size %d", m.Phys, len(m.Bytes), cap(m.Bytes), m.Header.Size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
