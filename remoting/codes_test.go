package remoting_test

import (
	"testing"

	"github.com/rmqlog/rmqlog/remoting"
)

// TestRequestCodes checks every named request code against its number and
// name in RequestCode.java.
func TestRequestCodes(t *testing.T) {
	for _, tc := range []struct {
		code remoting.RequestCode
		num  int32
		name string
	}{
		{remoting.SendMessage, 10, "SEND_MESSAGE"},
		{remoting.PullMessage, 11, "PULL_MESSAGE"},
		{remoting.QueryMessage, 12, "QUERY_MESSAGE"},
		{remoting.QueryConsumerOffset, 14, "QUERY_CONSUMER_OFFSET"},
		{remoting.UpdateConsumerOffset, 15, "UPDATE_CONSUMER_OFFSET"},
		{remoting.UpdateAndCreateTopic, 17, "UPDATE_AND_CREATE_TOPIC"},
		{remoting.SearchOffsetByTimestamp, 29, "SEARCH_OFFSET_BY_TIMESTAMP"},
		{remoting.GetMaxOffset, 30, "GET_MAX_OFFSET"},
		{remoting.GetMinOffset, 31, "GET_MIN_OFFSET"},
		{remoting.GetEarliestMsgStoreTime, 32, "GET_EARLIEST_MSG_STORETIME"},
		{remoting.ViewMessageByID, 33, "VIEW_MESSAGE_BY_ID"},
		{remoting.HeartBeat, 34, "HEART_BEAT"},
		{remoting.UnregisterClient, 35, "UNREGISTER_CLIENT"},
		{remoting.ConsumerSendMsgBack, 36, "CONSUMER_SEND_MSG_BACK"},
		{remoting.EndTransaction, 37, "END_TRANSACTION"},
		{remoting.GetConsumerListByGroup, 38, "GET_CONSUMER_LIST_BY_GROUP"},
		{remoting.CheckTransactionState, 39, "CHECK_TRANSACTION_STATE"},
		{remoting.NotifyConsumerIDsChanged, 40, "NOTIFY_CONSUMER_IDS_CHANGED"},
		{remoting.LockBatchMQ, 41, "LOCK_BATCH_MQ"},
		{remoting.UnlockBatchMQ, 42, "UNLOCK_BATCH_MQ"},
		{remoting.RegisterBroker, 103, "REGISTER_BROKER"},
		{remoting.UnregisterBroker, 104, "UNREGISTER_BROKER"},
		{remoting.GetRouteInfoByTopic, 105, "GET_ROUTEINFO_BY_TOPIC"},
		{remoting.GetBrokerClusterInfo, 106, "GET_BROKER_CLUSTER_INFO"},
		{remoting.GetAllSubscriptionGroupConfig, 201, "GET_ALL_SUBSCRIPTIONGROUP_CONFIG"},
		{remoting.GetAllTopicListFromNameServer, 206, "GET_ALL_TOPIC_LIST_FROM_NAMESERVER"},
		{remoting.DeleteTopicInBroker, 215, "DELETE_TOPIC_IN_BROKER"},
		{remoting.DeleteTopicInNameSrv, 216, "DELETE_TOPIC_IN_NAMESRV"},
		{remoting.ResetConsumerClientOffset, 220, "RESET_CONSUMER_CLIENT_OFFSET"},
		{remoting.GetConsumerStatusFromClient, 221, "GET_CONSUMER_STATUS_FROM_CLIENT"},
		{remoting.GetConsumerRunningInfo, 307, "GET_CONSUMER_RUNNING_INFO"},
		{remoting.ConsumeMessageDirectly, 309, "CONSUME_MESSAGE_DIRECTLY"},
		{remoting.SendMessageV2, 310, "SEND_MESSAGE_V2"},
		{remoting.SendBatchMessage, 320, "SEND_BATCH_MESSAGE"},
		{remoting.SendReplyMessage, 324, "SEND_REPLY_MESSAGE"},
		{remoting.SendReplyMessageV2, 325, "SEND_REPLY_MESSAGE_V2"},
		{remoting.PushReplyMessageToClient, 326, "PUSH_REPLY_MESSAGE_TO_CLIENT"},
		{remoting.QueryAssignment, 400, "QUERY_ASSIGNMENT"},
		{remoting.PopMessage, 200050, "POP_MESSAGE"},
		{remoting.AckMessage, 200051, "ACK_MESSAGE"},
	} {
		if int32(tc.code) != tc.num || tc.code.String() != tc.name {
			t.Errorf("%s = %d, want %s = %d", tc.code, int32(tc.code), tc.name, tc.num)
		}
	}
	if s := remoting.RequestCode(9999).String(); s != "RequestCode(9999)" {
		t.Errorf("unnamed request code: %s", s)
	}
}

