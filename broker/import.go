package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/segment"
)

// ImportPack bounds the payload of one imported entry: messages are packed
// back to back into entries of up to this many bytes, or the member's
// maxMessageSize if lower (a message larger than that is an entry of its
// own), as a batch send is one entry.
const ImportPack = 256 << 10

// ErrImport wraps what makes a classic broker's data unfit for an import.
var ErrImport = errors.New("broker: import")

// ImportSource is a classic RocketMQ broker's data, for Import.
type ImportSource struct {
	// Messages calls yield with every stored message of the classic
	// CommitLog, in log order (the bytes as stored; valid during the call).
	Messages func(yield func(msg []byte) error) error
	// Topics is topics.json's topicConfigTable.
	Topics []namesrv.TopicConfig
	// Offsets is consumerOffset.json's offsetTable: group -> the group's
	// committed queue offsets.
	Offsets map[string][]OffsetUpdate
	// DelayProgress is delayOffset.json's offsetTable: delay level -> the
	// next schedule queue offset to deliver.
	DelayProgress map[int]int64
}

// ImportResult is what Import wrote (Seed) and what it left out.
type ImportResult struct {
	engine.SeedResult
	Messages       int64 // messages imported
	Entries        int64 // message entries (ImportPack)
	Queues         int   // (topic, queue id) pairs with messages
	Topics         int   // topic config records (topics.json's and AddedTopics)
	AddedTopics    []string
	Groups         int   // groups with committed offsets
	Delivered      int64 // SCHEDULE_TOPIC_XXXX messages left out: already delivered (delayOffset.json)
	HalfOrRollback int64 // transaction messages left out: prepared (never committed) or rolled back
}

// Import seeds the empty data directory of one member of a new group
// (engine.Seed, with cfg the member's engine config; its Stamp is set
// here) with a classic broker's data, so that the group starts where the
// classic broker stopped: every message with its topic, queue id, queue
// offset, store timestamp and hosts, and the consumer groups' committed
// offsets, so consumers resume where they were. docs/upgrade.md is the
// whole procedure; what changes and why:
//
//   - The physical offset (and so the offset message id, which encodes
//     it) becomes the message's position in rmqlog's log, as for every
//     message rmqlog stores (docs/broker.md): consumers address messages
//     by queue offset, which is kept. The message id clients give messages
//     (UNIQ_KEY) is kept.
//   - Transaction messages of type prepared or rollback are left out: the
//     classic broker never put them in a consume queue either, and rmqlog
//     does not serve transactions (a prepared message in flight is lost
//     with its producer's check-back, docs/upgrade.md says so).
//   - SCHEDULE_TOPIC_XXXX messages below delayOffset.json's progress of
//     their level were delivered already (their delivery is in the log):
//     they are left out, and the level's schedule queue starts at that
//     progress, so none is delivered twice.
//
// The entries, in order: a topic config record per topic (topics.json's,
// then one for each topic that has messages but no config: as many queues
// as its highest queue id + 1, read and write, AddedTopics names them),
// the messages (packed into entries of up to ImportPack bytes), then a
// consumer offsets record per group. The same source gives the same
// bytes on every member (compare SeedResult.LastCRC).
//
// Import refuses, before the group ever starts, messages that would stop
// every member's applier: queue offsets that do not follow each other in a
// queue (each queue's first may be any: retention removed what was
// before it), a message that does not decode, or an entry above the
// member's maxMessageSize.
func Import(cfg engine.Config, src ImportSource) (ImportResult, error) {
	var res ImportResult
	cfg.Stamp = importStamp
	next := map[queueKey]int64{} // the queue offset the next message of a queue must have
	maxQueue := map[string]int32{}
	var pack []byte
	limit := ImportPack
	if cfg.MaxEntrySize > 0 {
		limit = min(limit, cfg.MaxEntrySize)
	}
	seed, err := engine.Seed(cfg, func(add func(segment.Type, []byte) error) error {
		topics, err := importTopics(src.Topics)
		if err != nil {
			return err
		}
		for _, js := range topics {
			if err := add(segment.TypeBroker, EncodeTopic(js)); err != nil {
				return err
			}
		}
		flush := func() error {
			if len(pack) == 0 {
				return nil
			}
			res.Entries++
			err := add(segment.TypeBroker, pack)
			pack = pack[:0]
			return err
		}
		if err := src.Messages(func(msg []byte) error {
			h, err := commitlog.Peek(msg)
			if err != nil {
				return fmt.Errorf("%w: a stored message does not decode: %w", ErrImport, err)
			}
			msg = msg[:h.Size]
			switch t := h.SysFlag.Transaction(); {
			case t == commitlog.TransactionPrepared || t == commitlog.TransactionRollback:
				res.HalfOrRollback++
				return nil
			case string(h.Topic) == ScheduleTopic && h.QueueOffset < src.DelayProgress[int(h.QueueID)+1]:
				res.Delivered++
				return nil
			}
			k := queueKey{string(h.Topic), h.QueueID}
			if n, ok := next[k]; ok && h.QueueOffset != n {
				return fmt.Errorf("%w: topic %q queue %d: the message at classic commit log offset %d has queue offset %d, "+
					"expected %d (the one before it + 1): the consume queues of this CommitLog were not built from it "+
					"in order; check it with `rmqlog commitlog check`", ErrImport, k.Topic, k.Queue, h.PhysicalOffset, h.QueueOffset, n)
			}
			next[k] = h.QueueOffset + 1
			maxQueue[k.Topic] = max(maxQueue[k.Topic], k.Queue)
			if len(pack) > 0 && len(pack)+len(msg) > limit {
				if err := flush(); err != nil {
					return err
				}
			}
			pack = append(pack, msg...)
			res.Messages++
			return nil
		}); err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
		known := map[string]bool{}
		for _, tc := range src.Topics {
			known[tc.TopicName] = true
		}
		for _, topic := range slices.Sorted(maps.Keys(maxQueue)) {
			if known[topic] {
				continue
			}
			n := int(maxQueue[topic]) + 1
			js, err := json.Marshal(namesrv.TopicConfig{TopicName: topic, ReadQueueNums: n, WriteQueueNums: n, Perm: namesrv.PermRead | namesrv.PermWrite})
			if err != nil {
				return err
			}
			if err := add(segment.TypeBroker, EncodeTopic(js)); err != nil {
				return err
			}
			res.AddedTopics = append(res.AddedTopics, topic)
		}
		res.Topics = len(topics) + len(res.AddedTopics)
		for _, group := range slices.Sorted(maps.Keys(src.Offsets)) {
			ups := src.Offsets[group]
			if len(ups) == 0 {
				continue
			}
			rec, err := EncodeOffsets(group, ups)
			if err != nil {
				return fmt.Errorf("%w: group %q: %w", ErrImport, group, err)
			}
			if err := add(segment.TypeBroker, rec); err != nil {
				return err
			}
			res.Groups++
		}
		return nil
	})
	res.SeedResult, res.Queues = seed, len(next)
	if errors.Is(err, engine.ErrTooLarge) {
		err = fmt.Errorf("%w: a message is larger than this member's maxMessageSize (%w); set maxMessageSize to the classic broker's", ErrImport, err)
	}
	return res, err
}

