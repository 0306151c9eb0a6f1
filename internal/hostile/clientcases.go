package hostile

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/client/proto"
)

// The client port's table. Each case's reason is what the node's log must
// say for each connection the case marks.
func clientCases() []kase {
	re := regexp.MustCompile
	closing := `client port: closing the connection`
	refused := `client port: refused a request`
	return []kase{
		{name: "random-bytes", port: "client", reason: re(closing), run: randomBytes},
		{name: "crc-lies", port: "client", reason: re(closing + `.*crc`), run: crcLies},
		{name: "length-lies-bigger-idle", port: "client", reason: re(closing + `.*unexpected EOF`), run: lengthBigger},
		{name: "length-lies-smaller", port: "client", reason: re(closing + `.*version`), run: lengthSmaller},
		{name: "oversize-just-above", port: "client", reason: re(refused + `.*frame limit`), run: oversizeAbove},
		{name: "oversize-4GiB", port: "client", reason: re(refused + `.*frame limit`), run: oversize4G},
		{name: "truncated-then-close", port: "client", reason: re(closing + `.*unexpected EOF`), run: truncated},
		{name: "append-count-lies", port: "client", reason: re(refused + `.*payload`), run: countLies},
		{name: "range-huge-count", port: "client", run: rangeHuge},
		{name: "id-0-and-code", port: "client", reason: re(closing + `.*(id 0|with code)`), run: idZeroAndCode},
		{name: "unknown-type", port: "client", reason: re(closing + `.*unknown type`), run: unknownType},
		{name: "idle-to-limit", port: "client", reason: re(`too many connections`), run: idleToLimit},
		{name: "slow-reader", port: "client", reason: re(`did not read its answers`), run: slowReader},
		{name: "idle-after-large-reads", port: "client", run: idleAfterLargeReads},
		{name: "slowloris", port: "client", run: slowloris},
	}
}

// answerWait bounds how long a case waits for the node's answers.
const answerWait = 3 * time.Second

// maxFrame is the node's client frame limit: maxMessageSize + 1 MiB.
func (e *env) maxFrame() int { return e.r.info.MaxMessageSize + 1<<20 }

func (e *env) client() (*probe, error) { return e.dial(e.r.t.ClientAddr) }

// frame is a well-formed request.
func frame(t proto.Type, id uint64, body []byte) []byte {
	return proto.Frame(nil, t, proto.CodeOK, id, body)
}

// expect checks a connection's answers.
func expect(p *probe, got []string, want ...string) error {
	if !slices.Equal(got, want) {
		return fmt.Errorf("connection %s: the node answered %s, want %s", p.addr, strings.Join(got, "+"), strings.Join(want, "+"))
	}
	return nil
}

// halfClose sends FIN: the node reads the end of the stream, the probe
// can still read the answers.
func (p *probe) halfClose() { p.nc.CloseWrite() }

// sendAndRead is the common shape: send b, optionally half-close, read
// the answers, record them and check them against want.
func (e *env) sendAndRead(b []byte, fin, logged bool, want ...string) error {
	p, err := e.client()
	if err != nil {
		return err
	}
	if logged {
		p.mustLog()
	}
	if err := p.send(b, 10*time.Second); err != nil && want[len(want)-1] != "close" {
		return fmt.Errorf("connection %s: %w", p.addr, err)
	}
	if fin {
		p.halfClose()
	}
	got := p.clientAnswers(answerWait, len(want)-1)
	e.answered(got)
	return expect(p, got, want...)
}

func randomBytes(e *env) error {
	var errs []error
	for range e.r.f.randomConns {
		b := make([]byte, 1+e.rng.IntN(e.r.f.randomBytes))
		for i := range b {
			b[i] = byte(e.rng.Uint32())
		}
		errs = append(errs, e.sendAndRead(b, true, true, "close"))
	}
	return errors.Join(errs...)
}

