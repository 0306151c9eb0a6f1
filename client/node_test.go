package client

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
)

// This file is a test double of the remote peer: a node's client port on
// 127.0.0.1 that speaks client/proto and can be scripted (role, redirects,
// dropped connections, error codes, held answers, malformed frames,
// CodeOverload). It reads frames with its own decoder (hash/crc32), so the
// client's frames are checked independently of package proto's reader.

// testLog is the committed log that the test nodes of one group share.
type testLog struct {
	mu      sync.Mutex
	first   uint64        // retention deleted the entries before it
	entries []proto.Entry // entries[i].Index == i+1
	count   uint64        // entries appended, with discard
	discard bool          // count appends, keep nothing (benchmarks)
}

// skip counts n entries appended, with discard, and returns the first index.
func (l *testLog) skip(n uint64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count += n
	return l.count - n + 1
}

func (l *testLog) append(typ uint8, payloads [][]byte) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := uint64(len(l.entries)) + 1
	for _, p := range payloads {
		i := uint64(len(l.entries)) + 1
		l.entries = append(l.entries, proto.Entry{Index: i, Term: 1, Type: typ, CRC: uint32(i), Payload: append([]byte{}, p...)})
	}
	return first
}

// get returns the entry at i, or the reason it has none.
func (l *testLog) get(i uint64) (e proto.Entry, why string, deleted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case i < max(l.first, 1):
		return e, fmt.Sprintf("entry %d was deleted; the first index is %d", i, max(l.first, 1)), true
	case i > uint64(len(l.entries)):
		return e, fmt.Sprintf("entry %d is not committed; the commit index is %d", i, len(l.entries)), false
	}
	return l.entries[i-1], "", false
}

func (l *testLog) last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.entries)) + l.count
}

// testNode is one scripted node. Its fields under mu may be changed by
// tests through set.
type testNode struct {
	t    testing.TB
	id   string
	addr string
	ln   net.Listener
	log  *testLog
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	meta     proto.Meta   // ID, Role, Leader, LeaderAddr, Writable, MaxMessageSize
	limit    int          // the largest payload appended (0: any); apart from meta.MaxMessageSize
	codes    []proto.Code // the answers to the next appends, one each; CodeUnknown appends first
	dropAt   int          // on receiving the dropAt-th append: append it, run onDrop, close the connection
	onDrop   func()       // called without mu
	hold     chan struct{}
	respond  func(h proto.Header, body []byte, nth int) []byte // non-nil result: sent instead of the answer
	refuse   proto.Code                                        // refuse connections with this code (CodeOverload, CodeClosing)
	transfer proto.Code                                        // the answer to transfers
	accepted int                                               // connections accepted
	reqs     map[proto.Type]int                                // requests received, by type
	changed  chan struct{}                                     // closed and replaced when reqs or accepted change, if waited for
	waiting  bool                                              // someone waits for changed
	conns    map[net.Conn]struct{}
}

// newNode starts a node of the group whose log is l; leader: it leads.
func newNode(t testing.TB, id string, l *testLog, leader bool) *testNode {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return newNodeOn(t, ln, id, l, leader)
}

// newNodeOn is newNode serving on ln (e.g. a TLS listener).
func newNodeOn(t testing.TB, ln net.Listener, id string, l *testLog, leader bool) *testNode {
	n := &testNode{t: t, id: id, addr: ln.Addr().String(), ln: ln, log: l, stop: make(chan struct{}),
		reqs: map[proto.Type]int{}, changed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	n.meta = proto.Meta{ID: id, Role: "follower", Term: 1}
	if leader {
		n.lead()
	}
	n.wg.Add(1)
	go n.accept()
	t.Cleanup(n.close)
	return n
}

// lead makes the node the leader; follow makes it a follower of leader
// (nil: no leader known). Both need mu held or the node not yet serving.
func (n *testNode) lead() {
	n.meta.Role, n.meta.Writable, n.meta.Leader, n.meta.LeaderAddr = "leader", true, n.meta.ID, n.addr
}

func (n *testNode) follow(leader *testNode) {
	n.meta.Role, n.meta.Writable, n.meta.Leader, n.meta.LeaderAddr = "follower", false, "", ""
	if leader != nil {
		n.meta.Leader, n.meta.LeaderAddr = leader.meta.ID, leader.addr
	}
}

// set changes the node's script under its lock.
func (n *testNode) set(f func(n *testNode)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f(n)
}

func (n *testNode) count(t proto.Type) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reqs[t]
}

func (n *testNode) conns0() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.accepted
}

// waitFor waits until cond (called with mu held) holds, failing the test
// after 10s.
func (n *testNode) waitFor(what string, cond func(n *testNode) bool) {
	n.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		n.mu.Lock()
		ok, ch := cond(n), n.changed
		n.waiting = true
		n.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			n.t.Fatalf("node %s: timed out waiting for %s", n.id, what)
		}
	}
}

// notify wakes waitFor; mu held.
func (n *testNode) notify() {
	if n.waiting {
		close(n.changed)
		n.changed, n.waiting = make(chan struct{}), false
	}
}

