package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/klauspost/crc32"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/engine/raft"
	"github.com/rmqlog/rmqlog/replication"
	"github.com/rmqlog/rmqlog/segment"
)

// Membership changes on the engine's side (the rules are the core's:
// engine/raft/membership.go, docs/membership.md): the saved list of
// configuration entries (the membership file), the bootstrap
// configuration from Config, the API, and keeping the transport's members
// and the dispatchers in step with the configuration in force.

// Member, Membership and the change types are the core's.
type (
	Member     = raft.Member
	Membership = raft.Membership
	Change     = raft.Change
	ChangeType = raft.ChangeType
)

// The membership changes (ChangeMembership).
const (
	AddLearner = raft.AddLearner // a new member joins as a learner (Member's ID and Peer; Client optional)
	Promote    = raft.Promote    // a caught-up learner becomes a voter
	Remove     = raft.Remove     // a member leaves (the leader included: it hands leadership off)
)

// Errors of ChangeMembership besides the usual NotLeaderError, ErrClosed,
// ErrLeadershipLost.
var (
	ErrChangePending = raft.ErrChangePending
	ErrNotCaughtUp   = raft.ErrNotCaughtUp
	ErrMembership    = raft.ErrMembership
)

const (
	membershipFile = "membership"
	membershipTmp  = "membership.tmp"
	// maxMembershipFile bounds what loadConfs reads: raft's maxConfs
	// entries of MaxMembers members with 255-byte strings stay far below.
	maxMembershipFile = 64 << 20
	// membershipRefresh: how often the membership writer moves the file's
	// "complete through" index up to the log's end when nothing changed,
	// which bounds the scan at the next start.
	membershipRefresh = 30 * time.Second
)

// The membership file: the core's list of configuration entries
// (raft.EncodeConfs) and the index through which it is complete: every
// configuration entry of the log at or below it is in the list.
//
//	through u64 | list | crc32c u32 (of through and list)
//
// The core hands the store its list (SaveMembership) before it appends a
// configuration entry and after a truncation or reset removed one; the
// store writes it from its own goroutine (temporary file, fsync, rename,
// directory fsync), never under the node's lock: a small fsync can wait
// hundreds of milliseconds behind an ASYNC_FLUSH backlog (measured:
// results/membership.md), and the whole node would wait with it. What a
// crash keeps of the log beyond the file's index is read back at the next
// start (scanConfs), so the list the core starts from always holds every
// configuration entry of the log.