func crcLies(e *env) error {
	meta := frame(proto.TypeMeta, 1, nil)
	meta[4] ^= 1
	app := frame(proto.TypeAppend, 1, proto.AppendRequest(nil, [][]byte{[]byte("crc lies")}))
	app[len(app)-1] ^= 0x80 // the body: the header's own bytes are right
	return errors.Join(e.sendAndRead(meta, false, true, "close"), e.sendAndRead(app, false, true, "close"))
}

// lengthBigger: frames that announce more bytes than follow, left idle;
// the node must wait without buffering the announced size.
func lengthBigger(e *env) error {
	f := e.r.f
	var wg sync.WaitGroup
	errs := make([]error, f.lyingConns)
	b := frame(proto.TypeAppend, 1, make([]byte, e.maxFrame()-proto.HeaderSize))
	for i := range f.lyingConns {
		p, err := e.client()
		if err != nil {
			return err
		}
		p.mustLog()
		send := 1 << 10
		if i%32 == 0 {
			send = 256 << 10
		}
		if err := p.send(b[:proto.HeaderSize+send], 10*time.Second); err != nil {
			return fmt.Errorf("connection %s: %w", p.addr, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := p.clientAnswers(f.lyingHold, -1)
			e.answered(got)
			errs[i] = expect(p, got, "open")
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// lengthSmaller: a frame whose length covers only the start of its body;
// the node answers that frame and then reads the rest as a header.
func lengthSmaller(e *env) error {
	body := proto.AppendRequest(nil, [][]byte{[]byte(strings.Repeat("x", 96))})
	b := frame(proto.TypeAppend, 1, body[:4]) // the count only
	b = append(b, body[4:]...)
	return e.sendAndRead(b, false, true, "bad request", "close")
}

func oversizeAbove(e *env) error {
	n := e.maxFrame() + 1
	b := make([]byte, n)
	binary.LittleEndian.PutUint32(b, uint32(n))
	b[8], b[9] = proto.Version, byte(proto.TypeAppend)
	binary.LittleEndian.PutUint64(b[12:], 1)
	b = append(b, frame(proto.TypeMeta, 2, nil)...)
	return e.sendAndRead(b, false, true, "too large", "ok", "open")
}

// oversize4G announces a frame of 4 GiB - 1 bytes and sends 1 MiB of it:
// the node must answer at once, not buffer, and not wait for the rest.
func oversize4G(e *env) error {
	b := make([]byte, proto.HeaderSize+1<<20)
	binary.LittleEndian.PutUint32(b, math.MaxUint32)
	b[8], b[9] = proto.Version, byte(proto.TypeAppend)
	binary.LittleEndian.PutUint64(b[12:], 1)
	return e.sendAndRead(b, false, true, "too large", "open")
}

func truncated(e *env) error {
	app := frame(proto.TypeAppend, 1, proto.AppendRequest(nil, [][]byte{make([]byte, 1000)}))
	var errs []error
	for _, cut := range []int{1, 10, proto.HeaderSize, proto.HeaderSize + 500, len(app) - 1} {
		errs = append(errs, e.sendAndRead(app[:cut], true, true, "close"))
	}
	return errors.Join(errs...)
}

// countLies: append bodies whose counts and lengths promise more than they hold.
func countLies(e *env) error {
	var b []byte
	for id, body := range [][]byte{
		binary.LittleEndian.AppendUint32(nil, 1e9),                                      // 1e9 payloads, no data
		append(binary.LittleEndian.AppendUint32(nil, 65536), 1, 2, 3),                   // 65,536 payloads in 3 bytes
		binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 1), 1e9), // one payload of 1e9 bytes, none sent
	} {
		b = append(b, frame(proto.TypeAppend, uint64(id+1), append(body, make([]byte, 16)...))...)
	}
	b = append(b, frame(proto.TypeMeta, 4, nil)...)
	return e.sendAndRead(b, false, true, "bad request", "bad request", "bad request", "ok", "open")
}

func rangeHuge(e *env) error {
	b := frame(proto.TypeRange, 1, proto.RangeRequest(nil, 1, math.MaxUint32, math.MaxUint32))
	b = append(b, frame(proto.TypeRange, 2, proto.RangeRequest(nil, math.MaxUint64, math.MaxUint32, math.MaxUint32))...)
	b = append(b, frame(proto.TypeGet, 3, proto.GetRequest(nil, math.MaxUint64))...)
	return e.sendAndRead(b, false, false, "ok", "ok", "not found", "open")
}

func idZeroAndCode(e *env) error {
	id0 := frame(proto.TypeMeta, 0, nil)
	coded := proto.Frame(nil, proto.TypeMeta, proto.CodeTooLarge, 1, nil)
	return errors.Join(e.sendAndRead(id0, false, true, "close"), e.sendAndRead(coded, false, true, "close"))
}

func unknownType(e *env) error {
	var errs []error
	for _, t := range []proto.Type{0, 8, 255} {
		errs = append(errs, e.sendAndRead(frame(t, 1, nil), false, true, "close"))
	}
	return errors.Join(errs...)
}

// idleToLimit opens clientMaxConnections + idleExtra connections and
// leaves them idle: the node must keep the limit and refuse the rest with
// overload, and the bystander must keep working.
func idleToLimit(e *env) error {
	limit, extra := e.r.t.MaxConnections, e.r.f.idleExtra
	n := limit + extra
	probes := make([]*probe, 0, n)
	for range n {
		p, err := e.client()
		if err != nil {
			return err
		}
		probes = append(probes, p)
	}
	got := make([][]string, n)
	var refused atomic.Int64
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = p.clientAnswers(time.Minute, -1) // ended by the deadline set below
			if len(got[i]) > 1 {
				refused.Add(1)
			}
		}()
	}
	// At least extra connections must be refused; then all stay idle a while.
	waitFor(e.ctx, 10*time.Second, func() bool { return refused.Load() >= int64(extra) })
	select {
	case <-e.ctx.Done():
	case <-time.After(e.r.f.idleHold):
	}
	for _, p := range probes {
		p.nc.SetReadDeadline(time.Now())
	}
	wg.Wait()
	idle := 0
	var errs []error
	for i, p := range probes {
		e.answered(got[i])
		switch strings.Join(got[i], "+") {
		case "open":
			idle++
		case "overload+close":
			p.mustLog()
		default:
			if len(errs) < 3 {
				errs = append(errs, expect(p, got[i], "overload+close"))
			}
		}
	}
	if idle > limit || n-idle < extra {
		errs = append(errs, fmt.Errorf("%d of %d connections stayed open, over the limit (clientMaxConnections) of %d", idle, n, limit))
	}
	return errors.Join(errs...)
}

