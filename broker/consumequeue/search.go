package consumequeue

import (
	"fmt"
	"sort"
)

// Lookup returns the store timestamp of the message at physical offset
// phys of size bytes (read from the commit log). It must not call the
// Store.
type Lookup func(phys int64, size int32) (storeTimestamp int64, err error)

// SearchOffset returns the queue offset of the first message of (topic,
// queueID) stored at or after timestamp (milliseconds, the messages' store
// timestamps): RocketMQ's getOffsetInQueueByTime (BoundaryType.LOWER, what
// SEARCH_OFFSET_BY_TIMESTAMP uses). Before the first message it returns
// the min offset; after the last, the max offset (the next to be written);
// among messages with the same timestamp, the first. Like RocketMQ it
// binary-searches, so it assumes store timestamps do not go backwards
// along the queue.
func (s *Store) SearchOffset(topic string, queueID int32, timestamp int64, lookup Lookup) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return 0, err
	}
	q := s.queue(topic, queueID, false)
	if q == nil {
		return 0, fmt.Errorf("%w: topic %q queue %d", ErrNoQueue, topic, queueID)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var err error
	i := sort.Search(int(q.next-q.min), func(i int) bool {
		if err != nil {
			return true
		}
		u, e := q.unitAt(q.min + int64(i))
		if e != nil {
			err = e
			return true
		}
		ts, e := lookup(u.Phys, u.Size)
		if e != nil {
			err = fmt.Errorf("consumequeue: store timestamp of topic %q queue %d offset %d (physical offset %d): %w",
				topic, queueID, q.min+int64(i), u.Phys, e)
			return true
		}
		return ts >= timestamp
	})
	if err != nil {
		return 0, err
	}
	return q.min + int64(i), nil
}
