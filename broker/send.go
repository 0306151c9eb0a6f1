package broker

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
	"github.com/rmqlog/rmqlog/segment"
)

// Mux returns the broker's request handlers; codes it does not serve get
// REQUEST_CODE_NOT_SUPPORTED from rpc.Mux.
func (b *Broker) Mux() rpc.Mux {
	return rpc.Mux{
		remoting.SendMessage:             b.handleSend,
		remoting.SendMessageV2:           b.handleSend,
		remoting.SendBatchMessage:        b.handleSend,
		remoting.PullMessage:             b.handlePull,
		remoting.QueryConsumerOffset:     b.handleQueryOffset,
		remoting.UpdateConsumerOffset:    b.handleUpdateOffset,
		remoting.GetMaxOffset:            b.handleMaxOffset,
		remoting.GetMinOffset:            b.handleMinOffset,
		remoting.SearchOffsetByTimestamp: b.handleSearchOffset,
		remoting.HeartBeat:               b.handleHeartbeat,
		remoting.UnregisterClient:        b.handleUnregister,
		remoting.GetConsumerListByGroup:  b.handleConsumerList,
		remoting.UpdateAndCreateTopic:    b.handleCreateTopic,
		remoting.ConsumerSendMsgBack:     b.handleSendBack,
		remoting.LockBatchMQ:             b.handleLockBatch,
		remoting.UnlockBatchMQ:           b.handleUnlockBatch,
	}
}

// permWrite is PermName.PERM_WRITE.
const permWrite = 1 << 1

// bornHost stands for a producer whose address is unknown (a Mux served
// without rpc.Peer): 0.0.0.0:0.
var bornHost = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)

