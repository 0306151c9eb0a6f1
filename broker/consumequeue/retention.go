package consumequeue

import "sort"

// DeleteBefore applies the log's retention: physOffset is the first byte
// the log still holds. In every queue it removes the files whose units all
// lie below it (never a queue's last file, which keeps the max offset, as
// RocketMQ's deleteExpiredFileByOffset) and moves the min offset to the
// first unit at or above it (RocketMQ's correctMinOffset). Removals become
// durable with the next Sync; a store reopened after a crash may show
// removed files again, so the caller calls DeleteBefore after TruncateFrom
// with the log's first offset. The log must keep every entry after the
// checkpointed index (Info.Index) so that a crash can be replayed: units
// put after DeleteBefore are never checked against it.
func (s *Store) DeleteBefore(physOffset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	for _, byID := range s.queues {
		for _, q := range byID {
			if err := q.deleteBefore(physOffset); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteBefore is DeleteBefore for one queue; s.mu held exclusively.
func (q *Queue) deleteBefore(bound int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.files) > 1 {
		last, err := q.unitAt(q.files[0].first + q.upf() - 1)
		if err != nil {
			return err
		}
		if last.Phys >= bound {
			break
		}
		if err := q.removeFirst(); err != nil {
			return err
		}
		q.min = max(q.min, q.files[0].first)
	}
	return q.correctMin(bound)
}

// correctMin moves min to the first unit of the first file at or above
// bound (next if there is none); q.mu held.
func (q *Queue) correctMin(bound int64) error {
	if len(q.files) == 0 || q.min >= q.next {
		return nil
	}
	lo, hi := q.min, min(q.next, q.files[0].first+q.upf())
	var err error
	i := sort.Search(int(hi-lo), func(i int) bool {
		u, e := q.unitAt(lo + int64(i))
		if e != nil {
			err = e
			return true
		}
		return u.Phys >= bound
	})
	if err != nil {
		return err
	}
	q.min = lo + int64(i)
	return nil
}
