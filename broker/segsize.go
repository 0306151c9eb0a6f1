package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rmqlog/rmqlog/segment"
)

// ErrSegmentSize: this member's segment size differs from the one the
// group's log records (docs/broker.md, "Requirements that follow").
var ErrSegmentSize = errors.New("broker: segment size differs from the group's")

// segmentSizeErr names both sizes and what to do.
func (b *Broker) segmentSizeErr(logSize int64, by string) error {
	return fmt.Errorf("%w: the log records mappedFileSizeCommitLog = %d bytes (member %s), this member %s runs with %d. "+
		"Physical offsets are positions on that file grid and would differ between members. "+
		"Set mappedFileSizeCommitLog = %d on this member, as on the others. If its own files were created with %d "+
		"(it then refuses to open them), move its data directory aside (keep it; do not delete it) and start it "+
		"with %d: it copies the log again from the other members",
		ErrSegmentSize, logSize, by, b.memberID, b.segSize, logSize, b.segSize, logSize)
}

// checkSegmentSize compares the segment size recorded in the applied log
// with this member's; nil while none is recorded.
func (b *Broker) checkSegmentSize() error {
	if logSize, by := b.tables.segment(); logSize != 0 && logSize != b.segSize {
		return b.segmentSizeErr(logSize, by)
	}
	return nil
}

// recordSegmentSize runs at takeover, before the master is ready: with no
// size in the log yet it proposes its own and waits until it is applied;
// with a different one it stops (the odd member is this one, not the
// others that applied the log's) and hands leadership to another member.
func (b *Broker) recordSegmentSize(ctx context.Context) error {
	if err := b.checkSegmentSize(); err != nil {
		b.stop(err)
		b.wg.Add(1)
		go b.handOver()
		return err
	}
	if logSize, _ := b.tables.segment(); logSize != 0 {
		return nil
	}
	p, err := b.node.ProposeAs(segment.TypeBroker, EncodeSegmentSize(b.segSize, b.memberID))
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Wait(wctx); err != nil {
		return err
	}
	return b.waitFor(wctx, p.Index())
}

// handOver transfers leadership to another member, best effort (a
// goroutine counted in wg).
func (b *Broker) handOver() {
	defer b.wg.Done()
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range b.peers {
			if id != b.memberID && !yield(id) {
				return
			}
		}
	})
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		err := b.node.TransferLeadership(ctx, id)
		cancel()
		if err == nil {
			return
		}
	}
}
