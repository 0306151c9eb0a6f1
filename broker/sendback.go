package broker

import (
	"context"
	"strconv"
	"time"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
)

// Retry and dead-letter topics of a consumer group (MixAll.RETRY_GROUP_TOPIC_PREFIX,
// DLQ_GROUP_TOPIC_PREFIX), one queue each (retryQueueNums, DLQ_NUMS_PER_GROUP).
const (
	RetryPrefix = "%RETRY%"
	DLQPrefix   = "%DLQ%"
	// DefaultMaxReconsumeTimes is a group's retryMaxTimes when the
	// request names none.
	DefaultMaxReconsumeTimes = 16
)

// handleSendBack serves CONSUMER_SEND_MSG_BACK as the Java broker's
// SendMessageProcessor.consumerSendMsgBack: the message stored at
// "offset" goes to %RETRY%<group> with delay level 3 + its reconsume
// times (or the level asked), through ScheduleTopic; once its reconsume
// times reach maxReconsumeTimes (or the level asked is negative), to
// %DLQ%<group> at once. Either topic is created on demand.
func (b *Broker) handleSendBack(ctx context.Context, req *remoting.Command) *remoting.Command {
	ext := req.ExtFields
	if !b.isReady() {
		return notReady(req)
	}
	group := ext["group"]
	if group == "" {
		return fail(req, remoting.InvalidParameter, "CONSUMER_SEND_MSG_BACK without a group")
	}
	raw, err := b.readMessageAt(atoi64(ext["offset"]))
	if err != nil {
		return fail(req, remoting.SystemError, "look message by offset failed, %s: %v", ext["offset"], err)
	}
	m, _, err := commitlog.Decode(raw)
	if err != nil {
		return fail(req, remoting.SystemError, "look message by offset failed, %s: %v", ext["offset"], err)
	}
	maxRe := int32(DefaultMaxReconsumeTimes)
	if v, ok := ext["maxReconsumeTimes"]; ok && v != "" {
		maxRe = int32(atoi64(v))
	}
	level := int(atoi64(ext["delayLevel"]))
	topic := RetryPrefix + group
	if m.ReconsumeTimes >= maxRe || level < 0 {
		topic, level = DLQPrefix+group, 0
	} else if level == 0 {
		level = 3 + int(m.ReconsumeTimes)
	}
	level = min(level, len(b.cfg.DelayLevels))
	if resp := b.ensureTopic(ctx, req, topic); resp != nil {
		return resp
	}
	out, err := b.retryMessage(&m, topic, level)
	if err != nil {
		return fail(req, remoting.MessageIllegal, "%v", err)
	}
	payload, err := commitlog.Encode(nil, &out, b.cfg.MaxBody)
	if err != nil {
		return fail(req, remoting.MessageIllegal, "%v", err)
	}
	if resp := b.propose(ctx, req, payload); resp != nil {
		return resp
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

// retryMessage builds the message sent back: RETRY_TOPIC the first
// topic, ORIGIN_MESSAGE_ID the first message id, reconsume times + 1,
// and, with a delay level, its schedule form (REAL_TOPIC, REAL_QID).
func (b *Broker) retryMessage(m *commitlog.Message, topic string, level int) (commitlog.Message, error) {
	var set []commitlog.Property
	if _, ok := commitlog.Lookup(m.Properties, commitlog.PropertyRetryTopic); !ok {
		set = append(set, commitlog.Property{Name: commitlog.PropertyRetryTopic, Value: string(m.Topic)})
	}
	if _, ok := commitlog.Lookup(m.Properties, commitlog.PropertyOriginMessageID); !ok {
		set = append(set, commitlog.Property{Name: commitlog.PropertyOriginMessageID, Value: commitlog.MessageID(m.StoreHost, m.PhysicalOffset)})
	}
	drop := []string{commitlog.PropertyDelayTimeLevel, PropertyScheduleOffset, commitlog.PropertyRealTopic, commitlog.PropertyRealQueueID}
	if level > 0 {
		set = append(set, commitlog.Property{Name: commitlog.PropertyDelayTimeLevel, Value: strconv.Itoa(level)})
	}
	props, err := withProps(m.Properties, drop, set...)
	if err != nil {
		return commitlog.Message{}, err
	}
	out := commitlog.Message{
		Topic: []byte(topic), QueueID: 0, Flag: m.Flag, Body: m.Body, Properties: props,
		SysFlag:       m.SysFlag &^ (commitlog.FlagBornHostV6 | commitlog.FlagStoreHostV6),
		BornTimestamp: m.BornTimestamp, BornHost: m.BornHost, StoreHost: b.storeHost,
		ReconsumeTimes: m.ReconsumeTimes + 1,
	}
	if level > 0 {
		err = delay(&out, level)
	}
	return out, err
}

// ensureTopic creates a retry or dead-letter topic (one queue, read and
// write) unless it exists (createTopicInSendMessageBackMethod).
func (b *Broker) ensureTopic(ctx context.Context, req *remoting.Command, topic string) *remoting.Command {
	if _, ok := b.tables.topic(topic); ok {
		return nil
	}
	return b.proposeTopic(ctx, req, namesrv.TopicConfig{TopicName: topic, ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6})
}

// retryTopics creates the retry topics of the consumer groups of a
// heartbeat, in the background, as the Java broker's heartbeat does: so
// the name server routes %RETRY%<group> before the first send-back, and a
// push consumer (which subscribes it by itself) finds its queue at its
// next route refresh.
func (b *Broker) retryTopics(groups []string) {
	if !b.isReady() {
		return
	}
	for _, g := range groups {
		topic := RetryPrefix + g
		if _, ok := b.tables.topic(topic); ok {
			continue
		}
		key := topic
		if _, busy := b.creating.LoadOrStore(key, true); busy {
			continue
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer b.creating.Delete(key)
			ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
			defer cancel()
			req := remoting.NewRequest(remoting.UpdateAndCreateTopic, nil, nil)
			if resp := b.ensureTopic(ctx, req, topic); resp != nil {
				b.cfg.Logger.Warn("broker: retry topic not created", "topic", topic, "code", resp.Code, "remark", resp.Remark)
			}
		}()
	}
}
