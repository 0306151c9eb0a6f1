package hostile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/replication/wire"
	"github.com/rmqlog/rmqlog/segment"
)

// The peer port's table.
func peerCases() []kase {
	re := regexp.MustCompile
	refused := `replication: refused inbound connection`
	malformed := `replication: malformed frame`
	return []kase{
		{name: "random-before-hello", port: "peer", reason: re(refused + `.*malformed`), run: peerRandom},
		{name: "hello-wrong-group", port: "peer", reason: re(refused + `.*wrong group`), run: wrongGroup},
		{name: "hello-non-member", port: "peer", reason: re(refused + `.*unknown node`), run: nonMember},
		{name: "hello-duplicate-leader", port: "peer", reason: re(`replication: two processes claim one node id`), run: duplicateLeader},
		{name: "member-garbage-frames", port: "peer", reason: re(malformed), run: memberGarbage},
		{name: "member-length-lies", port: "peer", reason: re(`replication: (malformed frame|inbound peer disconnected)`), run: memberLengthLies},
		{name: "member-append-huge-count", port: "peer", reason: re(malformed + `.*entries cannot fill`), run: memberHugeCount},
		{name: "member-append-bad-crc", port: "peer", extra: re(`raft: refusing a batch.*crc`), run: memberBadCRC},
		{name: "member-append-bad-crc-overlap", port: "peer", extra: re(`raft: refusing a batch.*crc`), run: memberBadCRCOverlap},
		{name: "idle-connections", port: "peer", reason: re(refused + `.*timeout`), run: peerIdle},
	}
}

func (e *env) peer() (*probe, error) { return e.dial(e.r.t.PeerAddr) }

// hello is the handshake of a connection from member from to the target.
func (e *env) hello(from string) wire.Hello {
	return wire.Hello{Group: e.r.info.Group, From: from, To: e.r.info.Self}
}

// member is a member the cases may claim to be: not the target and, if
// possible, not the leader (whose link to the target the claim replaces).
func (e *env) member() string {
	other := ""
	for _, id := range e.r.info.members() {
		switch {
		case id == e.r.info.Self:
		case id != e.r.info.Leader:
			return id
		default:
			other = id
		}
	}
	return other
}

// peerAnswer reads the node's answer to a hello, then waits up to d for
// the node to close: "ok+open", "malformed+close", ...
func (p *probe) peerAnswer(d time.Duration) []string {
	p.nc.SetReadDeadline(time.Now().Add(d))
	st, _, err := wire.ReadAnswer(p.nc)
	if err != nil {
		return []string{endOf(err)}
	}
	return []string{st.String(), p.peerEnd(d)}
}

// peerEnd waits up to d for the end of a peer connection: the node never
// writes after its answer.
func (p *probe) peerEnd(d time.Duration) string {
	p.nc.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	if n, err := p.nc.Read(b[:]); n > 0 {
		return "garbage"
	} else {
		return endOf(err)
	}
}

// sendHello dials the peer port, sends h, then more (if any), half-closes
// if fin, and records and checks the answer.
func (e *env) sendHello(h []byte, more []byte, fin bool, want ...string) error {
	p, err := e.peer()
	if err != nil {
		return err
	}
	p.mustLog()
	if err := p.send(append(h, more...), 10*time.Second); err != nil {
		return fmt.Errorf("connection %s: %w", p.addr, err)
	}
	if fin {
		p.halfClose()
	}
	got := p.peerAnswer(answerWait)
	e.answered(got)
	return expect(p, got, want...)
}

func helloBytes(h wire.Hello) []byte {
	var b bytes.Buffer
	if err := wire.WriteHello(&b, h); err != nil {
		panic(fmt.Sprintf("hostile: hello %+v: %v", h, err))
	}
	return b.Bytes()
}

func peerRandom(e *env) error {
	var errs []error
	for range e.r.f.randomConns {
		b := make([]byte, 1+e.rng.IntN(e.r.f.randomBytes))
		for i := range b {
			b[i] = byte(e.rng.Uint32())
		}
		errs = append(errs, e.sendHello(b, nil, true, "malformed", "close"))
	}
	return errors.Join(errs...)
}

func wrongGroup(e *env) error {
	h := e.hello(e.member())
	h.Group = "not-" + h.Group
	return e.sendHello(helloBytes(h), nil, false, "wrong group", "close")
}

func nonMember(e *env) error {
	return e.sendHello(helloBytes(e.hello("intruder")), nil, false, "unknown node", "close")
}

// duplicateLeader claims the id of the target's leader, whose link to the
// target is live: the target must refuse the claim and keep the real link.
func duplicateLeader(e *env) error {
	info, err := fetchInfo(e.ctx, e.r.t.ClientAddr)
	if err != nil {
		return err
	}
	if info.Leader == "" || info.Leader == info.Self {
		return fmt.Errorf("the target %s has no other leader (leader %q): nothing live to claim", info.Self, info.Leader)
	}
	return e.sendHello(helloBytes(e.hello(info.Leader)), nil, false, "duplicate node id", "close")
}

