package server

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/segment"
)

// slowFS holds the creation of the first data file until release is
// closed: a node zero-filling a 1 GiB segment at its first start.
type slowFS struct {
	segment.FS
	release chan struct{}
}

func (f slowFS) Create(name string) (segment.File, error) {
	if strings.HasSuffix(name, ".log.tmp") {
		<-f.release
	}
	return f.FS.Create(name)
}

// TestStatusWhileOpening (issue 13): while the node prepares its log, the
// client port answers status with role "starting" and what it does, and
// other requests as "not the leader, none known yet" (clients retry); it
// used to accept nothing for ~10 s with 1 GiB segments, so `rmqlog status`
// said "is the node running?".
func TestStatusWhileOpening(t *testing.T) {
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := slowFS{FS: segment.OSFS{}, release: make(chan struct{})}
	cfg := Config{ClientListener: cl, Logger: testLogger(),
		Engine: engine.Config{Group: "g", ID: "n0", Peers: map[string]string{"n0": pl.Addr().String()}, Listener: pl,
			Dir: t.TempDir(), FS: fs, FlushMode: flush.SyncFlush, SegmentSize: 1 << 20, IndexEntries: 4096, MaxEntrySize: 64 << 10}}
	started := make(chan *Server, 1)
	go func() {
		s, err := Start(cfg)
		if err != nil {
			t.Error(err)
		}
		started <- s
	}()
	nc, err := net.DialTimeout("tcp", cl.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	c := &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
	code, body := c.call(proto.TypeStatus, nil)
	var doc proto.StatusDoc
	if err := json.Unmarshal(body, &doc); code != proto.CodeOK || err != nil || doc.Role != "starting" ||
		!strings.Contains(doc.Starting, "opening its log") || doc.Self != "n0" {
		t.Fatalf("status while opening: %v %+v %v", code, doc, err)
	}
	if code, body := c.call(proto.TypeAppend, proto.AppendRequest(nil, [][]byte{[]byte("x")})); code != proto.CodeNotLeader ||
		!strings.Contains(errMsg(t, body).Message, "is starting") {
		t.Fatalf("append while opening: %v %q", code, body)
	}
	close(fs.release)
	s := <-started
	if s == nil {
		t.Fatal("Start failed")
	}
	defer s.Close()
	code, body = c.call(proto.TypeStatus, nil)
	if err := json.Unmarshal(body, &doc); code != proto.CodeOK || err != nil || doc.Role == "starting" {
		t.Fatalf("status once open: %v %+v %v", code, doc, err)
	}
}