func (n *testNode) close() {
	select {
	case <-n.stop:
		return
	default:
	}
	close(n.stop)
	n.ln.Close()
	n.mu.Lock()
	for nc := range n.conns {
		nc.Close()
	}
	n.mu.Unlock()
	n.wg.Wait()
}

func (n *testNode) accept() {
	defer n.wg.Done()
	for {
		nc, err := n.ln.Accept()
		if err != nil {
			return
		}
		n.mu.Lock()
		n.accepted++
		n.conns[nc] = struct{}{}
		n.notify()
		n.mu.Unlock()
		n.wg.Add(1)
		go n.serve(nc)
	}
}

// serve reads the requests of one connection and handles them in order;
// a writer goroutine sends the answers (while answers are held the node
// keeps reading, as a real node's pipeline does).
func (n *testNode) serve(nc net.Conn) {
	defer n.wg.Done()
	n.mu.Lock()
	refuse := n.refuse
	n.mu.Unlock()
	if refuse != proto.CodeOK {
		nc.Write(proto.Frame(nil, proto.TypeMeta, refuse, 0, proto.AppendError(nil, proto.ErrorBody{Message: "refused: " + refuse.String()})))
		n.hangUp(nc)
		return
	}
	answers := make(chan *[]byte, 4096) // nil: flush, then hang up
	defer close(answers)
	n.wg.Add(1)
	go n.write(nc, answers)
	br := bufio.NewReaderSize(nc, 64<<10)
	var in []byte
	hdr := make([]byte, proto.HeaderSize)
	for {
		h, body, err := readFrame(br, hdr, in)
		if err != nil {
			answers <- nil
			return
		}
		in = body[:0]
		out := answerPool.Get().(*[]byte)
		var drop bool
		*out, drop = n.handle((*out)[:0], h, body)
		answers <- out
		if drop {
			answers <- nil
			return
		}
	}
}

var answerPool = sync.Pool{New: func() any { return new([]byte) }}

// write sends the answers until a nil one, then hangs up.
func (n *testNode) write(nc net.Conn, answers chan *[]byte) {
	defer n.wg.Done()
	defer func() {
		n.hangUp(nc)
		for range answers {
		}
	}()
	bw := bufio.NewWriterSize(nc, 64<<10)
	for out := range answers {
		if out == nil {
			bw.Flush()
			return
		}
		if !n.held(bw) {
			return
		}
		_, err := bw.Write(*out)
		answerPool.Put(out)
		if err != nil || len(answers) == 0 && bw.Flush() != nil {
			return
		}
	}
}

func (n *testNode) hangUp(nc net.Conn) {
	n.mu.Lock()
	delete(n.conns, nc)
	n.mu.Unlock()
	nc.Close()
}

