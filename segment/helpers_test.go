package segment

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
)

const testDir = "/log"

// testOpts are small files on fs, prepared inline so fault sweeps are
// deterministic.
func testOpts(fs FS) Options {
	return Options{FS: fs, SegmentSize: 4096, IndexEntries: 512, inlinePrepare: true,
		Logger: slog.New(slog.DiscardHandler)}
}

// model is the naive reference log: entries by index.
type model struct {
	first    uint64
	entries  []Entry // entries[k] has index first+k
	baseTerm uint64  // the term of entry first-1 (1 before any)
}

func newModel() *model { return &model{first: 1, baseTerm: 1} }

func (m *model) last() uint64 { return m.first + uint64(len(m.entries)) - 1 }

func (m *model) lastTerm() uint64 {
	if len(m.entries) == 0 {
		return m.baseTerm
	}
	return m.entries[len(m.entries)-1].Term
}

func (m *model) append(e Entry) {
	e.Payload = bytes.Clone(e.Payload)
	m.entries = append(m.entries, e)
}

func (m *model) truncate(i uint64) { m.entries = m.entries[:i-m.first] }

func (m *model) deletePrefix(first uint64) {
	if first > m.first {
		m.baseTerm = m.entries[first-1-m.first].Term
	}
	m.entries = m.entries[first-m.first:]
	m.first = first
}

// payload makes a recognisable payload of n bytes for entry i.
func payload(rng *rand.Rand, i uint64, n int) []byte {
	b := make([]byte, n)
	for k := range b {
		b[k] = byte(rng.Uint32())
	}
	if n >= 8 {
		copy(b, fmt.Sprintf("%08d", i%1e8))
	}
	return b
}

// appendRandom appends n entries of random sizes (up to maxSize) to l and m.
func appendRandom(t testing.TB, l *Log, m *model, rng *rand.Rand, n, maxSize int) error {
	t.Helper()
	for k := 0; k < n; k++ {
		term := m.lastTerm()
		if rng.IntN(20) == 0 {
			term++
		}
		p := payload(rng, m.last()+1, rng.IntN(maxSize+1))
		i, err := l.Append(term, TypeNormal, p)
		if err != nil {
			return err
		}
		if i != m.last()+1 {
			t.Fatalf("append returned index %d, want %d", i, m.last()+1)
		}
		m.append(Entry{Index: i, Term: term, Type: TypeNormal, Payload: p})
	}
	return nil
}

// checkPrefix verifies that l holds exactly m's entries from m.first up to
// l.LastIndex(), that it holds at least up to mustHave, and that terms and
// payloads match.
func checkPrefix(t testing.TB, l *Log, m *model, mustHave uint64) {
	t.Helper()
	if err := matches(l, m, mustHave); err != nil {
		t.Fatal(err)
	}
}

// checkEither accepts the log if it matches one of two models.
func checkEither(t testing.TB, l *Log, a, b *model, mustHaveA, mustHaveB uint64) {
	t.Helper()
	errA := matches(l, a, mustHaveA)
	if errA == nil {
		return
	}
	if errB := matches(l, b, mustHaveB); errB != nil {
		t.Fatalf("log matches neither state:\n  after: %v\n  before: %v", errA, errB)
	}
}

func matches(l *Log, m *model, mustHave uint64) error {
	if l.FirstIndex() != m.first {
		return fmt.Errorf("first index %d, want %d", l.FirstIndex(), m.first)
	}
	if l.LastIndex() < mustHave || l.LastIndex() > m.last() {
		return fmt.Errorf("last index %d, want in [%d, %d]", l.LastIndex(), mustHave, m.last())
	}
	for i := m.first; i <= l.LastIndex(); i++ {
		e, err := l.Read(i)
		if err != nil {
			return fmt.Errorf("read %d: %v", i, err)
		}
		want := m.entries[i-m.first]
		if e.Index != i || e.Term != want.Term || e.Type != want.Type || !bytes.Equal(e.Payload, want.Payload) {
			return fmt.Errorf("entry %d: got (term %d, %d bytes), want (term %d, %d bytes)", i, e.Term, len(e.Payload), want.Term, len(want.Payload))
		}
		term, err := l.Term(i)
		if err != nil || term != want.Term {
			return fmt.Errorf("Term(%d) = %d, %v; want %d", i, term, err, want.Term)
		}
	}
	return nil
}

func (m *model) clone() *model {
	return &model{first: m.first, entries: append([]Entry(nil), m.entries...), baseTerm: m.baseTerm}
}

func mustOpen(t testing.TB, fs FS) *Log {
	t.Helper()
	l, err := Open(testDir, testOpts(fs))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return l
}

func mustSync(t testing.TB, l *Log) uint64 {
	t.Helper()
	d, err := l.Sync()
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return d
}

func isCorrupt(err error) bool { return errors.Is(err, ErrCorrupt) }