func encodeMembershipFile(through uint64, list []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, through)
	b = append(b, list...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeMembershipFile(b []byte) (uint64, []raft.ConfEntry, error) {
	if len(b) < 12 {
		return 0, nil, fmt.Errorf("%w: membership file of %d bytes, need at least 12", ErrMembership, len(b))
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if c := crc32.Checksum(body, castagnoli); c != sum {
		return 0, nil, fmt.Errorf("%w: membership file crc %08x, computed %08x", ErrMembership, sum, c)
	}
	cs, err := raft.DecodeConfs(body[8:])
	return binary.LittleEndian.Uint64(body), cs, err
}

// membershipWriter is the store's writer of the membership file.
type membershipWriter struct {
	mu      sync.Mutex
	list    []byte // the core's latest list (raft.EncodeConfs)
	dirty   bool   // list changed since the last write
	through uint64 // the index the file on disk is complete through
	wrote   bool   // the file exists (written or found at start)
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// SaveMembership takes the core's list of configuration entries
// (raft.Log): it is complete through the log's last index now, since the
// core hands it over before it appends a configuration entry. The writer
// goroutine makes it durable.
func (s *store) SaveMembership(b []byte) error {
	w := &s.memb
	w.mu.Lock()
	w.list, w.dirty = append([]byte(nil), b...), true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return nil
}

// startMembershipWriter starts the writer goroutine (after loadConfs).
func (s *store) startMembershipWriter() {
	w := &s.memb
	w.wake, w.stop, w.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	w.wake <- struct{}{} // write at once what loadConfs found or the core dropped
	go func() {
		defer close(w.done)
		t := time.NewTicker(membershipRefresh)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-w.wake:
			case <-t.C:
			}
			if err := s.writeMembership(); err != nil {
				s.log.Warn("engine: writing the membership file failed; retried in "+membershipRefresh.String(), "err", err)
			}
		}
	}()
}

// stopMembershipWriter stops the writer and writes the file a last time
// (the log is still open: its last index is the file's).
func (s *store) stopMembershipWriter() error {
	w := &s.memb
	if w.stop == nil {
		return nil
	}
	close(w.stop)
	<-w.done
	w.stop = nil
	return s.writeMembership()
}

// writeMembership writes the file if the list changed or the log grew. The
// log's last index is read before the list: a list taken after it is
// complete through it (the core hands over its list before it appends).
func (s *store) writeMembership() error {
	w := &s.memb
	through := s.LastIndex()
	w.mu.Lock()
	list, dirty, written := w.list, w.dirty, w.through
	w.dirty = false
	w.mu.Unlock()
	if !dirty && through == written && w.wrote {
		return nil
	}
	if list == nil {
		list = raft.EncodeConfs(nil)
	}
	if err := writeFileDurably(s.fs, s.dir, membershipTmp, membershipFile, encodeMembershipFile(through, list)); err != nil {
		w.mu.Lock()
		w.dirty = w.dirty || dirty
		w.mu.Unlock()
		return err
	}
	w.mu.Lock()
	w.through, w.wrote = through, true
	w.mu.Unlock()
	return nil
}

// loadConfs reads the membership file and the configuration entries the
// log holds beyond the index it is complete through (scanConfs). A missing
// file is an empty list complete through nothing: the whole log is read
// (a new node's is empty; a node of a release before membership changes
// reads its log once). A damaged file stops the node: without it the node
// cannot know which configuration its log put in force below its first
// index.
func (s *store) loadConfs() ([]raft.ConfEntry, error) {
	path := filepath.Join(s.dir, membershipFile)
	var (
		through uint64
		cs      []raft.ConfEntry
	)
	f, err := s.fs.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		defer f.Close()
		size, err := f.Size()
		if err != nil {
			return nil, err
		}
		if size > maxMembershipFile {
			return nil, fmt.Errorf("%w: %s is %d bytes, more than a membership file can be", ErrMembership, path, size)
		}
		b := make([]byte, size)
		if _, err := f.ReadAt(b, 0); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if through, cs, err = decodeMembershipFile(b); err != nil {
			return nil, fmt.Errorf("%s: %w; this node cannot know its group's configuration: keep the file for "+
				"inspection, and replace this member as a failed machine (docs/operations.md: rmqlog member add, "+
				"promote, remove)", path, err)
		}
		s.memb.through, s.memb.wrote = through, true
	}
	more, err := s.scanConfs(through)
	if err != nil {
		return nil, err
	}
	for _, c := range more {
		if n := len(cs); n == 0 || cs[n-1].Index < c.Index {
			cs = append(cs, c)
		}
	}
	s.memb.list = raft.EncodeConfs(cs)
	s.memb.dirty = len(more) > 0 || !s.memb.wrote
	return cs, nil
}

// scanConfs reads the configuration entries of the log after index
// through: those a crash may have kept in the log before the writer saved
// the list that holds them.
func (s *store) scanConfs(through uint64) ([]raft.ConfEntry, error) {
	first, last := s.FirstIndex(), s.LastIndex()
	from := max(through+1, first)
	if through+1 < first && through > 0 {
		s.log.Warn("engine: the membership file is older than the log's first index; configuration entries "+
			"removed by retention in between are not known here", "through", through, "first", first)
	}
	if from > last {
		return nil, nil
	}
	if last-from > 1<<20 {
		s.log.Info("engine: reading the log for configuration entries (no recent membership file)", "from", from, "to", last)
	}
	var cs []raft.ConfEntry
	for i := from; i <= last; i++ {
		e, err := s.Read(i)
		if err != nil {
			return nil, fmt.Errorf("engine: reading entry %d for configuration entries: %w", i, err)
		}
		if e.Type != segment.TypeConfig {
			continue
		}
		m, err := raft.DecodeMembership(e.Payload)
		if err != nil {
			return nil, fmt.Errorf("engine: configuration entry %d: %w", i, err)
		}
		cs = append(cs, raft.ConfEntry{Index: i, Term: e.Term, Membership: m})
	}
	return cs, nil
}