// asMember opens a connection that claims to be a member, and sends
// frames after the node accepted it. want is how the connection ends
// (one of them).
func (e *env) asMember(frames []byte, hold time.Duration, want ...string) error {
	p, err := e.peer()
	if err != nil {
		return err
	}
	p.mustLog()
	if err := p.send(helloBytes(e.hello(e.member())), time.Second); err != nil {
		return err
	}
	p.nc.SetReadDeadline(time.Now().Add(answerWait))
	st, reason, err := wire.ReadAnswer(p.nc)
	if err != nil || st != wire.StatusOK {
		return fmt.Errorf("connection %s: hello as member %s: %v %s %v", p.addr, e.member(), st, reason, err)
	}
	if err := p.send(frames, 10*time.Second); err != nil && !slices.Contains(want, "close") {
		return fmt.Errorf("connection %s: %w", p.addr, err)
	}
	got := []string{"ok", p.peerEnd(hold)}
	e.answered(got)
	if slices.Contains(want, got[1]) {
		return nil
	}
	return expect(p, got, "ok", want[0])
}

// garbage is n random bytes behind a length prefix that matches them, so
// the node reads the whole frame and then finds it bad.
func (e *env) garbage(n int) []byte {
	b := make([]byte, 4+n)
	for i := range b {
		b[i] = byte(e.rng.Uint32())
	}
	binary.LittleEndian.PutUint32(b, uint32(n))
	return b
}

func memberGarbage(e *env) error {
	var errs []error
	for range max(1, e.r.f.randomConns/4) {
		errs = append(errs, e.asMember(e.garbage(wire.HeaderSize-4+e.rng.IntN(e.r.f.randomBytes)), answerWait, "close"))
	}
	return errors.Join(errs...)
}

func memberLengthLies(e *env) error {
	hb := wire.Encode(nil, &wire.Msg{Type: wire.TypeHeartbeat, Term: 1})
	bigger := bytes.Clone(hb)
	binary.LittleEndian.PutUint32(bigger, 1<<20) // 1 MiB announced, 76 bytes follow
	huge := bytes.Clone(hb)
	binary.LittleEndian.PutUint32(huge, math.MaxUint32)
	smaller := wire.Encode(nil, &wire.Msg{Type: wire.TypeAppend, Term: 1, Count: 1, Entries: make([]byte, 64)})
	binary.LittleEndian.PutUint32(smaller, wire.HeaderSize-4+32) // the length covers half the entries
	return errors.Join(
		// Left open, then closed by the case: a truncated frame. (The
		// claimed member's own redial would replace it: an election.)
		e.asMember(bigger, e.r.f.lyingHold, "open", "close"),
		e.asMember(huge, answerWait, "close"),
		e.asMember(smaller, answerWait, "close"),
	)
}

func memberHugeCount(e *env) error {
	m := wire.Msg{Type: wire.TypeAppend, Term: 1, Count: 1e9, Entries: make([]byte, 64)}
	return e.asMember(wire.Encode(nil, &m), answerWait, "close")
}

// memberBadCRC claims to be the leader and sends an Append that would
// extend the target's log by one entry whose CRC is wrong: the target must
// refuse it and store nothing. The bystander is paused meanwhile, so the
// target's log is quiet and "nothing stored" can be checked exactly.
func memberBadCRC(e *env) error { return e.forgedAppend(false) }

// memberBadCRCOverlap sends an entry of term 0 with a wrong CRC in place
// of the target's last (committed) entry: a conflict the target must
// refuse without truncating its log or stopping.
func memberBadCRCOverlap(e *env) error { return e.forgedAppend(true) }

// forgedAppend tries up to three times: an election between reading the
// target's tail and the forged frame's arrival makes the target refuse it
// for its term, before looking at its entries.
func (e *env) forgedAppend(overlap bool) error {
	var err error
	for range 3 {
		var retry bool
		if retry, err = e.forgeOnce(overlap); !retry {
			break
		}
	}
	return err
}

