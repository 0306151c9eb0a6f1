package broker

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/remoting"
)

// DefaultLockExpiry is RocketMQ's REBALANCE_LOCK_MAX_LIVE_TIME: a queue
// lock not renewed for this long is free for another client.
const DefaultLockExpiry = 60 * time.Second

// MessageQueue names a queue in LOCK_BATCH_MQ and UNLOCK_BATCH_MQ bodies.
type MessageQueue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int    `json:"queueId"`
}

// lockBatchBody is LockBatchRequestBody and UnlockBatchRequestBody.
type lockBatchBody struct {
	ConsumerGroup string         `json:"consumerGroup"`
	ClientID      string         `json:"clientId"`
	MQs           []MessageQueue `json:"mqSet"`
}

type lockKey struct {
	group string
	mq    MessageQueue
}

type lockHolder struct {
	client string
	last   time.Time
}

// locks are the master's queue locks for orderly consumers
// (RebalanceLockManager), in memory only: a new master starts with none
// and clients lock again (docs/broker.md). mu guards held.
type locks struct {
	mu   sync.Mutex
	held map[lockKey]lockHolder
}

func newLocks() *locks { return &locks{held: map[lockKey]lockHolder{}} }

// tryLock locks for client every queue that is free, expired, or already
// its own (renewing it), and returns those.
func (l *locks) tryLock(group, client string, mqs []MessageQueue, now time.Time, expiry time.Duration) []MessageQueue {
	l.mu.Lock()
	defer l.mu.Unlock()
	ok := []MessageQueue{}
	for _, mq := range mqs {
		k := lockKey{group, mq}
		h, held := l.held[k]
		if held && h.client != client && now.Sub(h.last) <= expiry {
			continue
		}
		l.held[k] = lockHolder{client, now}
		ok = append(ok, mq)
	}
	return ok
}

// unlock releases the queues client holds.
func (l *locks) unlock(group, client string, mqs []MessageQueue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, mq := range mqs {
		k := lockKey{group, mq}
		if h, held := l.held[k]; held && h.client == client {
			delete(l.held, k)
		}
	}
}

// clear forgets every lock (a role change).
func (l *locks) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.held)
}

// handleLockBatch serves LOCK_BATCH_MQ: the body lists the queues a
// client wants; the answer's lockOKMQSet those it now holds.
func (b *Broker) handleLockBatch(_ context.Context, req *remoting.Command) *remoting.Command {
	if !b.isReady() {
		return notReady(req)
	}
	var body lockBatchBody
	if err := json.Unmarshal(req.Body, &body); err != nil || body.ConsumerGroup == "" || body.ClientID == "" {
		return fail(req, remoting.InvalidParameter, "LOCK_BATCH_MQ body needs consumerGroup, clientId and mqSet: %v", err)
	}
	ok := b.locks.tryLock(body.ConsumerGroup, body.ClientID, body.MQs, time.Now(), b.cfg.LockExpiry)
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body, _ = json.Marshal(map[string][]MessageQueue{"lockOKMQSet": ok})
	return resp
}

// handleUnlockBatch serves UNLOCK_BATCH_MQ (the Go client sends it as an
// ordinary request even when it means one-way; answered either way).
func (b *Broker) handleUnlockBatch(_ context.Context, req *remoting.Command) *remoting.Command {
	var body lockBatchBody
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return fail(req, remoting.InvalidParameter, "UNLOCK_BATCH_MQ body: %v", err)
	}
	b.locks.unlock(body.ConsumerGroup, body.ClientID, body.MQs)
	return remoting.NewResponse(req, remoting.Success, "")
}