// bootstrap is the configuration in force until the log holds one:
// dLegerPeers with their client addresses, or none for a node that joins
// an existing group (Config.Join).
func (c Config) bootstrap() raft.Membership {
	var m raft.Membership
	if c.Join {
		return m
	}
	for id, addr := range c.Peers {
		m.Members = append(m.Members, raft.Member{ID: id, Peer: addr, Client: c.ClientAddrs[id]})
		if id == c.ID && m.Members[len(m.Members)-1].Client == "" {
			m.Members[len(m.Members)-1].Client = c.ClientAddr
		}
	}
	slices.SortFunc(m.Members, func(a, b raft.Member) int { return strings.Compare(a.ID, b.ID) })
	return m
}

// warnConfig says so when the log's configuration differs from
// dLegerPeers: the log wins (docs/membership.md).
func (n *Node) warnConfig() {
	conf, at := n.core.Membership()
	if at == 0 {
		return
	}
	var inLog, inFile []string
	for _, m := range conf.Members {
		inLog = append(inLog, m.ID+"-"+m.Peer)
	}
	for id, addr := range n.cfg.Peers {
		inFile = append(inFile, id+"-"+addr)
	}
	slices.Sort(inLog)
	slices.Sort(inFile)
	if slices.Equal(inLog, inFile) {
		return
	}
	n.cfg.Logger.Warn("dLegerPeers differs from the configuration in the log; the log's is in force "+
		"(update dLegerPeers in every member's properties file to match: rmqlog member list prints it)",
		"log", strings.Join(inLog, ";"), "dLegerPeers", strings.Join(inFile, ";"), "index", at, "node", n.cfg.ID)
}

// ChangeMembership proposes one membership change on the leader and waits
// until it commits: add a learner (Member's ID and Peer address, Client
// optional), promote a caught-up learner, or remove a member (the leader
// included: it then hands leadership off). It returns the configuration
// entry's index.
func (n *Node) ChangeMembership(ctx context.Context, c Change) (uint64, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return 0, ErrClosed
	}
	i, err := n.core.ProposeChange(c)
	if err != nil {
		err = n.proposeErr(err)
	} else {
		n.waiters.push(waiter{index: i, term: n.core.Term(), ch: make(chan error, 1)})
	}
	var ch chan error
	if err == nil {
		ch = n.waiters.q[len(n.waiters.q)-1].ch
	}
	n.afterLocked()
	n.mu.Unlock()
	if err != nil {
		return 0, err
	}
	select {
	case err := <-ch:
		return i, err
	case <-ctx.Done():
		return i, fmt.Errorf("%w (the change may still commit: rmqlog member list shows the configuration)", ctx.Err())
	}
}

// Membership returns the configuration in force, the index of its entry
// (0: the bootstrap configuration) and whether it is committed.
// A member's client address the configuration does not carry (members of
// the bootstrap configuration) is the one it advertised, if known.
func (n *Node) Membership() (Membership, uint64, bool) {
	n.mu.Lock()
	m, i := n.core.Membership()
	committed := n.core.ConfCommitted()
	n.mu.Unlock()
	return n.withClientAddrs(m), i, committed
}

// withClientAddrs fills the members' missing client addresses with those
// configured or advertised (clientAddr). m is a copy the caller owns.
func (n *Node) withClientAddrs(m Membership) Membership {
	for k := range m.Members {
		if m.Members[k].Client == "" {
			m.Members[k].Client = n.clientAddr(m.Members[k].ID)
		}
	}
	return m
}

