package raft

import (
	"fmt"

	"github.com/rmqlog/rmqlog/record"
	"github.com/rmqlog/rmqlog/segment"
)

// memLog is the simulator's log: the same entry framing as segment (so the
// core sees the same bytes), kept in memory, with a synced watermark so a
// simulated power loss can drop what was never fsynced.
type memLog struct {
	base     record.Position // index and offset of the first entry
	baseTerm uint64
	baseCRC  uint32
	ents     [][]byte // framed entries from base.Index
	terms    []uint64
	crcs     []uint32
	synced   uint64
	// membership is what SaveMembership saved last: durable at once, as
	// the engine's file is (write, fsync, rename).
	membership []byte
}

func (l *memLog) SaveMembership(b []byte) error {
	l.membership = append([]byte(nil), b...)
	return nil
}

// confs decodes the saved membership list, for a restart.
func (l *memLog) confs() []ConfEntry {
	if l.membership == nil {
		return nil
	}
	cs, err := DecodeConfs(l.membership)
	if err != nil {
		panic(err)
	}
	return cs
}

func newMemLog() *memLog {
	return &memLog{base: record.Position{Index: 1}}
}

func (l *memLog) FirstIndex() uint64 { return l.base.Index }
func (l *memLog) LastIndex() uint64  { return l.base.Index + uint64(len(l.ents)) - 1 }

func (l *memLog) Term(i uint64) (uint64, error) {
	switch {
	case i == l.base.Index-1:
		return l.baseTerm, nil
	case i < l.base.Index || i > l.LastIndex():
		return 0, fmt.Errorf("%w: term of %d, log holds [%d, %d]", segment.ErrOutOfRange, i, l.base.Index, l.LastIndex())
	}
	return l.terms[i-l.base.Index], nil
}

func (l *memLog) lastCRC() uint32 {
	if len(l.crcs) == 0 {
		return l.baseCRC
	}
	return l.crcs[len(l.crcs)-1]
}

func (l *memLog) lastTerm() uint64 {
	t, _ := l.Term(l.LastIndex())
	return t
}

func (l *memLog) Append(term uint64, typ record.Type, payload []byte) (uint64, error) {
	e := record.Entry{Index: l.LastIndex() + 1, Term: term, Type: typ, Payload: payload, PrevCRC: l.lastCRC()}
	b := record.Encode(nil, &e)
	l.push(b, term, e.CRC)
	return e.Index, nil
}

func (l *memLog) AppendBatch(es []record.Entry) (uint64, error) {
	for i := range es {
		if _, err := l.Append(es[i].Term, es[i].Type, es[i].Payload); err != nil {
			return l.LastIndex(), err
		}
	}
	return l.LastIndex(), nil
}

func (l *memLog) push(b []byte, term uint64, crc uint32) {
	l.ents = append(l.ents, b)
	l.terms = append(l.terms, term)
	l.crcs = append(l.crcs, crc)
}

// AppendFramed checks what segment.Log.AppendFramed checks: CRCs, indexes,
// terms and the CRC chain.
func (l *memLog) AppendFramed(b []byte) (uint64, error) {
	for len(b) > 0 {
		e, n, err := record.Decode(b)
		if err != nil {
			return 0, err
		}
		switch {
		case e.Index != l.LastIndex()+1:
			return 0, fmt.Errorf("%w: entry %d after %d", record.ErrNotContiguous, e.Index, l.LastIndex())
		case e.PrevCRC != l.lastCRC():
			return 0, fmt.Errorf("%w: entry %d chains to %08x, log ends with %08x", record.ErrCorrupt, e.Index, e.PrevCRC, l.lastCRC())
		case e.Term < l.lastTerm():
			return 0, fmt.Errorf("%w: entry %d term %d after term %d", record.ErrCorrupt, e.Index, e.Term, l.lastTerm())
		}
		l.push(append([]byte(nil), b[:n]...), e.Term, e.CRC)
		b = b[n:]
	}
	return l.LastIndex(), nil
}

func (l *memLog) TruncateSuffix(i uint64) error {
	if i < l.base.Index || i > l.LastIndex()+1 {
		return fmt.Errorf("%w: truncate at %d, log holds [%d, %d]", segment.ErrOutOfRange, i, l.base.Index, l.LastIndex())
	}
	k := i - l.base.Index
	l.ents, l.terms, l.crcs = l.ents[:k], l.terms[:k], l.crcs[:k]
	l.synced = min(l.synced, i-1)
	return nil
}

func (l *memLog) Span(from uint64, maxBytes, maxCount int) (uint64, int, error) {
	if from < l.base.Index || from > l.LastIndex() {
		return 0, 0, fmt.Errorf("%w: span from %d", segment.ErrOutOfRange, from)
	}
	n, i := 0, from
	for ; i <= l.LastIndex() && i-from < uint64(maxCount); i++ {
		sz := len(l.ents[i-l.base.Index])
		if n > 0 && n+sz > maxBytes {
			break
		}
		n += sz
	}
	return i - 1, n, nil
}

// framed returns a copy of entries [from, from+count).
func (l *memLog) framed(from uint64, count uint32) []byte {
	var b []byte
	for i := from; i < from+uint64(count); i++ {
		b = append(b, l.ents[i-l.base.Index]...)
	}
	return b
}

func (l *memLog) offsetOf(i uint64) uint64 {
	off := l.base.Offset
	for k := l.base.Index; k < i; k++ {
		off += uint64(len(l.ents[k-l.base.Index]))
	}
	return off
}

func (l *memLog) Base() (record.Position, uint64, uint32) { return l.base, l.baseTerm, l.baseCRC }

func (l *memLog) Reset(base record.Position, prevTerm uint64, prevCRC uint32) error {
	if base.Index <= l.LastIndex() {
		return fmt.Errorf("%w: reset to %d, log holds up to %d", segment.ErrOutOfRange, base.Index, l.LastIndex())
	}
	l.base, l.baseTerm, l.baseCRC = base, prevTerm, prevCRC
	l.ents, l.terms, l.crcs = nil, nil, nil
	l.synced = base.Index - 1
	return nil
}

// deletePrefix drops entries below i (retention); i-1 must be synced.
func (l *memLog) deletePrefix(i uint64) {
	if i <= l.base.Index || i-1 > l.synced || i > l.LastIndex()+1 {
		return
	}
	k := i - l.base.Index
	l.base = record.Position{Index: i, Offset: l.offsetOf(i)}
	l.baseTerm, l.baseCRC = l.terms[k-1], l.crcs[k-1]
	l.ents, l.terms, l.crcs = l.ents[k:], l.terms[k:], l.crcs[k:]
}

func (l *memLog) sync() uint64 {
	l.synced = l.LastIndex()
	return l.synced
}

// powerLoss drops every entry that was not synced.
func (l *memLog) powerLoss() {
	_ = l.TruncateSuffix(max(l.synced+1, l.base.Index))
}

func (l *memLog) crcAt(i uint64) (uint32, bool) {
	if i < l.base.Index || i > l.LastIndex() {
		return 0, false
	}
	return l.crcs[i-l.base.Index], true
}

// Err reports no sticky failure: the in-memory log never fails.
func (l *memLog) Err() error { return nil }
