package engine_test

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
	"github.com/rmqlog/rmqlog/internal/testgroup"
	"github.com/rmqlog/rmqlog/segment"
)

// TestStampAcrossFailover: Config.Stamp writes, on the leader, each
// entry's payload offset into the payload; after appends across segment
// files, a failover and more appends on the new leader, every member holds
// every entry at the offset its leader stamped, and only the member that
// led when an entry was appended stamped it.
func TestStampAcrossFailover(t *testing.T) {
	var mu sync.Mutex
	stampers := map[uint64][]string{} // index: the members that stamped it
	g := startGroup(t, flush.SyncFlush, testgroup.Options{Config: func(c *engine.Config) {
		id := c.ID
		c.Stamp = func(typ segment.Type, index, offset uint64, payload []byte) {
			if typ != segment.TypeNormal {
				t.Errorf("entry %d stamped with type %v", index, typ)
			}
			binary.LittleEndian.PutUint64(payload, offset)
			binary.LittleEndian.PutUint64(payload[8:], index)
			mu.Lock()
			stampers[index] = append(stampers[index], id)
			mu.Unlock()
		}
	}})
	appendN := func(n int) uint64 {
		var last uint64
		for range n {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			i, err := g.Append(ctx, make([]byte, 3000)) // 256 KiB files: about 85 a file
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			last = i
		}
		return last
	}
	first := appendN(200)
	old := g.Leader()
	g.Stop(old.ID())
	last := appendN(200)
	lead := g.Leader().ID()
	g.Restart(old.ID())
	g.Converge(last)

	for _, n := range g.Nodes() {
		st := n.Status()
		for i := st.First; i <= last; i++ {
			e, err := n.Read(i)
			if err != nil {
				t.Fatal(err)
			}
			if e.Type != segment.TypeNormal {
				continue
			}
			off, err := engine.EntryOffset(n, i)
			if err != nil {
				t.Fatal(err)
			}
			if got, idx := binary.LittleEndian.Uint64(e.Payload), binary.LittleEndian.Uint64(e.Payload[8:]); got != off+segment.HeaderSize || idx != i {
				t.Fatalf("%s entry %d: stamped (offset %d, index %d); its payload lies at %d", st.ID, i, got, idx, off+segment.HeaderSize)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, ids := range stampers {
		want := old.ID()
		if i > first {
			want = lead
		}
		if len(ids) != 1 || ids[0] != want {
			t.Errorf("entry %d stamped by %v; the leader of its append was %s", i, ids, want)
		}
	}
}
