package classic_test

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/commitlog/classic"
)

var (
	bornHost  = netip.MustParseAddrPort("192.168.0.7:51234")
	storeHost = netip.MustParseAddrPort("10.175.8.149:10911")
)

// message returns message i of a deterministic sequence: its topic, queue
// id, tags, keys and body vary with i; the body has bodyLen bytes.
func message(i, bodyLen int) commitlog.Message {
	topics := []string{"TopicA", "TopicB", "订单-topic"}
	props, err := commitlog.AppendProperties(nil,
		commitlog.Property{Name: commitlog.PropertyTags, Value: fmt.Sprintf("tag%d", i%3)},
		commitlog.Property{Name: commitlog.PropertyKeys, Value: fmt.Sprintf("key-%d order-%d", i, i/2)},
		commitlog.Property{Name: commitlog.PropertyUniqKey, Value: fmt.Sprintf("C0A80007A1B218B4AAC25E2F%08X", i)})
	if err != nil {
		panic(err)
	}
	pat := []byte(fmt.Sprintf("body %d;", i))
	body := bytes.Repeat(pat, bodyLen/len(pat)+1)[:bodyLen]
	return commitlog.Message{
		QueueID: int32(i % 4), Flag: int32(i % 5), BornTimestamp: 1700000000000 + int64(i), BornHost: bornHost,
		StoreTimestamp: 1700000000100 + int64(i), StoreHost: storeHost,
		Body: body, Topic: []byte(topics[i%len(topics)]), Properties: props,
	}
}

// messages returns n messages with bodies of lens[i%len(lens)] bytes.
func messages(n int, lens ...int) []commitlog.Message {
	ms := make([]commitlog.Message, n)
	for i := range ms {
		ms[i] = message(i, lens[i%len(lens)])
	}
	return ms
}

// written is a message a test wrote: where, and its stored bytes.
type written struct {
	phys  int64
	file  string
	bytes []byte
	m     commitlog.Message
}

// write makes the classic directory dir of fileSize-byte files holding
// msgs (their queue and physical offsets set by the Writer).
func write(t testing.TB, dir string, fileSize int64, msgs []commitlog.Message) []written {
	t.Helper()
	w, err := classic.NewWriter(dir, fileSize)
	if err != nil {
		t.Fatal(err)
	}
	var out []written
	for i := range msgs {
		m := msgs[i]
		phys, err := w.Append(&m)
		if err != nil {
			t.Fatal(err)
		}
		b, err := commitlog.Encode(nil, &m, math.MaxInt32)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, written{phys: phys, file: classic.FileName(phys - phys%fileSize), bytes: b, m: m})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// scanAll scans the directory dir and returns its summary and a copy of
// every message.
func scanAll(t testing.TB, d *classic.Dir) ([]classic.Msg, classic.Summary, error) {
	t.Helper()
	var got []classic.Msg
	sum, err := d.Scan(func(m classic.Msg) error {
		m.Bytes = bytes.Clone(m.Bytes)
		h, err := commitlog.Peek(m.Bytes)
		if err != nil {
			t.Fatalf("Peek of a message Scan returned: %v", err)
		}
		m.Header = h
		got = append(got, m)
		return nil
	})
	return got, sum, err
}

// open opens dir with the file size inferred, failing the test on error.
func open(t testing.TB, dir string) *classic.Dir {
	t.Helper()
	d, err := classic.Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// patch writes b at offset off of file name in dir.
func patch(t testing.TB, dir, name string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies every file of src into the new directory dst.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// checkMessages compares what Scan returned with what was written.
func checkMessages(t *testing.T, got []classic.Msg, want []written) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("Scan returned %d messages, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Phys != w.phys || g.File != w.file || !bytes.Equal(g.Bytes, w.bytes) ||
			g.Header.PhysicalOffset != w.phys || g.Header.QueueOffset != w.m.QueueOffset ||
			g.Header.QueueID != w.m.QueueID || string(g.Header.Topic) != string(w.m.Topic) || g.Header.Size != len(w.bytes) {
			t.Fatalf("message %d: got phys %d in %s (%d bytes, queue %d offset %d, topic %q), want phys %d in %s (%d bytes, queue %d offset %d, topic %q)",
				i, g.Phys, g.File, len(g.Bytes), g.Header.QueueID, g.Header.QueueOffset, g.Header.Topic,
				w.phys, w.file, len(w.bytes), w.m.QueueID, w.m.QueueOffset, w.m.Topic)
		}
	}
}

// sizes sums the stored sizes of ws.
func sizes(ws []written) int64 {
	var n int64
	for _, w := range ws {
		n += int64(len(w.bytes))
	}
	return n
}
