package broker

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/commitlog"
)

// ScheduleTopic holds delayed messages until they are due, in queue
// level-1 for delay level level (RocketMQ's TopicValidator.RMQ_SYS_SCHEDULE_TOPIC).
const ScheduleTopic = "SCHEDULE_TOPIC_XXXX"

// DefaultDelayLevels is RocketMQ's messageDelayLevel.
const DefaultDelayLevels = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

// PropertyScheduleOffset marks a message the scheduler delivered from
// ScheduleTopic: "level:offset", the schedule queue offset it came from.
// The applier advances the level's progress from it, so a delivery and
// its progress are one entry (docs/broker.md, "Delay levels"). Producers
// may not set it.
const PropertyScheduleOffset = "RMQLOG_SCHEDULE_OFFSET"

// ParseDelayLevels parses RocketMQ's messageDelayLevel ("1s 5s 10m 2h";
// units s, m, h, d; Go durations such as "100ms" are accepted too).
func ParseDelayLevels(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Fields(s) {
		d, err := parseLevel(f)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("broker: messageDelayLevel %q: level %q is not a positive duration (1s, 5m, 2h, 1d)", s, f)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("broker: messageDelayLevel %q has no levels", s)
	}
	return out, nil
}

func parseLevel(f string) (time.Duration, error) {
	if n, err := strconv.Atoi(strings.TrimSuffix(f, "d")); err == nil && strings.HasSuffix(f, "d") {
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(f)
}

// levelOf is a message's DELAY property clamped to the table (RocketMQ:
// above the maximum level means the maximum), 0 for none.
func (b *Broker) levelOf(props []byte) int {
	v, ok := commitlog.Lookup(props, commitlog.PropertyDelayTimeLevel)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n <= 0 {
		return 0
	}
	return min(n, len(b.cfg.DelayLevels))
}

// withProps returns props without the properties named in drop, then set
// appended (RocketMQ's putProperty/clearProperty).
func withProps(props []byte, drop []string, set ...commitlog.Property) ([]byte, error) {
	var keep []commitlog.Property
	for _, p := range commitlog.ParseProperties(props) {
		gone := false
		for _, d := range drop {
			gone = gone || p.Name == d
		}
		for _, s := range set {
			gone = gone || p.Name == s.Name
		}
		if !gone {
			keep = append(keep, p)
		}
	}
	return commitlog.AppendProperties(nil, append(keep, set...)...)
}

// delay turns m, whose DELAY level is level > 0, into its schedule form
// (CommitLog.putMessage in delay mode): topic ScheduleTopic, queue
// level-1, REAL_TOPIC and REAL_QID the original's.
func delay(m *commitlog.Message, level int) error {
	props, err := withProps(m.Properties, nil,
		commitlog.Property{Name: commitlog.PropertyRealTopic, Value: string(m.Topic)},
		commitlog.Property{Name: commitlog.PropertyRealQueueID, Value: strconv.Itoa(int(m.QueueID))})
	if err != nil {
		return err
	}
	m.Properties, m.Topic, m.QueueID = props, []byte(ScheduleTopic), int32(level-1)
	return nil
}

// realTopic is the topic a producer addressed a stored message to: its
// REAL_TOPIC if it waits in ScheduleTopic.
func realTopic(h commitlog.Header) string {
	if string(h.Topic) == ScheduleTopic {
		if v, ok := commitlog.Lookup(h.Properties, commitlog.PropertyRealTopic); ok {
			return string(v)
		}
	}
	return string(h.Topic)
}

// scheduleOffset parses a delivered message's PropertyScheduleOffset.
func scheduleOffset(props []byte) (level int, off int64, ok bool) {
	v, ok := commitlog.Lookup(props, PropertyScheduleOffset)
	if !ok {
		return 0, 0, false
	}
	l, o, found := strings.Cut(string(v), ":")
	level, err1 := strconv.Atoi(l)
	off, err2 := strconv.ParseInt(o, 10, 64)
	return level, off, found && err1 == nil && err2 == nil && level > 0
}