// slowReader pipelines gets of a large entry (their answers fill the
// socket) and then appends of payloads over maxMessageSize (each a frame
// of about maxMessageSize), and never reads: the node must bound what it
// holds for the connection and drop it.
func slowReader(e *env) error {
	idx, size, err := e.largeEntry()
	if err != nil {
		return err
	}
	f := e.r.f
	var gets []byte
	for i := range f.slowGets {
		gets = append(gets, frame(proto.TypeGet, uint64(i+1), proto.GetRequest(nil, idx))...)
	}
	// One frame sent again and again: ids need not be unique.
	big := frame(proto.TypeAppend, uint64(f.slowGets+1), proto.AppendRequest(nil, [][]byte{make([]byte, e.r.info.MaxMessageSize+1)}))
	send := func(p *probe) {
		if p.send(gets, time.Minute) != nil {
			return
		}
		for range f.slowAppends {
			if p.send(big, time.Minute) != nil {
				return
			}
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, f.slowClients)
	for i := range f.slowClients {
		p, err := e.client()
		if err != nil {
			return err
		}
		p.mustLog()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.readNothing(p, send, size)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// readNothing sends on p without ever reading, and waits for the node to
// close the connection.
func (e *env) readNothing(p *probe, send func(*probe), entry int) error {
	start := time.Now()
	go send(p) // ends when the node closes the connection (or the case does)
	if err := waitFor(e.ctx, 30*time.Second, p.peerClosed); err != nil {
		e.answered([]string{"open"})
		return fmt.Errorf("connection %s: not dropped within 30 s of not reading %d-byte answers", p.addr, entry)
	}
	e.answered([]string{fmt.Sprintf("close after %.0fs", time.Since(start).Seconds())})
	return nil
}

// idleAfterLargeReads: well-behaved clients that each read one large
// range answer (4 MiB) and then stay connected, idle: what the node keeps
// per connection after an answer must not be the answer's size.
func idleAfterLargeReads(e *env) error {
	idx, _, err := e.largeEntries(4)
	if err != nil {
		return err
	}
	n := e.r.f.largeReaders
	req := frame(proto.TypeRange, 1, proto.RangeRequest(nil, idx, 0, 4<<20))
	probes := make([]*probe, 0, n)
	var errs []error
	for range n { // one after the other: what grows is what the node keeps
		p, err := e.client()
		if err != nil {
			return err
		}
		probes = append(probes, p)
		if err := p.send(req, time.Second); err != nil {
			return err
		}
		if got := p.frames(answerWait, 1)[0]; got != "ok" {
			errs = append(errs, fmt.Errorf("connection %s: the node answered %s, want ok", p.addr, got))
		}
	}
	select { // all of them idle, for a while
	case <-e.ctx.Done():
	case <-time.After(e.r.f.idleHold):
	}
	for _, p := range probes {
		if p.peerClosed() {
			e.answered([]string{"ok", "close"})
			errs = append(errs, fmt.Errorf("connection %s: closed by the node while idle", p.addr))
		} else {
			e.answered([]string{"ok", "open"})
		}
	}
	return errors.Join(errs...)
}

// largeEntry appends one entry of min(1 MiB, maxMessageSize) bytes through
// the group and waits until the target has committed it.
func (e *env) largeEntry() (uint64, int, error) { return e.largeEntries(1) }

// largeEntries appends n consecutive entries of min(1 MiB,
// maxMessageSize) bytes through the group and waits until the target has
// committed them; it returns the first's index.
func (e *env) largeEntries(n int) (uint64, int, error) {
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, e.r.t.GroupAddrs)
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	size := min(1<<20, e.r.info.MaxMessageSize)
	batch := make([][]byte, n)
	for i := range batch {
		batch[i] = make([]byte, size)
	}
	idx, err := cl.AppendBatch(ctx, batch)
	if err != nil {
		return 0, 0, fmt.Errorf("appending %d large entries: %w", n, err)
	}
	err = waitFor(ctx, 10*time.Second, func() bool {
		info, err := fetchInfo(ctx, e.r.t.ClientAddr)
		return err == nil && info.CommitIndex >= idx+uint64(n)-1
	})
	return idx, size, err
}

// slowloris sends whole requests a byte per slowlorisStep; the node must
// answer each once it is complete.
func slowloris(e *env) error {
	f := e.r.f
	var reqs []byte
	var want []string
	for i := range f.slowlorisReqs {
		reqs = append(reqs, frame(proto.TypeMeta, uint64(i+1), nil)...)
		want = append(want, "ok")
	}
	want = append(want, "open")
	var wg sync.WaitGroup
	errs := make([]error, f.slowloris)
	for i := range f.slowloris {
		p, err := e.client()
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(slowlorisStep)
			defer tick.Stop()
			for k := range reqs {
				<-tick.C
				if err := p.send(reqs[k:k+1], time.Second); err != nil {
					errs[i] = fmt.Errorf("connection %s: byte %d: %w", p.addr, k, err)
					return
				}
			}
			got := p.clientAnswers(time.Second, len(want)-1)
			e.answered(got)
			errs[i] = expect(p, got, want...)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
