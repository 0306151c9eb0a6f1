// Package broker is rmqlog's RocketMQ broker: it stores RocketMQ messages
// in a Raft-replicated log (package engine, public API only), keeps
// RocketMQ's consume queues (broker/consumequeue) and consumer offsets and
// topic configs built from that log, and speaks RocketMQ's remoting
// protocol (remoting/rpc) to unmodified RocketMQ clients. It sits in the
// services row of docs/architecture.md, beside server/: a second embedder
// of the engine. docs/broker.md holds the design and its proofs.
//
// # Two ways to run it
//
// With a node of its own:
//
//	b, err := broker.Open(cfg, listener) // cfg.Engine configures the node
//
// Attached to a node someone else opens (the node daemon), the broker's
// hooks installed in that node's config before it opens:
//
//	b, err := broker.New(cfg)          // opens cfg.Dir: consume queues, tables
//	b.Hooks(&engineCfg)                // sets Stamp, chains OnRoleChange
//	node, err := engine.Open(engineCfg)
//	err = b.Start(node, listener)      // listener nil: serve b.Mux() yourself
//	...
//	b.Close()                          // then node.Close(): the caller owns it
//
// # Entries
//
// The broker proposes its entries as segment.TypeBroker (engine ProposeAs);
// the stamp, the applier and pulls ignore every other entry, so raw entries
// appended through the node's native client port are stored as they are
// and never become messages. A broker entry's payload is one of two
// things, told apart by the 32-bit word at byte offset 4:
//
// Messages: one or more RocketMQ messages in commitlog layout, back to back
// (a batch send is one entry); the word is the message's magic code
// (commitlog.MagicV1 or MagicV2). A metadata record: the word is
// RecordMagic (0x524D5142, "RMQB"), which is no commitlog magic code:
//
//	0        4        8                 16     17        20
//	+--------+--------+-----------------+------+---------+------------
//	| size   | magic  | physical offset | kind | 0 0 0   | body
//	+--------+--------+-----------------+------+---------+------------
//	size: the whole record (= the payload); physical offset: written
//	by the stamp, the record's own payload offset in the log.
//
//	kind 1, consumer offsets (big endian):
//	| group len u16 | group | n u32 | n x (topic len u16 | topic | queue id i32 | offset i64) |
//	kind 2, topic config: the JSON of namesrv.TopicConfig (RocketMQ's
//	TopicConfig fields).
//	kind 3, segment size: | size u64 | member len u16 | member |, the
//	group's mappedFileSizeCommitLog as the first master ran with it;
//	an applier whose own size differs stops (ErrSegmentSize).
//
// Every broker entry so knows its own physical offset (a message's is in
// its PHYSICALOFFSET field), which is how a pull finds the entry holding a
// consume queue unit's message: a binary search over entry indices, then a
// copy of the stored bytes (no re-encoding). The engine's no-ops carry
// none and are skipped.
//
// # The stamp
//
// engine.Config.Stamp runs on the leader in log order. For each message of
// a message entry it writes queue offset next[q]++ and physical offset =
// payload offset + the message's offset in the payload (and the store
// timestamp); a record gets its physical offset. next[q] is read from the
// consume queues at takeover, once the applier has applied every entry up
// to the commit index at the time the node became writable
// (docs/broker.md, rule 1); until then the broker answers sends
// SERVICE_NOT_AVAILABLE (RocketMQ's DefaultMessageStore.checkStoreStatus
// answer for a slave or a store that is not writeable; the Go client
// retries it on another broker). A proposal that was queued before a role
// change and appended after it is stamped with queue offset -1: every
// applier skips it (deterministic) and its sender gets
// SERVICE_NOT_AVAILABLE, so the client resends it.
//
// # Duplicate suppression
//
// A ready master keeps an index of the UNIQ_KEYs (per topic) it appended
// within Config.DedupWindow (default 60 s) and among the last
// Config.DedupMaxKeys (default 100000, about 320 bytes each): a send of a
// key in it answers the first append's msgId, queue id and queue offset,
// waiting for that append if it is still in flight. The takeover rebuilds
// the index from the log's messages within the window before the broker
// takes sends. Batches carry no UNIQ_KEY (the Go client sets none).
//
// # Delay levels and send-back
//
// A send with a DELAY level waits in ScheduleTopic queue level-1
// (REAL_TOPIC, REAL_QID); the ready master's scheduler delivers it to its
// real topic once its level's delay (Config.DelayLevels) passed. Each
// delivered message carries PropertyScheduleOffset, from which every
// applier advances the level's progress: a delivery and its progress
// commit in one entry, so a failover neither loses nor duplicates one.
// CONSUMER_SEND_MSG_BACK sends a failed message to %RETRY%<group> at
// delay level 3 + reconsume times, or to %DLQ%<group> after
// maxReconsumeTimes (both created on demand; the retry topic on the
// group's first heartbeat too).
//
// # Queue locks
//
// LOCK_BATCH_MQ and UNLOCK_BATCH_MQ lock queues for orderly consumers on
// the master, in memory, with Config.LockExpiry (60 s); every role change
// clears them and clients lock again.
//
// # Pulls
//
// Every member serves pulls from its consume queues (applied entries
// only). A pull's commit offset (FLAG_COMMIT_OFFSET) is committed through
// the log by the master, one record per group every 100 ms. With
// Config.SlaveReadEnable, an answer suggests a slave (SlowConsumerBrokerID)
// when the consumer is more than SlaveReadLag bytes behind the log's end.
//
// # The applier
//
// One goroutine follows the commit index in order (WaitCommit, View): each
// message's unit goes into the consume queues, each record into the tables
// (consumer offsets, topic configs). Every SyncInterval it makes them
// durable: 1. the tables snapshot, 2. consumequeue.Sync(applied). A
// contradiction from the consume queues (a stamp that is not the queue's
// next) stops the applier: logged, Status().Err, sends and new pulls see
// nothing more; never renumbered.
//
// # The tables snapshot (Dir/broker.tables)
//
//	+-------------+----------+-----------+------------------------------+
//	| magic "RMQT"| length   | CRC32C    | JSON: index, nextPhys,       |
//	| u32         | u32      | of JSON   | prevIndex, prevPhys, offsets,|
//	|             |          |           | topics                       |
//	+-------------+----------+-----------+------------------------------+
//
// Written before the consume queues' Sync (temp file, fsync, rename, fsync
// dir), it names the applied index and the byte after its entry
// (nextPhys), and the previous checkpoint's pair: after a crash the consume
// queues' checkpoint is one of the two, and its nextPhys is the physical
// offset TruncateFrom cuts at before the log is replayed from the next
// entry. Replaying records the snapshot already holds is harmless: they
// set values. If the checkpoint matches neither (the snapshot lost), the
// consume queues are rebuilt from the log.
//
// # Automatic topic creation
//
// Off by default (Config.AutoCreateTopic, RocketMQ's autoCreateTopicEnable,
// whose own documentation says to turn it off in production): a typo in a
// producer's topic would otherwise create a topic with default queues on
// one broker group only, and consumers of the intended topic never see its
// messages. Topics are created with UPDATE_AND_CREATE_TOPIC (a record
// through the log, so every member and every later master has it) or
// Broker.CreateTopic.
package broker