// TestResponseCodes checks every named response code against its number
// and name in RemotingSysResponseCode.java and ResponseCode.java.
func TestResponseCodes(t *testing.T) {
	for _, tc := range []struct {
		code remoting.ResponseCode
		num  int32
		name string
	}{
		{remoting.Success, 0, "SUCCESS"},
		{remoting.SystemError, 1, "SYSTEM_ERROR"},
		{remoting.SystemBusy, 2, "SYSTEM_BUSY"},
		{remoting.RequestCodeNotSupported, 3, "REQUEST_CODE_NOT_SUPPORTED"},
		{remoting.TransactionFailed, 4, "TRANSACTION_FAILED"},
		{remoting.FlushDiskTimeout, 10, "FLUSH_DISK_TIMEOUT"},
		{remoting.SlaveNotAvailable, 11, "SLAVE_NOT_AVAILABLE"},
		{remoting.FlushSlaveTimeout, 12, "FLUSH_SLAVE_TIMEOUT"},
		{remoting.MessageIllegal, 13, "MESSAGE_ILLEGAL"},
		{remoting.ServiceNotAvailable, 14, "SERVICE_NOT_AVAILABLE"},
		{remoting.VersionNotSupported, 15, "VERSION_NOT_SUPPORTED"},
		{remoting.NoPermission, 16, "NO_PERMISSION"},
		{remoting.TopicNotExist, 17, "TOPIC_NOT_EXIST"},
		{remoting.TopicExistAlready, 18, "TOPIC_EXIST_ALREADY"},
		{remoting.PullNotFound, 19, "PULL_NOT_FOUND"},
		{remoting.PullRetryImmediately, 20, "PULL_RETRY_IMMEDIATELY"},
		{remoting.PullOffsetMoved, 21, "PULL_OFFSET_MOVED"},
		{remoting.QueryNotFound, 22, "QUERY_NOT_FOUND"},
		{remoting.SubscriptionParseFailed, 23, "SUBSCRIPTION_PARSE_FAILED"},
		{remoting.SubscriptionNotExist, 24, "SUBSCRIPTION_NOT_EXIST"},
		{remoting.SubscriptionNotLatest, 25, "SUBSCRIPTION_NOT_LATEST"},
		{remoting.SubscriptionGroupNotExist, 26, "SUBSCRIPTION_GROUP_NOT_EXIST"},
		{remoting.FilterDataNotExist, 27, "FILTER_DATA_NOT_EXIST"},
		{remoting.FilterDataNotLatest, 28, "FILTER_DATA_NOT_LATEST"},
		{remoting.InvalidParameter, 29, "INVALID_PARAMETER"},
		{remoting.TransactionShouldCommit, 200, "TRANSACTION_SHOULD_COMMIT"},
		{remoting.TransactionShouldRollback, 201, "TRANSACTION_SHOULD_ROLLBACK"},
		{remoting.TransactionStateUnknown, 202, "TRANSACTION_STATE_UNKNOW"},
		{remoting.TransactionStateGroupWrong, 203, "TRANSACTION_STATE_GROUP_WRONG"},
		{remoting.NoBuyerID, 204, "NO_BUYER_ID"},
		{remoting.NotInCurrentUnit, 205, "NOT_IN_CURRENT_UNIT"},
		{remoting.ConsumerNotOnline, 206, "CONSUMER_NOT_ONLINE"},
		{remoting.ConsumeMsgTimeout, 207, "CONSUME_MSG_TIMEOUT"},
		{remoting.NoMessage, 208, "NO_MESSAGE"},
		{remoting.PollingFull, 209, "POLLING_FULL"},
		{remoting.PollingTimeout, 210, "POLLING_TIMEOUT"},
		{remoting.BrokerNotExist, 211, "BROKER_NOT_EXIST"},
		{remoting.BrokerDispatchNotComplete, 212, "BROKER_DISPATCH_NOT_COMPLETE"},
		{remoting.BroadcastConsumption, 213, "BROADCAST_CONSUMPTION"},
		{remoting.FlowControl, 215, "FLOW_CONTROL"},
		{remoting.NotLeaderForQueue, 501, "NOT_LEADER_FOR_QUEUE"},
		{remoting.IllegalOperation, 604, "ILLEGAL_OPERATION"},
		{remoting.GoAway, 1500, "GO_AWAY"},
	} {
		if int32(tc.code) != tc.num || tc.code.String() != tc.name {
			t.Errorf("%s = %d, want %s = %d", tc.code, int32(tc.code), tc.name, tc.num)
		}
	}
	if s := remoting.ResponseCode(-1000).String(); s != "ResponseCode(-1000)" {
		t.Errorf("unnamed response code: %s", s)
	}
}

