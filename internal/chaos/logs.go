package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/chaos/check"
)

// ReadLogs reads every node's committed log, entry by entry, through its
// client port (Range, pinned to that node), up to its commit index.
func (c *Cluster) ReadLogs(ctx context.Context) []check.NodeLog {
	var out []check.NodeLog
	for _, id := range c.ids {
		es, err := c.readLog(ctx, id)
		out = append(out, check.NodeLog{Node: id, Entries: es, Err: err})
	}
	return out
}

func (c *Cluster) readLog(ctx context.Context, id string) ([]check.Entry, error) {
	cl, err := client.Dial(ctx, []string{c.clients[id]}, client.WithPinned(), client.WithDialTimeout(2*time.Second))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	m, err := cl.Meta(ctx)
	if err != nil {
		return nil, err
	}
	var es []check.Entry
	for next := m.First; next <= m.Commit; {
		batch, err := cl.Range(ctx, next, 4096)
		if err != nil {
			return es, fmt.Errorf("%s: range from %d: %w", id, next, err)
		}
		if len(batch) == 0 {
			return es, fmt.Errorf("%s: range from %d returned nothing below its commit index %d", id, next, m.Commit)
		}
		for _, e := range batch {
			if e.Index != next {
				return es, fmt.Errorf("%s: range returned index %d, expected %d", id, e.Index, next)
			}
			if e.Index > m.Commit {
				break
			}
			es = append(es, check.EntryOf(e.Index, e.Term, entryType(e.Type), e.CRC, e.Payload))
			next++
		}
	}
	return es, nil
}

// entryType maps the client protocol's entry types to the log's (1 =
// normal message, 2 = no-op; see segment.Type).
func entryType(t uint8) uint8 {
	switch t {
	case proto.EntryMessage:
		return 1
	case proto.EntryNoop:
		return 2
	}
	return t
}
