package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/segment"
)

// scheduleTick is how often the master's scheduler looks for due messages.
const scheduleTick = 50 * time.Millisecond

// scheduleBatch bounds the bytes of one delivery entry (at least one
// message goes in each).
const scheduleBatch = 64 << 10

// errNotMaster ends the scheduler: the broker is no longer the ready
// master of the epoch it started in.
var errNotMaster = errors.New("broker: no longer the ready master")

// scheduleLoop delivers due delayed messages (ScheduleMessageService)
// while this broker is the ready master of epoch: for each level, the
// schedule queue from the level's progress on, as long as the message at
// the cursor is due. Each delivery entry carries its messages' schedule
// offsets (PropertyScheduleOffset), from which every member's applier
// advances the level's progress: the rule of docs/broker.md, "Delay
// levels".
func (b *Broker) scheduleLoop(epoch uint64) {
	defer b.wg.Done()
	t := time.NewTicker(scheduleTick)
	defer t.Stop()
	next := map[int]int64{}
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		for level := 1; level <= len(b.cfg.DelayLevels); level++ {
			err := b.deliverDue(epoch, level, next)
			if errors.Is(err, errNotMaster) {
				return
			}
			if err != nil {
				b.cfg.Logger.Warn("broker: delayed delivery failed; retried", "level", level, "err", err)
			}
		}
	}
}

func (b *Broker) masterOf(epoch uint64) bool {
	b.stampMu.Lock()
	defer b.stampMu.Unlock()
	return b.ready && b.epoch == epoch
}

// deliverDue delivers level's due messages, a batch entry at a time.
func (b *Broker) deliverDue(epoch uint64, level int, next map[int]int64) error {
	q := int32(level - 1)
	c, ok := next[level]
	if !ok {
		c = b.tables.delayProgress(level)
	}
	c = max(c, b.cq.MinOffset(ScheduleTopic, q))
	for c < b.cq.MaxOffset(ScheduleTopic, q) {
		if !b.masterOf(epoch) {
			return errNotMaster
		}
		payload, n, err := b.dueBatch(level, c)
		if err != nil || n == 0 {
			return err
		}
		if len(payload) > 0 {
			if err := b.proposeDelivery(payload); err != nil {
				return err
			}
		}
		c += int64(n)
		next[level] = c
	}
	return nil
}

// dueBatch encodes the due messages of level from schedule offset c on,
// as their real topic's messages, and returns how many units it covered
// (an undecodable one is covered and skipped, logged).
func (b *Broker) dueBatch(level int, c int64) ([]byte, int, error) {
	units, err := b.cq.Get(ScheduleTopic, int32(level-1), c, 32)
	if err != nil {
		return nil, 0, err
	}
	now := time.Now().UnixMilli()
	var payload []byte
	n := 0
	for i, u := range units {
		raw, err := b.readMessage(u.Phys, u.Size)
		if err != nil {
			return payload, n, err
		}
		m, _, err := commitlog.Decode(raw)
		if err != nil {
			b.cfg.Logger.Error("broker: delayed message skipped", "level", level, "offset", c+int64(i), "err", err)
			n++
			continue
		}
		if m.StoreTimestamp+b.cfg.DelayLevels[level-1].Milliseconds() > now {
			break
		}
		d, err := b.delivered(&m, level, c+int64(i))
		if err == nil {
			payload, err = commitlog.Encode(payload, &d, b.cfg.MaxBody)
		}
		if err != nil {
			b.cfg.Logger.Error("broker: delayed message skipped", "level", level, "offset", c+int64(i), "err", err)
		}
		n++
		if len(payload) >= scheduleBatch {
			break
		}
	}
	return payload, n, nil
}

// delivered is the real message of a due schedule message
// (ScheduleMessageService.messageTimeup): its REAL_TOPIC and REAL_QID,
// DELAY cleared, marked with its schedule offset.
func (b *Broker) delivered(m *commitlog.Message, level int, off int64) (commitlog.Message, error) {
	props, err := withProps(m.Properties, []string{commitlog.PropertyDelayTimeLevel},
		commitlog.Property{Name: PropertyScheduleOffset, Value: fmt.Sprintf("%d:%d", level, off)})
	if err != nil {
		return commitlog.Message{}, err
	}
	topic, _ := commitlog.Lookup(m.Properties, commitlog.PropertyRealTopic)
	qid, _ := commitlog.Lookup(m.Properties, commitlog.PropertyRealQueueID)
	q, err := strconv.Atoi(string(qid))
	if len(topic) == 0 || err != nil {
		return commitlog.Message{}, fmt.Errorf("schedule message without REAL_TOPIC/REAL_QID (%q, %q)", topic, qid)
	}
	return commitlog.Message{
		Topic: topic, QueueID: int32(q), Flag: m.Flag, Body: m.Body, Properties: props,
		SysFlag:       m.SysFlag &^ (commitlog.FlagBornHostV6 | commitlog.FlagStoreHostV6),
		BornTimestamp: m.BornTimestamp, BornHost: m.BornHost, StoreHost: b.storeHost,
		ReconsumeTimes: m.ReconsumeTimes,
	}, nil
}

// proposeDelivery appends a delivery entry and waits until it is applied
// here (the progress is then in the tables).
func (b *Broker) proposeDelivery(payload []byte) error {
	p, err := b.node.ProposeAs(segment.TypeBroker, payload)
	if err != nil {
		return fmt.Errorf("%w: %w", errNotMaster, err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		return fmt.Errorf("%w: %w", errNotMaster, err)
	}
	if err := b.waitFor(ctx, p.Index()); err != nil {
		return err
	}
	if h, err := commitlog.Peek(payload); err != nil || h.QueueOffset < 0 {
		return errNotMaster // stamped while not ready: a new master redelivers
	}
	return nil
}

// readMessageAt returns a copy of the message stored at physical offset
// phys (its size read from its header).
func (b *Broker) readMessageAt(phys int64) ([]byte, error) {
	i, err := b.locate(phys)
	if err != nil {
		return nil, err
	}
	var out []byte
	err = b.node.View(i, func(e segment.Entry) {
		start, ok := entryStart(e)
		rel := phys - start
		if !ok || rel < 0 || rel >= int64(len(e.Payload)) || IsRecord(e.Payload) {
			return
		}
		if h, err := commitlog.Peek(e.Payload[rel:]); err == nil {
			out = append([]byte(nil), e.Payload[rel:rel+int64(h.Size)]...)
		}
	})
	if err == nil && out == nil {
		err = fmt.Errorf("%w: %d (entry %d)", errNotFound, phys, i)
	}
	return out, err
}