func TestLanguageAndSerializeNames(t *testing.T) {
	names := []string{"JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER",
		"HTTP", "GO", "PHP", "OMS", "RUST", "NODE_JS"} // LanguageCode.java, codes 0..13
	for i, want := range names {
		if got := remoting.LanguageCode(i).String(); got != want {
			t.Errorf("LanguageCode(%d) = %s, want %s", i, got, want)
		}
	}
	if remoting.LanguageGo != 9 || remoting.LanguageJava != 0 {
		t.Errorf("GO = %d, JAVA = %d", remoting.LanguageGo, remoting.LanguageJava)
	}
	if s := remoting.LanguageCode(127).String(); s != "LanguageCode(127)" {
		t.Errorf("unnamed language: %s", s)
	}
	for s, want := range map[remoting.SerializeType]string{0: "JSON", 1: "ROCKETMQ", 2: "SerializeType(2)"} {
		if s.String() != want {
			t.Errorf("SerializeType(%d) = %s, want %s", uint8(s), s, want)
		}
	}
}

func TestConstructors(t *testing.T) {
	ext := map[string]string{"topic": "T"}
	req := remoting.NewRequest(remoting.PullMessage, ext, []byte("b"))
	next := remoting.NewRequest(remoting.HeartBeat, nil, nil)
	if req.Code != 11 || req.Language != remoting.LanguageGo || req.Serialize != remoting.SerializeJSON ||
		req.ExtFields["topic"] != "T" || string(req.Body) != "b" || req.IsResponse() || req.IsOneway() {
		t.Fatalf("request %+v", req)
	}
	if next.Opaque == req.Opaque {
		t.Fatalf("two requests with opaque %d", req.Opaque)
	}

	req.Serialize = remoting.SerializeRocketMQ
	req.Flag |= remoting.FlagOneway
	if !req.IsOneway() || req.IsResponse() {
		t.Fatalf("flag %b: oneway %v, response %v", req.Flag, req.IsOneway(), req.IsResponse())
	}
	resp := remoting.NewResponse(req, remoting.TopicNotExist, "no topic T")
	if resp.Opaque != req.Opaque || !resp.IsResponse() || resp.IsOneway() || resp.Code != 17 ||
		resp.Remark != "no topic T" || resp.Serialize != remoting.SerializeRocketMQ {
		t.Fatalf("response %+v to %+v", resp, req)
	}
}