// syncPeers brings the transport's members and the dispatchers in line
// with the core: a peer the core talks to (and the current leader, which
// may be one that removed itself and is handing off) gets a link and a
// dispatcher, at the address the configuration gives (or the last one a
// configuration gave, or dLegerPeers'); one it no longer talks to, and
// that dLegerPeers does not name, is dropped. Called under mu before the
// core's messages are handed out, whenever the configuration or the
// leader changes.
func (n *Node) syncPeers() {
	conf, _ := n.core.Membership()
	want := map[string]string{}
	for id, addr := range n.cfg.Peers {
		if id != n.cfg.ID {
			want[id] = addr
		}
	}
	for _, m := range conf.Members {
		if m.Peer != "" && m.ID != n.cfg.ID {
			n.known[m.ID] = m.Peer
		}
	}
	talk := n.core.Peers()
	if lead := n.core.Lead(); lead != "" && lead != n.cfg.ID && !slices.Contains(talk, lead) {
		// A leader that removed itself leads until it hands off: its
		// followers keep answering it.
		talk = append(talk, lead)
	}
	for _, id := range talk {
		// dLegerPeers' address wins for a member it names (a node may reach
		// a member by a route of its own, as the fault campaign's proxy
		// does); the configuration's is used for the others.
		m, ok := conf.Get(id)
		switch {
		case want[id] != "":
		case ok && m.Peer != "":
			want[id] = m.Peer
		case n.known[id] != "":
			want[id] = n.known[id]
		default:
			n.cfg.Logger.Error("no peer address known for a member; it cannot be reached until dLegerPeers names it",
				"member", id, "node", n.cfg.ID)
		}
		if ok && m.Client != "" {
			n.learnAdvert(id, m.Client)
		}
	}
	for id, addr := range want {
		if d := n.disp[id]; d != nil && d.peer.Addr() == addr {
			continue
		}
		p, err := n.tr.AddPeer(id, addr)
		if err != nil {
			n.cfg.Logger.Error("cannot connect to a member", "member", id, "addr", addr, "err", err)
			continue
		}
		n.startDispatcher(id, p)
	}
	for id, d := range n.disp {
		if _, ok := want[id]; !ok {
			d.close()
			delete(n.disp, id)
			n.st.peers = slices.DeleteFunc(n.st.peers, func(p *replication.Peer) bool { return p == d.peer })
			n.tr.RemovePeer(id)
		}
	}
}

// startDispatcher starts the sender for peer id (replacing one for an
// older address).
func (n *Node) startDispatcher(id string, p *replication.Peer) {
	if old := n.disp[id]; old != nil {
		old.close()
		n.st.peers = slices.DeleteFunc(n.st.peers, func(q *replication.Peer) bool { return q == old.peer })
	}
	d := newDispatcher(n, p)
	n.st.peers = append(n.st.peers, p)
	n.disp[id] = d
	n.wg.Add(1)
	go d.run()
}

// writeFileDurably replaces dir/name with b: temporary file, fsync,
// rename, directory fsync.
func writeFileDurably(fsys segment.FS, dir, tmpName, name string, b []byte) error {
	tmp := filepath.Join(dir, tmpName)
	if err := fsys.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err // a temporary file left by a crash
	}
	f, err := fsys.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}

// noRoute logs, at most once per id, a message the core addressed to a
// node this one has no address for: a leader it learned of from a newer
// configuration than its log holds. It answers once dLegerPeers names it
// or once its log catches up through another leader.
func (n *Node) noRoute(id string) {
	if n.unrouted == nil {
		n.unrouted = map[string]bool{}
	}
	if n.unrouted[id] {
		return
	}
	n.unrouted[id] = true
	n.cfg.Logger.Warn("a node this one has no peer address for sent it messages (a member added while this node "+
		"was away?): it cannot answer; add it to dLegerPeers (rmqlog member list prints every member's address) and restart",
		"from", id, "node", n.cfg.ID)
}