// peerHost is the producer's address, as RocketMQ's broker takes it from
// the channel (the born host of the stored message).
func peerHost(ctx context.Context) netip.AddrPort {
	if a := rpc.Peer(ctx); a != nil {
		if t, ok := a.(*net.TCPAddr); ok { // the usual case, without formatting and parsing
			ap := t.AddrPort()
			return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
	}
	return bornHost
}

func fail(req *remoting.Command, code remoting.ResponseCode, format string, a ...any) *remoting.Command {
	return remoting.NewResponse(req, code, fmt.Sprintf(format, a...))
}

// notReady is RocketMQ's answer of a store that does not take writes
// (DefaultMessageStore.checkStoreStatus: slave or not writeable ->
// SERVICE_NOT_AVAILABLE); the Go client retries it on another broker.
func notReady(req *remoting.Command) *remoting.Command {
	return fail(req, remoting.ServiceNotAvailable, "service not available now: this broker is not the master, or a new master that has not caught up yet")
}

func atoi64(s string) int64 { v, _ := strconv.ParseInt(s, 10, 64); return v }

// handleSend serves SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE.
func (b *Broker) handleSend(ctx context.Context, req *remoting.Command) *remoting.Command {
	ext := req.ExtFields
	if remoting.RequestCode(req.Code) != remoting.SendMessage {
		ext = remoting.ExpandSendMessageV2(ext)
	}
	if !b.isReady() {
		return notReady(req)
	}
	topic, qidField, propField := ext["topic"], ext["queueId"], ext["properties"]
	if dlq, ok := retryExhausted(topic, ext); ok {
		// SendMessageProcessor.handleRetryAndDLQ: the Go client's
		// fallback send-back (sendMessageBackAsNormal) of a message out
		// of retries goes to the dead-letter topic, without delay.
		if resp := b.ensureTopic(ctx, req, dlq); resp != nil {
			return resp
		}
		stripped, err := withProps([]byte(propField), []string{commitlog.PropertyDelayTimeLevel})
		if err != nil {
			return fail(req, remoting.MessageIllegal, "%v", err)
		}
		topic, qidField, propField = dlq, "0", string(stripped)
	}
	tc, ok := b.tables.topic(topic)
	if !ok {
		var resp *remoting.Command
		if tc, resp = b.autoCreate(ctx, req, topic); resp != nil {
			return resp
		}
	}
	if tc.Perm&permWrite == 0 {
		return fail(req, remoting.NoPermission, "the topic[%s] sending message is forbidden", topic)
	}
	qid := int32(atoi64(qidField))
	if qid < 0 {
		qid = rand.Int32N(int32(max(tc.WriteQueueNums, 1)))
	}
	if int(qid) >= tc.WriteQueueNums {
		return fail(req, remoting.SystemError, "request queueId[%d] is illegal, topic %s has %d write queues", qid, topic, tc.WriteQueueNums)
	}
	sys := commitlog.SysFlag(atoi64(ext["sysFlag"]))
	if sys.Transaction() == commitlog.TransactionPrepared {
		return fail(req, remoting.NoPermission, "transaction messages are not supported by this broker")
	}
	tmpl := commitlog.Message{
		QueueID: qid, SysFlag: sys &^ (commitlog.FlagBornHostV6 | commitlog.FlagStoreHostV6),
		BornTimestamp: atoi64(ext["bornTimestamp"]), BornHost: peerHost(ctx), StoreHost: b.storeHost,
		ReconsumeTimes: int32(atoi64(ext["reconsumeTimes"])), Topic: []byte(topic),
		Flag: int32(atoi64(ext["flag"])),
	}
	if remoting.RequestCode(req.Code) == remoting.SendBatchMessage {
		// No duplicate suppression: the Go client gives batched messages
		// no UNIQ_KEY (docs/broker.md).
		if b.levelOf([]byte(propField)) > 0 {
			// CommitLog.asyncPutMessages: no delay level for a batch.
			return fail(req, remoting.MessageIllegal, "TimeDelayLevel is not supported for batched messages")
		}
		payload, err := encodeBatch(tmpl, req.Body, b.cfg.MaxBody)
		if err != nil {
			return fail(req, remoting.MessageIllegal, "%v", err)
		}
		return b.appendAndAnswer(ctx, req, payload)
	}
	tmpl.Body, tmpl.Properties = req.Body, []byte(propField)
	if _, ok := commitlog.Lookup(tmpl.Properties, PropertyScheduleOffset); ok {
		return fail(req, remoting.MessageIllegal, "property %s is reserved for the broker's scheduler", PropertyScheduleOffset)
	}
	if level := b.levelOf(tmpl.Properties); level > 0 {
		if err := delay(&tmpl, level); err != nil {
			return fail(req, remoting.MessageIllegal, "%v", err)
		}
	}
	payload, err := commitlog.Encode(nil, &tmpl, b.cfg.MaxBody)
	if err != nil {
		return fail(req, remoting.MessageIllegal, "%v", err)
	}
	uniq, _ := commitlog.Lookup(tmpl.Properties, commitlog.PropertyUniqKey)
	return b.sendOnce(ctx, req, topic, uniq, payload)
}

// retryExhausted returns the dead-letter topic of a send to a retry topic
// whose reconsumeTimes reached its maxReconsumeTimes (16 when absent).
func retryExhausted(topic string, ext map[string]string) (string, bool) {
	group, ok := strings.CutPrefix(topic, RetryPrefix)
	if !ok {
		return "", false
	}
	maxRe := int64(DefaultMaxReconsumeTimes)
	if v := ext["maxReconsumeTimes"]; v != "" {
		maxRe = atoi64(v)
	}
	return DLQPrefix + group, atoi64(ext["reconsumeTimes"]) >= maxRe
}

// propose appends payload and waits for its commit; a non-nil answer is
// the failure to send.
func (b *Broker) propose(ctx context.Context, req *remoting.Command, payload []byte) *remoting.Command {
	p, err := b.node.ProposeAs(segment.TypeBroker, payload)
	if err == nil {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err = p.Wait(wctx); err == nil {
			// Committed: answer once applied here too, so that what a
			// client was told is stored is what a pull, a max offset or
			// an offset query on this master already shows. (RocketMQ
			// dispatches to its consume queues after answering.) The
			// entry is committed whatever this wait returns.
			_ = b.waitFor(wctx, p.Index())
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, engine.ErrNotLeader):
		return notReady(req)
	case errors.Is(err, engine.ErrTooLarge):
		return fail(req, remoting.MessageIllegal, "%v", err)
	case errors.Is(err, engine.ErrBusy):
		return fail(req, remoting.SystemBusy, "[PC_SYNCHRONIZED]broker busy: %v", err)
	case errors.Is(err, context.DeadlineExceeded):
		return fail(req, remoting.FlushSlaveTimeout, "not committed by a majority in time: %v", err)
	}
	return fail(req, remoting.SystemError, "%v", err)
}

// sendResult answers a committed send from its stamped bytes: msgId (for
// a batch every message's, comma-joined, as CommitLog's batch append
// does), queueId and queueOffset of the first message.
func (b *Broker) sendResult(req *remoting.Command, payload []byte) *remoting.Command {
	var ids []string
	var first commitlog.Header
	_ = Messages(payload, func(off int, h commitlog.Header) error {
		if off == 0 {
			first = h
		}
		ids = append(ids, commitlog.MessageID(b.storeHost, h.PhysicalOffset))
		return nil
	})
	if first.QueueOffset < 0 {
		return notReady(req)
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields = map[string]string{
		"msgId":       strings.Join(ids, ","),
		"queueId":     strconv.Itoa(int(first.QueueID)),
		"queueOffset": strconv.FormatInt(first.QueueOffset, 10),
		"MSG_REGION":  "DefaultRegion",
		"TRACE_ON":    "true",
	}
	return resp
}

// encodeBatch turns a client's batch body (rocketmq-client-go
// primitive.Message.Marshal, Java MessageDecoder.encodeMessages: total
// size, magic 0, body CRC, flag, body length, body, properties length,
// properties) into commitlog messages back to back.
func encodeBatch(tmpl commitlog.Message, body []byte, maxBody int) ([]byte, error) {
	var out []byte
	for len(body) > 0 {
		if len(body) < 20 {
			return nil, fmt.Errorf("batch: %d bytes left, too short for a message", len(body))
		}
		total := int(binary.BigEndian.Uint32(body))
		if total < 22 || total > len(body) {
			return nil, fmt.Errorf("batch: message of %d bytes in %d", total, len(body))
		}
		m := body[:total]
		body = body[total:]
		bl := int(binary.BigEndian.Uint32(m[16:]))
		if bl < 0 || 20+bl+2 > total {
			return nil, fmt.Errorf("batch: body of %d bytes in a message of %d", bl, total)
		}
		pl := int(binary.BigEndian.Uint16(m[20+bl:]))
		if 22+bl+pl != total {
			return nil, fmt.Errorf("batch: lengths add up to %d, message says %d", 22+bl+pl, total)
		}
		msg := tmpl
		msg.Flag = int32(binary.BigEndian.Uint32(m[12:]))
		msg.Body, msg.Properties = m[20:20+bl], m[22+bl:]
		var err error
		if out, err = commitlog.Encode(out, &msg, maxBody); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, errors.New("batch: no messages")
	}
	return out, nil
}

// autoCreate creates topic with DefaultQueueNums queues when
// AutoCreateTopic is on; otherwise it answers TOPIC_NOT_EXIST.
func (b *Broker) autoCreate(ctx context.Context, req *remoting.Command, topic string) (namesrv.TopicConfig, *remoting.Command) {
	if !b.cfg.AutoCreateTopic {
		return namesrv.TopicConfig{}, fail(req, remoting.TopicNotExist, "topic[%s] not exist, apply first please!", topic)
	}
	tc := namesrv.TopicConfig{TopicName: topic, ReadQueueNums: b.cfg.DefaultQueueNums, WriteQueueNums: b.cfg.DefaultQueueNums, Perm: 6}
	if resp := b.proposeTopic(ctx, req, tc); resp != nil {
		return tc, resp
	}
	return tc, nil
}

// proposeTopic appends a topic config record and waits until it is applied
// here, then registers so that clients see the topic.
func (b *Broker) proposeTopic(ctx context.Context, req *remoting.Command, tc namesrv.TopicConfig) *remoting.Command {
	js, err := json.Marshal(tc)
	if err != nil {
		return fail(req, remoting.SystemError, "%v", err)
	}
	p, err := b.node.ProposeAs(segment.TypeBroker, EncodeTopic(js))
	if err == nil {
		err = p.Wait(ctx)
	}
	if err == nil {
		err = b.waitFor(ctx, p.Index())
	}
	if errors.Is(err, engine.ErrNotLeader) {
		return notReady(req)
	}
	if err != nil {
		return fail(req, remoting.SystemError, "topic %s not created: %v", tc.TopicName, err)
	}
	go b.register()
	return nil
}
