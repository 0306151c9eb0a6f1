package broker

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

func offsetAnswer(req *remoting.Command, off int64) *remoting.Command {
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields = map[string]string{"offset": strconv.FormatInt(off, 10)}
	return resp
}

// handleQueryOffset: the group's committed offset; none: 0 while the
// queue still starts at 0 (ConsumerManageProcessor: a young queue is read
// from its start), QUERY_NOT_FOUND otherwise.
func (b *Broker) handleQueryOffset(_ context.Context, req *remoting.Command) *remoting.Command {
	ext := req.ExtFields
	topic, qid := ext["topic"], int32(atoi64(ext["queueId"]))
	if off, ok := b.tables.offset(ext["consumerGroup"], topic, qid); ok {
		return offsetAnswer(req, off)
	}
	if b.cq.MinOffset(topic, qid) <= 0 {
		return offsetAnswer(req, 0)
	}
	return fail(req, remoting.QueryNotFound, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
}

// handleUpdateOffset appends the offset as a record through the log and
// answers once it is committed (the Go client does not wait: it sends it
// as an ordinary request and drops the answer).
func (b *Broker) handleUpdateOffset(ctx context.Context, req *remoting.Command) *remoting.Command {
	ext := req.ExtFields
	if !b.isReady() {
		return notReady(req)
	}
	rec, err := EncodeOffsets(ext["consumerGroup"], []OffsetUpdate{{Topic: ext["topic"], QueueID: int32(atoi64(ext["queueId"])), Offset: atoi64(ext["commitOffset"])}})
	if err != nil {
		return fail(req, remoting.InvalidParameter, "%v", err)
	}
	if resp := b.propose(ctx, req, rec); resp != nil {
		return resp
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

func (b *Broker) handleMaxOffset(_ context.Context, req *remoting.Command) *remoting.Command {
	return offsetAnswer(req, b.cq.MaxOffset(req.ExtFields["topic"], int32(atoi64(req.ExtFields["queueId"]))))
}

func (b *Broker) handleMinOffset(_ context.Context, req *remoting.Command) *remoting.Command {
	return offsetAnswer(req, b.cq.MinOffset(req.ExtFields["topic"], int32(atoi64(req.ExtFields["queueId"]))))
}

func (b *Broker) handleSearchOffset(_ context.Context, req *remoting.Command) *remoting.Command {
	ext := req.ExtFields
	lookup := func(phys int64, size int32) (int64, error) {
		msg, err := b.readMessage(phys, size)
		if err != nil {
			return 0, err
		}
		m, _, err := decodeMessage(msg)
		return m, err
	}
	off, err := b.cq.SearchOffset(ext["topic"], int32(atoi64(ext["queueId"])), atoi64(ext["timestamp"]), lookup)
	if err != nil {
		return fail(req, remoting.SystemError, "%v", err)
	}
	return offsetAnswer(req, off)
}

// heartbeat is the part of HeartbeatData the broker keeps.
type heartbeat struct {
	ClientID  string `json:"clientID"`
	Consumers []struct {
		GroupName string `json:"groupName"`
	} `json:"consumerDataSet"`
}

func (b *Broker) handleHeartbeat(ctx context.Context, req *remoting.Command) *remoting.Command {
	var hb heartbeat
	if err := json.Unmarshal(req.Body, &hb); err != nil {
		return fail(req, remoting.SystemError, "heartbeat body: %v", err)
	}
	groups := make([]string, 0, len(hb.Consumers))
	for _, c := range hb.Consumers {
		groups = append(groups, c.GroupName)
	}
	peer := ""
	if a := rpc.Peer(ctx); a != nil {
		peer = a.String()
	}
	b.clients.heartbeat(hb.ClientID, peer, groups, time.Now())
	b.retryTopics(groups)
	return remoting.NewResponse(req, remoting.Success, "")
}

func (b *Broker) handleUnregister(_ context.Context, req *remoting.Command) *remoting.Command {
	b.clients.unregister(req.ExtFields["clientID"], req.ExtFields["consumerGroup"])
	return remoting.NewResponse(req, remoting.Success, "")
}

func (b *Broker) handleConsumerList(_ context.Context, req *remoting.Command) *remoting.Command {
	ids := b.clients.list(req.ExtFields["consumerGroup"], time.Now(), b.cfg.ClientExpiry)
	if len(ids) == 0 {
		return fail(req, remoting.SystemError, "no consumer for this group, %s", req.ExtFields["consumerGroup"])
	}
	body, _ := json.Marshal(map[string][]string{"consumerIdList": ids})
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = body
	return resp
}

// handleCreateTopic: UPDATE_AND_CREATE_TOPIC as a topic record through
// the log.
func (b *Broker) handleCreateTopic(ctx context.Context, req *remoting.Command) *remoting.Command {
	ext := req.ExtFields
	if !b.isReady() {
		return notReady(req)
	}
	tc := namesrv.TopicConfig{
		TopicName: ext["topic"], ReadQueueNums: int(atoi64(ext["readQueueNums"])), WriteQueueNums: int(atoi64(ext["writeQueueNums"])),
		Perm: int(atoi64(ext["perm"])), TopicFilterType: ext["topicFilterType"], TopicSysFlag: int(atoi64(ext["topicSysFlag"])),
		Order: ext["order"] == "true",
	}
	if tc.TopicName == "" || tc.WriteQueueNums <= 0 || tc.ReadQueueNums <= 0 {
		return fail(req, remoting.InvalidParameter, "topic %q needs a name and queue counts above 0", tc.TopicName)
	}
	if resp := b.proposeTopic(ctx, req, tc); resp != nil {
		return resp
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

// CreateTopic creates or updates a topic through the log (operators and
// tests); the broker must be a ready master.
func (b *Broker) CreateTopic(ctx context.Context, tc namesrv.TopicConfig) error {
	req := remoting.NewRequest(remoting.UpdateAndCreateTopic, nil, nil)
	if resp := b.proposeTopic(ctx, req, tc); resp != nil {
		return &ResponseError{Code: remoting.ResponseCode(resp.Code), Remark: resp.Remark}
	}
	return nil
}

// ConsumerOffset returns a group's committed offset of a queue, as applied
// on this member.
func (b *Broker) ConsumerOffset(group, topic string, queueID int32) (int64, bool) {
	return b.tables.offset(group, topic, queueID)
}

// ResponseError is a request refused with a RocketMQ response code.
type ResponseError struct {
	Code   remoting.ResponseCode
	Remark string
}

func (e *ResponseError) Error() string { return e.Code.String() + ": " + e.Remark }
