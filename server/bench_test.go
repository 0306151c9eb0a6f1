package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/flush"
)

// BenchmarkAppendPath measures the leader's client path per append: the
// connection's reader, the proposal, the commit notification, the writer
// and the answer. One node under ASYNC_FLUSH (its commit is the local
// append, so the log's fsync does not set the pace), one connection over
// loopback; the client side is a hand-written sender and receiver that
// allocate nothing, so allocs/op is the node's (engine included).
//
//	window=1:   one append at a time (a round trip each)
//	window=256: up to 256 appends in flight, the sender writing every
//	            frame it may send at once (as client.conn does)
//	batch=16:   16 payloads per append request (AppendBatchAsync), up to
//	            256 payloads in flight; ns/op and allocs/op are per entry,
//	            as with batch=1
//
//	go test -run '^$' -bench AppendPath -benchmem ./server
func BenchmarkAppendPath(b *testing.B) {
	for _, c := range []struct{ window, batch int }{{1, 1}, {256, 1}, {256, 16}} {
		for _, size := range []int{128, 1024} {
			b.Run(fmt.Sprintf("window=%d/batch=%d/size=%d", c.window, c.batch, size), func(b *testing.B) {
				benchAppendPath(b, c.window, size, c.batch)
			})
		}
	}
}

// benchAppendPath sends b.N entries of size bytes, batch per request, at
// most window of them in flight.
func benchAppendPath(b *testing.B, window, size, batch int) {
	g := startGroup(b, 1, func(c *Config) {
		c.Engine.FlushMode = flush.AsyncFlush
		c.Engine.SegmentSize = 64 << 20
	})
	l := g.leader()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	requests := (b.N + batch - 1) / batch // the last one may be short: b.N entries in all
	slots := make(chan struct{}, window/batch)
	recvd := make(chan error, 1)
	go func() { recvd <- benchReceive(nc, requests, slots) }()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	if err := benchSend(nc, b.N, size, batch, slots); err != nil {
		b.Fatal(err)
	}
	if err := <-recvd; err != nil {
		b.Fatal(err)
	}
}

// benchSend sends n entries of size bytes in append requests of batch
// payloads, taking a slot for each request and writing all the requests
// it has slots for in one write.
func benchSend(nc net.Conn, n, size, batch int, slots chan struct{}) error {
	payloads := make([][]byte, batch)
	for i := range payloads {
		payloads[i] = make([]byte, size)
	}
	body := proto.AppendRequest(nil, payloads)
	last := proto.AppendRequest(nil, payloads[:n-(n-1)/batch*batch])
	requests := uint64((n + batch - 1) / batch)
	frame := len(proto.Frame(nil, proto.TypeAppend, 0, 1, body))
	buf := make([]byte, 0, cap(slots)*frame)
	for id := uint64(1); id <= requests; {
		slots <- struct{}{}
		k := 1
	more:
		for id+uint64(k) <= requests {
			select {
			case slots <- struct{}{}:
				k++
			default:
				break more
			}
		}
		buf = buf[:0]
		for range k {
			if id == requests {
				body = last
			}
			buf = proto.Frame(buf, proto.TypeAppend, 0, id, body)
			id++
		}
		if _, err := nc.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// benchReceive reads n answers, checks each is an ok append answer, and
// frees a slot for each.
func benchReceive(nc net.Conn, n int, slots chan struct{}) error {
	br := bufio.NewReaderSize(nc, 64<<10)
	var f [proto.HeaderSize + 12]byte
	nc.SetReadDeadline(time.Now().Add(10 * time.Minute))
	for i := range n {
		if _, err := io.ReadFull(br, f[:proto.HeaderSize]); err != nil {
			return err
		}
		h, err := proto.ParseHeader(f[:], len(f))
		if err != nil {
			return err
		}
		if _, err := io.ReadFull(br, f[proto.HeaderSize:h.Len]); err != nil {
			return err
		}
		if h.Code != proto.CodeOK || h.ID != uint64(i+1) {
			return fmt.Errorf("answer %d: %+v", i+1, h)
		}
		<-slots
	}
	return nil
}
