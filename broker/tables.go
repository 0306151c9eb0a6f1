package broker

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"

	"github.com/rmqlog/rmqlog/namesrv"
)

// queueKey names one consume queue.
type queueKey struct {
	Topic string
	Queue int32
}

// tables are the broker's metadata, built from metadata records in log
// order by the applier. mu guards every field; readers are the handlers.
type tables struct {
	mu      sync.RWMutex
	offsets map[string]map[queueKey]int64 // group -> queue -> committed offset
	topics  map[string]namesrv.TopicConfig
	delay   map[int32]int64 // delay level -> the next schedule offset to deliver
	segSize int64           // the group's segment size in the log (0: none yet)
	segBy   string          // the member that recorded it
}

// segment returns the last segment size recorded in the log and by whom.
func (t *tables) segment() (int64, string) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.segSize, t.segBy
}

func newTables() *tables {
	return &tables{offsets: map[string]map[queueKey]int64{}, topics: map[string]namesrv.TopicConfig{}, delay: map[int32]int64{}}
}

// delivered advances a delay level's progress past schedule offset off
// (the applier, for a message the scheduler delivered).
func (t *tables) delivered(level int, off int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if off+1 > t.delay[int32(level)] {
		t.delay[int32(level)] = off + 1
	}
}

// delayProgress is the next schedule offset of level to deliver.
func (t *tables) delayProgress(level int) int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.delay[int32(level)]
}

// apply applies one decoded record; a topic config that is not JSON is
// skipped (returned as an error for the log, not a stop).
func (t *tables) apply(r Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch r.Kind {
	case KindConsumerOffsets:
		g := t.offsets[r.Group]
		if g == nil {
			g = map[queueKey]int64{}
			t.offsets[r.Group] = g
		}
		for _, u := range r.Offsets {
			g[queueKey{u.Topic, u.QueueID}] = u.Offset
		}
	case KindSegmentSize:
		t.segSize, t.segBy = r.SegmentSize, r.Member
	case KindTopicConfig:
		var tc namesrv.TopicConfig
		if err := json.Unmarshal(r.Topic, &tc); err != nil || tc.TopicName == "" {
			return fmt.Errorf("%w: topic config %q: %v", ErrRecord, r.Topic, err)
		}
		t.topics[tc.TopicName] = tc
	}
	return nil
}

func (t *tables) offset(group, topic string, q int32) (int64, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	v, ok := t.offsets[group][queueKey{topic, q}]
	return v, ok
}

func (t *tables) topic(name string) (namesrv.TopicConfig, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	tc, ok := t.topics[name]
	return tc, ok
}

func (t *tables) topicList() map[string]namesrv.TopicConfig {
	t.mu.RLock()
	defer t.mu.RUnlock()
	m := make(map[string]namesrv.TopicConfig, len(t.topics))
	for k, v := range t.topics {
		m[k] = v
	}
	return m
}

// snapshot is the tables file's content (doc.go: "The tables snapshot").
type snapshot struct {
	// Index is the last applied entry the tables include; NextPhys the
	// byte after its payload (every message of a later entry lies at or
	// above it).
	Index    uint64 `json:"index"`
	NextPhys int64  `json:"nextPhys"`
	// PrevIndex and PrevPhys are the previous snapshot's, the consume
	// queues' checkpoint if the crash came before their Sync.
	PrevIndex uint64                         `json:"prevIndex"`
	PrevPhys  int64                          `json:"prevPhys"`
	Offsets   []snapOffset                   `json:"offsets"`
	Topics    map[string]namesrv.TopicConfig `json:"topics"`
	Delay     map[int32]int64                `json:"delay,omitempty"`
	SegSize   int64                          `json:"segSize,omitempty"`
	SegBy     string                         `json:"segBy,omitempty"`
}

type snapOffset struct {
	Group  string `json:"g"`
	Topic  string `json:"t"`
	Queue  int32  `json:"q"`
	Offset int64  `json:"o"`
}

func (t *tables) snapshot(s *snapshot) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s.SegSize, s.SegBy = t.segSize, t.segBy
	s.Delay = make(map[int32]int64, len(t.delay))
	for k, v := range t.delay {
		s.Delay[k] = v
	}
	s.Topics = make(map[string]namesrv.TopicConfig, len(t.topics))
	for k, v := range t.topics {
		s.Topics[k] = v
	}
	for g, m := range t.offsets {
		for k, o := range m {
			s.Offsets = append(s.Offsets, snapOffset{g, k.Topic, k.Queue, o})
		}
	}
}

func (t *tables) restore(s *snapshot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range s.Topics {
		t.topics[k] = v
	}
	for k, v := range s.Delay {
		t.delay[k] = v
	}
	t.segSize, t.segBy = s.SegSize, s.SegBy
	for _, o := range s.Offsets {
		g := t.offsets[o.Group]
		if g == nil {
			g = map[queueKey]int64{}
			t.offsets[o.Group] = g
		}
		g[queueKey{o.Topic, o.Queue}] = o.Offset
	}
}

// snapMagic starts the tables file ("RMQT").
const snapMagic = 0x524D5154

// ErrSnapshot: the tables file is damaged (bad magic, length or CRC).
var ErrSnapshot = errors.New("broker: bad tables snapshot")

// EncodeSnapshot frames a snapshot body: magic, length, CRC32C, JSON.
func encodeSnapshot(s *snapshot) ([]byte, error) {
	js, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	b := binary.BigEndian.AppendUint32(nil, snapMagic)
	b = binary.BigEndian.AppendUint32(b, uint32(len(js)))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(js, castagnoli))
	return append(b, js...), nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// decodeSnapshot is the inverse of encodeSnapshot.
func decodeSnapshot(b []byte) (snapshot, error) {
	var s snapshot
	if len(b) < 12 || binary.BigEndian.Uint32(b) != snapMagic {
		return s, fmt.Errorf("%w: no header", ErrSnapshot)
	}
	n := binary.BigEndian.Uint32(b[4:])
	if uint64(n) != uint64(len(b)-12) {
		return s, fmt.Errorf("%w: says %d bytes, has %d", ErrSnapshot, n, len(b)-12)
	}
	if crc32.Checksum(b[12:], castagnoli) != binary.BigEndian.Uint32(b[8:]) {
		return s, fmt.Errorf("%w: CRC mismatch", ErrSnapshot)
	}
	if err := json.Unmarshal(b[12:], &s); err != nil {
		return s, fmt.Errorf("%w: %v", ErrSnapshot, err)
	}
	return s, nil
}

// writeFileAtomic writes b to path: temp file, fsync, rename, fsync dir.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