// importTopics returns the topic config records' JSON, in topic order.
func importTopics(tcs []namesrv.TopicConfig) ([][]byte, error) {
	tcs = slices.Clone(tcs)
	slices.SortFunc(tcs, func(a, b namesrv.TopicConfig) int { return strings.Compare(a.TopicName, b.TopicName) })
	var out [][]byte
	for i, tc := range tcs {
		if tc.TopicName == "" || i > 0 && tc.TopicName == tcs[i-1].TopicName {
			return nil, fmt.Errorf("%w: topics.json: an empty or repeated topic name %q", ErrImport, tc.TopicName)
		}
		js, err := json.Marshal(tc)
		if err != nil {
			return nil, err
		}
		out = append(out, js)
	}
	return out, nil
}

// importStamp is engine.Config.Stamp for Import: a record gets its
// physical offset, each message its own (its position in the log); queue
// offsets and store timestamps are the classic broker's, kept.
func importStamp(typ segment.Type, _, offset uint64, payload []byte) {
	if typ != segment.TypeBroker || stampIfRecord(payload, offset) {
		return
	}
	_ = Messages(payload, func(off int, h commitlog.Header) error {
		commitlog.SetOffsets(payload[off:], h.QueueOffset, int64(offset)+int64(off))
		return nil
	})
}

// ParseTopicsJSON reads a classic broker's config/topics.json
// (TopicConfigSerializeWrapper: topicConfigTable by topic name).
func ParseTopicsJSON(b []byte) ([]namesrv.TopicConfig, error) {
	var raw struct {
		Table map[string]namesrv.TopicConfig `json:"topicConfigTable"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: topics.json: %w", ErrImport, err)
	}
	var out []namesrv.TopicConfig
	for _, name := range slices.Sorted(maps.Keys(raw.Table)) {
		tc := raw.Table[name]
		if tc.TopicName == "" {
			tc.TopicName = name
		}
		if tc.TopicName != name || name == "" {
			return nil, fmt.Errorf("%w: topics.json: topic %q is filed under %q", ErrImport, tc.TopicName, name)
		}
		out = append(out, tc)
	}
	return out, nil
}

// ParseConsumerOffsetJSON reads a classic broker's
// config/consumerOffset.json: offsetTable, keyed "topic@group", each a
// map of queue id to offset, written by fastjson with unquoted integer
// keys (accepted quoted too).
func ParseConsumerOffsetJSON(b []byte) (map[string][]OffsetUpdate, error) {
	var raw struct {
		Table map[string]map[int32]int64 `json:"offsetTable"`
	}
	if err := json.Unmarshal(namesrv.QuoteIntKeys(b), &raw); err != nil {
		return nil, fmt.Errorf("%w: consumerOffset.json: %w", ErrImport, err)
	}
	out := map[string][]OffsetUpdate{}
	for _, key := range slices.Sorted(maps.Keys(raw.Table)) {
		// Topics cannot hold '@'; groups can only in RocketMQ's LMQ form,
		// so the key splits at its first '@' (ConsumerOffsetManager does).
		topic, group, ok := strings.Cut(key, "@")
		if !ok || topic == "" || group == "" {
			return nil, fmt.Errorf("%w: consumerOffset.json: key %q is not topic@group", ErrImport, key)
		}
		qs := raw.Table[key]
		for _, q := range slices.Sorted(maps.Keys(qs)) {
			out[group] = append(out[group], OffsetUpdate{Topic: topic, QueueID: q, Offset: qs[q]})
		}
	}
	return out, nil
}

// ParseDelayOffsetJSON reads a classic broker's config/delayOffset.json:
// offsetTable, delay level -> the next schedule queue offset to deliver.
func ParseDelayOffsetJSON(b []byte) (map[int]int64, error) {
	var raw struct {
		Table map[int]int64 `json:"offsetTable"`
	}
	if err := json.Unmarshal(namesrv.QuoteIntKeys(b), &raw); err != nil {
		return nil, fmt.Errorf("%w: delayOffset.json: %w", ErrImport, err)
	}
	return raw.Table, nil
}