// held waits while answers are held; false if the node stops meanwhile.
func (n *testNode) held(bw *bufio.Writer) bool {
	n.mu.Lock()
	hold := n.hold
	n.mu.Unlock()
	if hold == nil {
		return true
	}
	bw.Flush()
	select {
	case <-hold:
		return true
	case <-n.stop:
		return false
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// readFrame reads a frame into buf (reused) and checks its header and CRC.
func readFrame(r io.Reader, hdr, buf []byte) (proto.Header, []byte, error) {
	if _, err := io.ReadFull(r, hdr); err != nil {
		return proto.Header{}, nil, err
	}
	h, err := proto.ParseHeader(hdr, 64<<20+1<<20)
	if err != nil {
		return h, nil, err
	}
	if n := int(h.Len) - proto.HeaderSize; cap(buf) < n {
		buf = make([]byte, n)
	} else {
		buf = buf[:n]
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		return h, nil, err
	}
	crc := crc32.Update(crc32.Checksum(hdr[8:], castagnoli), castagnoli, buf)
	if crc != binary.LittleEndian.Uint32(hdr[4:]) || h.Code != proto.CodeOK || h.ID == 0 {
		return h, nil, errors.New("test node: bad request frame")
	}
	return h, buf, nil
}

// handle appends the answer to (h, body) to out; drop: close instead.
func (n *testNode) handle(out []byte, h proto.Header, body []byte) ([]byte, bool) {
	n.mu.Lock()
	n.reqs[h.Type]++
	nth, respond := n.reqs[h.Type], n.respond
	n.notify()
	n.mu.Unlock()
	if respond != nil {
		if b := respond(h, body, nth); b != nil {
			return append(out, b...), false
		}
	}
	switch h.Type {
	case proto.TypeAppend:
		return n.append(out, h, body, nth)
	case proto.TypeGet:
		return n.get(out, h, body), false
	case proto.TypeRange:
		return n.rangeFrom(out, h, body), false
	case proto.TypeMeta:
		return n.metaFrame(out, h), false
	case proto.TypeStatus:
		return proto.Frame(out, h.Type, proto.CodeOK, h.ID, fmt.Appendf(nil, `{"id":%q}`, n.id)), false
	}
	return n.transferFrame(out, h, body), false
}

func errFrame(out []byte, h proto.Header, c proto.Code, e proto.ErrorBody) []byte {
	return proto.Frame(out, h.Type, c, h.ID, proto.AppendError(nil, e))
}

func (n *testNode) append(out []byte, h proto.Header, body []byte, nth int) ([]byte, bool) {
	if n.log.discard { // benchmarks: nothing kept, nothing allocated
		count := binary.LittleEndian.Uint32(body)
		b, start := proto.Begin(out, h.Type, proto.CodeOK, h.ID)
		return proto.Finish(proto.AppendResult(b, n.log.skip(uint64(count)), count), start), false
	}
	payloads, err := proto.ParseAppendRequest(body, 65536)
	if err != nil {
		return errFrame(out, h, proto.CodeBadRequest, proto.ErrorBody{Message: err.Error()}), false
	}
	n.mu.Lock()
	m, limit, code, onDrop := n.meta, n.limit, proto.CodeOK, n.onDrop
	drop := nth == n.dropAt
	if len(n.codes) > 0 {
		code, n.codes = n.codes[0], n.codes[1:]
	}
	n.mu.Unlock()
	switch {
	case !m.Writable:
		return errFrame(out, h, proto.CodeNotLeader, proto.ErrorBody{Message: "not the leader", Leader: m.Leader, LeaderAddr: m.LeaderAddr}), false
	case code != proto.CodeOK && code != proto.CodeUnknown:
		return errFrame(out, h, code, proto.ErrorBody{Message: "scripted " + code.String()}), false
	}
	for _, p := range payloads {
		if limit > 0 && len(p) > limit {
			return errFrame(out, h, proto.CodeTooLarge, proto.ErrorBody{Message: fmt.Sprintf("%d bytes, the limit is %d", len(p), limit)}), false
		}
	}
	first := n.log.append(0, payloads)
	switch {
	case drop:
		if onDrop != nil {
			onDrop()
		}
		return out, true
	case code == proto.CodeUnknown:
		return errFrame(out, h, code, proto.ErrorBody{Message: "leadership lost"}), false
	}
	b, start := proto.Begin(out, h.Type, proto.CodeOK, h.ID)
	return proto.Finish(proto.AppendResult(b, first, uint32(len(payloads))), start), false
}

func (n *testNode) get(out []byte, h proto.Header, body []byte) []byte {
	i, err := proto.ParseGetRequest(body)
	if err != nil {
		return errFrame(out, h, proto.CodeBadRequest, proto.ErrorBody{Message: err.Error()})
	}
	e, why, _ := n.log.get(i)
	if why != "" {
		return errFrame(out, h, proto.CodeNotFound, proto.ErrorBody{Message: why})
	}
	return proto.Frame(out, h.Type, proto.CodeOK, h.ID, proto.AppendEntry(nil, e))
}

func (n *testNode) rangeFrom(out []byte, h proto.Header, body []byte) []byte {
	from, maxCount, _, err := proto.ParseRangeRequest(body)
	if err != nil {
		return errFrame(out, h, proto.CodeBadRequest, proto.ErrorBody{Message: err.Error()})
	}
	if maxCount == 0 {
		maxCount = 1024
	}
	var es []byte
	k := uint32(0)
	for ; k < maxCount; k++ {
		e, why, deleted := n.log.get(from + uint64(k))
		switch {
		case deleted && k == 0:
			return errFrame(out, h, proto.CodeNotFound, proto.ErrorBody{Message: why})
		case why != "":
			return proto.Frame(out, h.Type, proto.CodeOK, h.ID, append(binary.LittleEndian.AppendUint32(nil, k), es...))
		}
		es = proto.AppendEntry(es, e)
	}
	return proto.Frame(out, h.Type, proto.CodeOK, h.ID, append(binary.LittleEndian.AppendUint32(nil, k), es...))
}

func (n *testNode) metaFrame(out []byte, h proto.Header) []byte {
	n.mu.Lock()
	m := n.meta
	n.mu.Unlock()
	m.First, m.Last = 1, n.log.last()
	m.Commit, m.Durable = m.Last, m.Last
	return proto.Frame(out, h.Type, proto.CodeOK, h.ID, proto.AppendMeta(nil, m))
}

func (n *testNode) transferFrame(out []byte, h proto.Header, body []byte) []byte {
	to, err := proto.ParseTransferRequest(body)
	n.mu.Lock()
	m, code := n.meta, n.transfer
	n.mu.Unlock()
	switch {
	case err != nil:
		return errFrame(out, h, proto.CodeBadRequest, proto.ErrorBody{Message: err.Error()})
	case !m.Writable:
		return errFrame(out, h, proto.CodeNotLeader, proto.ErrorBody{Message: "not the leader", Leader: m.Leader, LeaderAddr: m.LeaderAddr})
	case code != proto.CodeOK:
		return errFrame(out, h, code, proto.ErrorBody{Message: "transfer to " + to + " timed out"})
	}
	return proto.Frame(out, h.Type, proto.CodeOK, h.ID, nil)
}
