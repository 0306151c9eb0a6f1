package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/segment"
)

// The append path (appends.go): pooled buffers and proposals must never
// mix one request's payloads with another's, and the requests it does not
// take must be answered as before, in order.

// TestPipelinedAppendsStored: connections pipelining appends of many sizes
// (frames that fill and straddle the read buffer, payloads of every buffer
// class), with other requests and refused appends between them, get every
// answer in order, and the log holds each payload at the index its answer
// gave.
func TestPipelinedAppendsStored(t *testing.T) {
	g := startGroup(t, 1, nil)
	l := g.leader()
	const conns, perConn = 4, 1500
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	var mu sync.Mutex
	stored := map[uint64][]byte{} // index -> payload
	for k := range conns {
		wg.Go(func() {
			got, err := pipelineAppends(l, uint64(k), perConn)
			mu.Lock()
			defer mu.Unlock()
			for i, p := range got {
				if _, dup := stored[i]; dup {
					err = fmt.Errorf("index %d answered twice", i)
				}
				stored[i] = p
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range stored {
		e, err := l.Node().Read(i)
		if err != nil || !bytes.Equal(e.Payload, want) {
			t.Fatalf("entry %d: %d bytes (%v), want the %d bytes answered for it", i, len(e.Payload), err, len(want))
		}
	}
}

// pipelineAppends sends n appends of connection k (1 to 3 payloads of 0
// to 3,000 bytes, one in 40 up to maxMessageSize) in writes of several requests, every 50th followed by a
// meta request and every 97th by an append the node refuses (a bad body,
// then a payload over maxMessageSize), and checks every answer. It returns
// the payload of every index answered.
func pipelineAppends(s *Server, k uint64, n int) (map[uint64][]byte, error) {
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(time.Minute))
	rng := rand.New(rand.NewPCG(k, 7))
	type sent struct {
		typ      proto.Type
		code     proto.Code
		payloads [][]byte
	}
	var reqs []sent
	var wire []byte
	for i := range n {
		var ps [][]byte
		for range 1 + rng.IntN(3) {
			size := rng.IntN(3000)
			if rng.IntN(40) == 0 {
				size = rng.IntN(s.maxEntry + 1) // up to frames over the read buffer
			}
			p := make([]byte, size)
			for j := range p {
				p[j] = byte(rng.Uint32())
			}
			ps = append(ps, p)
		}
		reqs = append(reqs, sent{typ: proto.TypeAppend, payloads: ps})
		wire = proto.Frame(wire, proto.TypeAppend, 0, uint64(len(reqs)), proto.AppendRequest(nil, ps))
		switch {
		case i%50 == 49:
			reqs = append(reqs, sent{typ: proto.TypeMeta})
			wire = proto.Frame(wire, proto.TypeMeta, 0, uint64(len(reqs)), nil)
		case i%97 == 96:
			reqs = append(reqs, sent{typ: proto.TypeAppend, code: proto.CodeBadRequest})
			wire = proto.Frame(wire, proto.TypeAppend, 0, uint64(len(reqs)), binary.LittleEndian.AppendUint32(nil, 5))
			reqs = append(reqs, sent{typ: proto.TypeAppend, code: proto.CodeTooLarge})
			wire = proto.Frame(wire, proto.TypeAppend, 0, uint64(len(reqs)), proto.AppendRequest(nil, [][]byte{{1}, make([]byte, s.maxEntry+1)}))
		}
	}
	go func() {
		for len(wire) > 0 {
			m := min(len(wire), 1+rng.IntN(200<<10))
			if _, err := nc.Write(wire[:m]); err != nil {
				return
			}
			wire = wire[m:]
		}
	}()
	out := map[uint64][]byte{}
	hdr := make([]byte, proto.HeaderSize)
	br := bufio.NewReader(nc)
	for id, r := range reqs {
		h, body, err := proto.ReadFrame(br, hdr, 64<<20)
		switch {
		case err != nil:
			return nil, fmt.Errorf("connection %d, answer %d: %w", k, id+1, err)
		case h.ID != uint64(id+1) || h.Type != r.typ || h.Code != r.code:
			return nil, fmt.Errorf("connection %d: answer %+v, want id %d, %v, code %v", k, h, id+1, r.typ, r.code)
		case r.typ != proto.TypeAppend || r.code != proto.CodeOK:
			continue
		}
		first, count, err := proto.ParseAppendResult(body)
		if err != nil || int(count) != len(r.payloads) {
			return nil, fmt.Errorf("connection %d, answer %d: %d entries from %d (%v) for %d payloads", k, id+1, count, first, err, len(r.payloads))
		}
		for j, p := range r.payloads {
			out[first+uint64(j)] = p
		}
	}
	return out, nil
}

// TestPipelinedAppendsBounded: however many small appends the read buffer
// holds, a connection whose answers are not read holds at most
// MaxInflight requests between its reader and its writer (a run of
// appends counts each of them).
func TestPipelinedAppendsBounded(t *testing.T) {
	const inflight = 100
	g := startGroup(t, 1, func(c *Config) { c.MaxInflight = inflight })
	l := g.leader()
	fill(t, l, 20, 60<<10)
	before := l.framesRead.Load()
	answeredBefore := counterValue(l.metrics.reqCounter[proto.TypeAppend][proto.CodeOK])
	c := dialRaw(t, l)
	var reqs []byte
	for i := range 32 { // ~1.2 MiB answers, unread: the writer blocks
		reqs = proto.Frame(reqs, proto.TypeRange, 0, uint64(i+1), proto.RangeRequest(nil, 1, 0, 0))
	}
	for i := range 1000 {
		reqs = proto.Frame(reqs, proto.TypeAppend, 0, uint64(33+i), proto.AppendRequest(nil, [][]byte{[]byte("small")}))
	}
	if _, err := c.nc.Write(reqs); err != nil {
		t.Fatal(err)
	}
	// Requests held: read, less answered (an answer is counted once made,
	// before the write it may wait in).
	held := func() int {
		answered := 0.0
		for _, typ := range []proto.Type{proto.TypeRange, proto.TypeAppend} {
			answered += counterValue(l.metrics.reqCounter[typ][proto.CodeOK])
		}
		return int(l.framesRead.Load()-before) - int(answered-answeredBefore)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = poll.Until(ctx, func() bool { return held() > inflight })
	if n := held(); n > inflight {
		t.Fatalf("the node holds %d requests of a client that reads no answers; MaxInflight is %d", n, inflight)
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	c.Write(&m)
	return m.GetCounter().GetValue()
}

// TestAppendRunsBusyAsAlone: appends read together are taken or refused as
// busy (MaxPendingBytes) as each would have been alone: a run over the
// limit on a node with nothing pending is not taken whole, and a run
// refused whole is proposed request by request. The followers are down, so
// nothing commits: the requests taken are answered "outcome unknown" once
// the leader steps down, after those refused ("busy"), in order.
func TestAppendRunsBusyAsAlone(t *testing.T) {
	const limit = 10 << 10
	payload := make([]byte, 1024)
	for _, tc := range []struct {
		name   string
		writes []int // appends per write, each write read before the next is sent
	}{
		{"one run over the limit", []int{12}},
		{"a run refused whole", []int{4, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGroup(t, 3, func(c *Config) {
				c.Engine.MaxPendingBytes, c.Engine.ElectionTimeout = limit, time.Second
			})
			l := g.leader()
			for id, s := range g.servers {
				if s != l {
					s.Close()
					delete(g.servers, id)
				}
			}
			c := dialRaw(t, l)
			var want []proto.Code
			pending := 0
			for _, n := range tc.writes {
				before := l.framesRead.Load()
				var b []byte
				for range n {
					want = append(want, proto.CodeUnknown)
					if size := len(payload) + segment.HeaderSize; pending > 0 && pending+size > limit {
						want[len(want)-1] = proto.CodeBusy
					} else {
						pending += size
					}
					b = proto.Frame(b, proto.TypeAppend, 0, uint64(len(want)), proto.AppendRequest(nil, [][]byte{payload}))
				}
				if _, err := c.nc.Write(b); err != nil {
					t.Fatal(err)
				}
				poll.Eventually(t, 5*time.Second, "the node reading the write", func() bool { return l.framesRead.Load() == before+uint64(n) })
			}
			var got []proto.Code
			for range want {
				h, _, err := c.recv()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, h.Code)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("answers %v, want %v (as each request alone)", got, want)
			}
		})
	}
}

// TestRequestsByteByByte: requests that arrive one byte per segment (every
// idle wait ends with a fragment of a header or body) are read and
// answered as when they arrive whole.
func TestRequestsByteByByte(t *testing.T) {
	g := startGroup(t, 1, nil)
	c := dialRaw(t, g.leader())
	var b []byte
	for i := range 3 {
		b = proto.Frame(b, proto.TypeAppend, 0, uint64(i+1), proto.AppendRequest(nil, [][]byte{[]byte(fmt.Sprint("payload ", i))}))
	}
	b = proto.Frame(b, proto.TypeMeta, 0, 4, nil)
	for i := range b {
		if _, err := c.nc.Write(b[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	for id := uint64(1); id <= 4; id++ {
		h, _, err := c.recv()
		if err != nil || h.ID != id || h.Code != proto.CodeOK {
			t.Fatalf("answer %d: %+v %v", id, h, err)
		}
	}
}
