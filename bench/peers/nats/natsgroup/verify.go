package natsgroup

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	"github.com/rmqlog/rmqlog/internal/load"
)

// verifier compares one node's copy of the stream, read in sequence order,
// with the acknowledged appends. It is pure: Check feeds it what a
// consumer delivered.
type verifier struct {
	acks []load.Ack // sorted by Seq
	next int        // acks[:next] are decided
	want []byte     // scratch: the payload an ack should have

	lost  []uint64            // acknowledged sequences missing or holding other bytes
	seen  map[uint64]struct{} // operation ids read so far
	dups  map[uint64]struct{} // ids read at more than one sequence
	last  uint64              // the last sequence read
	read  int64               // messages read
	short int64               // messages too short to carry an id
}

// newVerifier expects acks (in any order; the slice is not changed) with
// payloads of payload bytes (load.FillPayload).
func newVerifier(acks []load.Ack, payload int) *verifier {
	sorted := slices.Clone(acks)
	slices.SortFunc(sorted, func(a, b load.Ack) int { return cmp.Compare(a.Seq, b.Seq) })
	return &verifier{
		acks: sorted,
		want: make([]byte, payload),
		seen: make(map[uint64]struct{}, len(acks)),
		dups: make(map[uint64]struct{}),
	}
}

// add takes the message at seq; sequences must increase. Acknowledged
// sequences skipped since the previous call are lost.
func (v *verifier) add(seq uint64, data []byte) {
	if seq <= v.last {
		panic(fmt.Sprintf("natsgroup: verifier: sequence %d after %d", seq, v.last))
	}
	v.last = seq
	v.read++
	for v.next < len(v.acks) && v.acks[v.next].Seq < seq {
		v.lost = append(v.lost, v.acks[v.next].Seq)
		v.next++
	}
	for v.next < len(v.acks) && v.acks[v.next].Seq == seq {
		load.FillPayload(v.want, v.acks[v.next].ID)
		if !bytes.Equal(data, v.want) {
			v.lost = append(v.lost, seq)
		}
		v.next++
	}
	id, ok := load.PayloadID(data)
	if !ok {
		v.short++
		return
	}
	if _, again := v.seen[id]; again {
		v.dups[id] = struct{}{}
	}
	v.seen[id] = struct{}{}
}

// finish returns the lost sequences (in order; one appears twice if two
// acknowledgements named it and both differ) and the number of ids read
// at more than one sequence. Acknowledged sequences after the last read
// are lost.
func (v *verifier) finish() (lost []uint64, duplicates int64) {
	for ; v.next < len(v.acks); v.next++ {
		v.lost = append(v.lost, v.acks[v.next].Seq)
	}
	return v.lost, int64(len(v.dups))
}
