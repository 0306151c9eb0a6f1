package segment

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// TestAgainstModel drives random appends, batches, truncations, prefix
// deletions, resets, syncs, checkpoints, clean reopens and crashes against a naive
// in-memory log, comparing every entry and term after each operation.
func TestAgainstModel(t *testing.T) {
	for seed := uint64(0); seed < 100; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		fs := NewMemFS()
		l := mustOpen(t, fs)
		m := newModel()
		var durable uint64
		for op := 0; op < 120; op++ {
			switch r := rng.IntN(100); {
			case r < 40:
				if err := appendRandom(t, l, m, rng, 1+rng.IntN(20), 600); err != nil {
					t.Fatalf("seed %d op %d: append: %v", seed, op, err)
				}
			case r < 50:
				batchRandom(t, l, m, rng)
			case r < 58 && m.last() >= m.first:
				i := m.first + uint64(rng.IntN(int(m.last()-m.first)+2))
				if err := l.TruncateSuffix(i); err != nil {
					t.Fatalf("seed %d op %d: truncate %d: %v", seed, op, i, err)
				}
				m.truncate(i)
				durable = min(durable, m.last())
			case r < 64:
				first, err := l.DeletePrefix(m.first + uint64(rng.IntN(200)))
				if err != nil {
					t.Fatalf("seed %d op %d: delete prefix: %v", seed, op, err)
				}
				m.deletePrefix(first)
			case r < 66:
				base := Position{Index: m.last() + 1 + uint64(rng.IntN(50)), Offset: l.next.Offset + uint64(rng.IntN(20000))}
				term := m.lastTerm() + uint64(rng.IntN(2))
				if err := l.Reset(base, term, rng.Uint32()); err != nil {
					t.Fatalf("seed %d op %d: reset to %+v: %v", seed, op, base, err)
				}
				*m = model{first: base.Index, baseTerm: term}
				durable = base.Index - 1
			case r < 80:
				durable = mustSync(t, l)
			case r < 88:
				if err := l.Checkpoint(); err != nil {
					t.Fatal(err)
				}
			case r < 94:
				_ = l.Close()
				l = mustOpen(t, fs)
			default:
				fs = fs.Crash()
				l = mustOpen(t, fs)
				m.truncate(max(l.LastIndex()+1, m.first))
			}
			checkPrefix(t, l, m, max(durable, m.first-1))
			if l.LastIndex() != m.last() {
				t.Fatalf("seed %d op %d: last index %d, model %d", seed, op, l.LastIndex(), m.last())
			}
		}
		_ = l.Close()
	}
}

func batchRandom(t *testing.T, l *Log, m *model, rng *rand.Rand) {
	es := make([]Entry, 1+rng.IntN(10))
	term := m.lastTerm() + uint64(rng.IntN(2))
	for k := range es {
		es[k] = Entry{Term: term, Type: TypeNormal, Payload: payload(rng, m.last()+uint64(k)+1, rng.IntN(300))}
	}
	last, err := l.AppendBatch(es)
	if err != nil {
		t.Fatalf("append batch: %v", err)
	}
	for _, e := range es {
		m.append(e)
	}
	if last != m.last() {
		t.Fatalf("batch returned %d, want %d", last, m.last())
	}
}

// TestFramedReplica copies a leader's log to a follower with Framed and
// AppendFramed, through a conflict and truncation on the follower, and
// checks that the data files end up byte-identical at identical offsets.
func TestFramedReplica(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	lfs, ffs := NewMemFS(), NewMemFS()
	leader, follower := mustOpen(t, lfs), mustOpen(t, ffs)
	defer leader.Close()
	defer follower.Close()
	m := newModel()
	if err := appendRandom(t, leader, m, rng, 200, 500); err != nil {
		t.Fatal(err)
	}
	replicate(t, leader, follower, 1)
	// The follower gets entries of a term the leader never had, then the
	// leader's log wins: truncate at the conflict and copy again.
	fm := m.clone()
	if err := appendRandom(t, follower, fm, rng, 30, 500); err != nil {
		t.Fatal(err)
	}
	if err := appendRandom(t, leader, m, rng, 50, 500); err != nil {
		t.Fatal(err)
	}
	if err := follower.TruncateSuffix(201); err != nil {
		t.Fatal(err)
	}
	replicate(t, leader, follower, 201)
	checkPrefix(t, follower, m, m.last())
	sameDataFiles(t, lfs, ffs)
	// A batch that does not continue the log is refused whole.
	bufs, _, err := leader.Framed(5, 1<<20, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := follower.AppendFramed(bytes.Join(bufs, nil)); err == nil {
		t.Fatal("AppendFramed accepted entries 5-7 after", follower.LastIndex())
	}
}

// TestResetFollower: a follower whose missing entries the leader deleted
// restarts at the leader's base and ends up byte-identical from there on.
func TestResetFollower(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	lfs, ffs := NewMemFS(), NewMemFS()
	leader, follower := mustOpen(t, lfs), mustOpen(t, ffs)
	defer leader.Close()
	defer follower.Close()
	m := newModel()
	if err := appendRandom(t, leader, m, rng, 300, 500); err != nil {
		t.Fatal(err)
	}
	mustSync(t, leader)
	first, err := leader.DeletePrefix(200)
	if err != nil || first <= 1 {
		t.Fatalf("delete prefix: %d, %v", first, err)
	}
	m.deletePrefix(first)
	base, term, crc := leader.Base()
	if err := follower.Reset(base, term, crc); err != nil {
		t.Fatal(err)
	}
	replicate(t, leader, follower, first)
	checkPrefix(t, follower, m, m.last())
	sameDataFiles(t, lfs, ffs)
	if err := follower.Reset(Position{Index: 5}, 1, 0); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("reset below the log's end: %v, want ErrOutOfRange", err)
	}
}

// sameDataFiles checks that every data file of the leader is byte-identical
// on the follower.
func sameDataFiles(t *testing.T, lfs, ffs *MemFS) {
	t.Helper()
	for _, name := range lfs.Files() {
		if filepath.Ext(name) != dataExt {
			continue
		}
		a, _ := lfs.ReadFile(name)
		if b, err := ffs.ReadFile(name); err != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s differs between leader and follower (%v)", name, err)
		}
	}
}

// replicate sends the leader's entries from index from on in batches.
func replicate(t *testing.T, leader, follower *Log, from uint64) {
	t.Helper()
	for from <= leader.LastIndex() {
		bufs, next, err := leader.Framed(from, 4096, 64, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bufs {
			if _, err := follower.AppendFramed(b); err != nil {
				t.Fatalf("append framed at %d: %v", from, err)
			}
		}
		from = next
	}
}