// forgeOnce sends one forged Append; retry says the target never logged
// refusing it.
func (e *env) forgeOnce(overlap bool) (retry bool, err error) {
	resume := e.r.by.pause()
	defer func() { resume() }()
	info, last, err := e.quietTail()
	if err != nil {
		return false, err
	}
	prev, term := last, info.Term
	if overlap {
		if prev, err = e.entryAt(last.Index - 1); err != nil {
			return false, err
		}
		term = 0
	}
	// A member other than the leader: the leader's link to the target is
	// live, and a second claim of its id is refused (hello-duplicate-leader).
	// A follower takes an Append of its own term from whoever sends it as
	// that term's leader (Raft has one per term), so the forged Append
	// reaches the entry checks; the real leader's next heartbeat takes the
	// target back. If the target leads, the forged Append deposes it (the
	// peer port trusts member ids).
	from := e.member()
	forged := fmt.Appendf(nil, "hostile forged entry %d", e.rng.Uint64())
	ent := segment.Entry{Index: prev.Index + 1, Term: term, Type: segment.TypeNormal, Payload: forged, PrevCRC: prev.CRC}
	framed := segment.Encode(nil, &ent)
	framed[len(framed)-1] ^= 0xff // the payload no longer matches the entry's CRC
	m := wire.Msg{Type: wire.TypeAppend, Term: info.Term, Index: prev.Index, LogTerm: prev.Term,
		Commit: info.CommitIndex, Count: 1, Entries: framed}
	p, err := e.peer()
	if err != nil {
		return false, err
	}
	if err := p.send(append(helloBytes(e.hello(from)), wire.Encode(nil, &m)...), time.Second); err != nil {
		return false, err
	}
	p.nc.SetReadDeadline(time.Now().Add(answerWait))
	if st, reason, err := wire.ReadAnswer(p.nc); err != nil || st != wire.StatusOK {
		return false, fmt.Errorf("hello as %s: %v %s %v", from, st, reason, err)
	}
	if err := waitFor(e.ctx, logWait, func() bool { return e.logHas(`raft: refusing a batch`) }); err != nil {
		p.close()
		return true, fmt.Errorf("the target did not log refusing the forged Append within %v", logWait)
	}
	e.answered([]string{"ok", "refused (logged)", p.peerEnd(100 * time.Millisecond)})
	after, err := fetchInfo(e.ctx, e.r.t.ClientAddr)
	if err != nil {
		return false, err
	}
	if after.LastIndex != last.Index || after.CommitIndex != last.Index {
		return false, fmt.Errorf("the target's log moved from last %d to last %d commit %d with the bystander paused", last.Index, after.LastIndex, after.CommitIndex)
	}
	if now, err := e.entryAt(last.Index); err != nil || now.CRC != last.CRC {
		return false, fmt.Errorf("the target's entry %d changed: crc %08x, was %08x (%v)", last.Index, now.CRC, last.CRC, err)
	}
	resume()
	resume = func() {}
	return false, e.notStored(prev.Index+1, forged)
}

// entryAt reads entry i from the target.
func (e *env) entryAt(i uint64) (proto.Entry, error) {
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, []string{e.r.t.ClientAddr}, client.WithPinned())
	if err != nil {
		return proto.Entry{}, err
	}
	defer cl.Close()
	es, err := cl.Range(ctx, i, 1)
	if err != nil || len(es) != 1 {
		return proto.Entry{}, fmt.Errorf("reading the target's entry %d: %d entries, %v", i, len(es), err)
	}
	return es[0], nil
}

// quietTail waits until the target has committed its whole log (the
// caller paused the bystander) and returns its status and last entry.
func (e *env) quietTail() (nodeInfo, proto.Entry, error) {
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	var info nodeInfo
	err := waitFor(ctx, 10*time.Second, func() bool {
		var err error
		info, err = fetchInfo(ctx, e.r.t.ClientAddr)
		return err == nil && info.CommitIndex == info.LastIndex && info.Leader != ""
	})
	if err != nil {
		return info, proto.Entry{}, fmt.Errorf("the target's log did not settle: %+v", info)
	}
	last, err := e.entryAt(info.LastIndex)
	return info, last, err
}

// notStored waits until the target committed index i and checks that it
// holds the group's entry there, not the forged payload.
func (e *env) notStored(i uint64, forged []byte) error {
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, []string{e.r.t.ClientAddr}, client.WithPinned())
	if err != nil {
		return err
	}
	defer cl.Close()
	var es []proto.Entry
	err = waitFor(ctx, 10*time.Second, func() bool {
		es, err = cl.Range(ctx, i, 1)
		return err == nil && len(es) == 1
	})
	if err != nil {
		return fmt.Errorf("reading entry %d back from the target: %v", i, err)
	}
	if bytes.Equal(es[0].Payload, forged) || bytes.Contains(es[0].Payload, []byte("hostile forged")) {
		return fmt.Errorf("the target stored the forged entry at %d", i)
	}
	return nil
}

// logHas reports whether the node logged a line matching pattern since
// the case started.
func (e *env) logHas(pattern string) bool {
	re := regexp.MustCompile(pattern)
	for _, l := range e.r.log.since(e.logOff) {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

// peerIdle opens many connections to the peer port and sends nothing: the
// node must refuse each once its handshake time is up.
func peerIdle(e *env) error {
	n := e.r.f.peerIdle
	probes := make([]*probe, 0, n)
	for range n {
		p, err := e.peer()
		if err != nil {
			return err
		}
		p.mustLog()
		probes = append(probes, p)
	}
	got := make([][]string, n)
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = p.peerAnswer(5 * time.Second)
		}()
	}
	wg.Wait()
	var errs []error
	for i, p := range probes {
		e.answered(got[i])
		if err := expect(p, got[i], "malformed", "close"); err != nil && len(errs) < 3 {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
