package remoting

import "strconv"

// RequestCode says what a request asks for (RequestCode.java). Only the
// codes the broker and name server of issue 16 meet are named here: what
// rocketmq-client-go's producer, push and pull consumers and admin send
// (internal/request.go and its callers), what the Java client adds to
// those flows, and the requests a broker sends to a client.
type RequestCode int32

// Requests a client sends to a broker.
const (
	SendMessage             RequestCode = 10     // long-name header; Go producer, Go consumer's retry send, Go trace
	PullMessage             RequestCode = 11     // Go push and pull consumers
	QueryMessage            RequestCode = 12     // by key (Java admin); named, unused, by the Go client
	QueryConsumerOffset     RequestCode = 14     // Go consumer's remote offset store
	UpdateConsumerOffset    RequestCode = 15     // Go consumer's remote offset store, as a oneway send
	UpdateAndCreateTopic    RequestCode = 17     // Go admin CreateTopic
	SearchOffsetByTimestamp RequestCode = 29     // Go consumer (ConsumeFromTimestamp)
	GetMaxOffset            RequestCode = 30     // Go consumer
	GetMinOffset            RequestCode = 31     // Java consumer; named, unused, by the Go client
	GetEarliestMsgStoreTime RequestCode = 32     // Java admin
	ViewMessageByID         RequestCode = 33     // Java client; named, unused, by the Go client
	HeartBeat               RequestCode = 34     // every client, to every broker (and its consumer groups)
	UnregisterClient        RequestCode = 35     // Java client at shutdown; the Go client never sends it
	ConsumerSendMsgBack     RequestCode = 36     // Go consumers: a message to retry
	EndTransaction          RequestCode = 37     // Go transactional producer, as a oneway send
	GetConsumerListByGroup  RequestCode = 38     // Go consumer's rebalance
	LockBatchMQ             RequestCode = 41     // Go orderly consumer
	UnlockBatchMQ           RequestCode = 42     // Go orderly consumer, sync or as a oneway send
	SendMessageV2           RequestCode = 310    // short-name header (ExpandSendMessageV2); the Java producer
	SendBatchMessage        RequestCode = 320    // short-name header, body of batched messages; Go and Java producers
	SendReplyMessage        RequestCode = 324    // Go request-reply producer (long-name header)
	SendReplyMessageV2      RequestCode = 325    // short-name header; named, unused, by the Go client
	QueryAssignment         RequestCode = 400    // Java 5 consumer, server-side rebalance
	PopMessage              RequestCode = 200050 // Java 5 pop consumer; JSON only (beyond int16)
	AckMessage              RequestCode = 200051 // Java 5 pop consumer; JSON only
)

// Requests a client (or a broker) sends to a name server.
const (
	RegisterBroker                RequestCode = 103 // broker
	UnregisterBroker              RequestCode = 104 // broker
	GetRouteInfoByTopic           RequestCode = 105 // every client, per topic, periodically
	GetBrokerClusterInfo          RequestCode = 106 // admin; named, unused, by the Go client
	GetAllTopicListFromNameServer RequestCode = 206 // Go admin FetchAllTopicList
)

// Admin requests rocketmq-client-go's admin package sends.
const (
	GetAllSubscriptionGroupConfig RequestCode = 201 // to a broker
	DeleteTopicInBroker           RequestCode = 215 // to a broker
	DeleteTopicInNameSrv          RequestCode = 216 // to a name server
)

// Requests a broker sends to a client, which answers them (the Go client
// registers handlers for each in internal/client.go).
const (
	CheckTransactionState       RequestCode = 39  // a half message's state
	NotifyConsumerIDsChanged    RequestCode = 40  // rebalance now (oneway)
	ResetConsumerClientOffset   RequestCode = 220 // Go: ReqResetConsumerOffset
	GetConsumerStatusFromClient RequestCode = 221 // Go: ReqGetConsumerStatsFromClient
	GetConsumerRunningInfo      RequestCode = 307
	ConsumeMessageDirectly      RequestCode = 309
	PushReplyMessageToClient    RequestCode = 326
)

var requestNames = map[RequestCode]string{
	SendMessage: "SEND_MESSAGE", PullMessage: "PULL_MESSAGE", QueryMessage: "QUERY_MESSAGE",
	QueryConsumerOffset: "QUERY_CONSUMER_OFFSET", UpdateConsumerOffset: "UPDATE_CONSUMER_OFFSET",
	UpdateAndCreateTopic: "UPDATE_AND_CREATE_TOPIC", SearchOffsetByTimestamp: "SEARCH_OFFSET_BY_TIMESTAMP",
	GetMaxOffset: "GET_MAX_OFFSET", GetMinOffset: "GET_MIN_OFFSET",
	GetEarliestMsgStoreTime: "GET_EARLIEST_MSG_STORETIME", ViewMessageByID: "VIEW_MESSAGE_BY_ID",
	HeartBeat: "HEART_BEAT", UnregisterClient: "UNREGISTER_CLIENT",
	ConsumerSendMsgBack: "CONSUMER_SEND_MSG_BACK", EndTransaction: "END_TRANSACTION",
	GetConsumerListByGroup: "GET_CONSUMER_LIST_BY_GROUP", LockBatchMQ: "LOCK_BATCH_MQ",
	UnlockBatchMQ: "UNLOCK_BATCH_MQ", SendMessageV2: "SEND_MESSAGE_V2",
	SendBatchMessage: "SEND_BATCH_MESSAGE", SendReplyMessage: "SEND_REPLY_MESSAGE",
	SendReplyMessageV2: "SEND_REPLY_MESSAGE_V2", QueryAssignment: "QUERY_ASSIGNMENT",
	PopMessage: "POP_MESSAGE", AckMessage: "ACK_MESSAGE",

	RegisterBroker: "REGISTER_BROKER", UnregisterBroker: "UNREGISTER_BROKER",
	GetRouteInfoByTopic: "GET_ROUTEINFO_BY_TOPIC", GetBrokerClusterInfo: "GET_BROKER_CLUSTER_INFO",
	GetAllTopicListFromNameServer: "GET_ALL_TOPIC_LIST_FROM_NAMESERVER",

	GetAllSubscriptionGroupConfig: "GET_ALL_SUBSCRIPTIONGROUP_CONFIG",
	DeleteTopicInBroker:           "DELETE_TOPIC_IN_BROKER", DeleteTopicInNameSrv: "DELETE_TOPIC_IN_NAMESRV",

	CheckTransactionState: "CHECK_TRANSACTION_STATE", NotifyConsumerIDsChanged: "NOTIFY_CONSUMER_IDS_CHANGED",
	ResetConsumerClientOffset: "RESET_CONSUMER_CLIENT_OFFSET", GetConsumerStatusFromClient: "GET_CONSUMER_STATUS_FROM_CLIENT",
	GetConsumerRunningInfo: "GET_CONSUMER_RUNNING_INFO", ConsumeMessageDirectly: "CONSUME_MESSAGE_DIRECTLY",
	PushReplyMessageToClient: "PUSH_REPLY_MESSAGE_TO_CLIENT",
}

// String returns RequestCode.java's name, or RequestCode(n) for a code
// not named here.
func (c RequestCode) String() string {
	if s, ok := requestNames[c]; ok {
		return s
	}
	return "RequestCode(" + strconv.Itoa(int(c)) + ")"
}

// ResponseCode is a response's outcome (RemotingSysResponseCode.java and
// ResponseCode.java). Named here: every code a broker or name server sends
// to clients. Left out: the controller's (2000-2016), the ACL admin's
// (3001, 3002) and the client-local RPC_* codes (negative; never on the
// wire).
type ResponseCode int32

// Responses of any request (RemotingSysResponseCode.java).
const (
	Success                 ResponseCode = 0
	SystemError             ResponseCode = 1
	SystemBusy              ResponseCode = 2
	RequestCodeNotSupported ResponseCode = 3
	TransactionFailed       ResponseCode = 4
)

// Responses of the broker and name server (ResponseCode.java).
const (
	FlushDiskTimeout          ResponseCode = 10
	SlaveNotAvailable         ResponseCode = 11
	FlushSlaveTimeout         ResponseCode = 12
	MessageIllegal            ResponseCode = 13
	ServiceNotAvailable       ResponseCode = 14
	VersionNotSupported       ResponseCode = 15
	NoPermission              ResponseCode = 16
	TopicNotExist             ResponseCode = 17
	TopicExistAlready         ResponseCode = 18
	PullNotFound              ResponseCode = 19
	PullRetryImmediately      ResponseCode = 20
	PullOffsetMoved           ResponseCode = 21
	QueryNotFound             ResponseCode = 22
	SubscriptionParseFailed   ResponseCode = 23
	SubscriptionNotExist      ResponseCode = 24
	SubscriptionNotLatest     ResponseCode = 25
	SubscriptionGroupNotExist ResponseCode = 26
	FilterDataNotExist        ResponseCode = 27
	FilterDataNotLatest       ResponseCode = 28
	InvalidParameter          ResponseCode = 29

	TransactionShouldCommit    ResponseCode = 200
	TransactionShouldRollback  ResponseCode = 201
	TransactionStateUnknown    ResponseCode = 202 // Java: TRANSACTION_STATE_UNKNOW
	TransactionStateGroupWrong ResponseCode = 203
	NoBuyerID                  ResponseCode = 204
	NotInCurrentUnit           ResponseCode = 205
	ConsumerNotOnline          ResponseCode = 206
	ConsumeMsgTimeout          ResponseCode = 207
	NoMessage                  ResponseCode = 208
	PollingFull                ResponseCode = 209
	PollingTimeout             ResponseCode = 210
	BrokerNotExist             ResponseCode = 211
	BrokerDispatchNotComplete  ResponseCode = 212
	BroadcastConsumption       ResponseCode = 213
	FlowControl                ResponseCode = 215

	NotLeaderForQueue ResponseCode = 501
	IllegalOperation  ResponseCode = 604
	GoAway            ResponseCode = 1500
)

var responseNames = map[ResponseCode]string{
	Success: "SUCCESS", SystemError: "SYSTEM_ERROR", SystemBusy: "SYSTEM_BUSY",
	RequestCodeNotSupported: "REQUEST_CODE_NOT_SUPPORTED", TransactionFailed: "TRANSACTION_FAILED",
	FlushDiskTimeout: "FLUSH_DISK_TIMEOUT", SlaveNotAvailable: "SLAVE_NOT_AVAILABLE",
	FlushSlaveTimeout: "FLUSH_SLAVE_TIMEOUT", MessageIllegal: "MESSAGE_ILLEGAL",
	ServiceNotAvailable: "SERVICE_NOT_AVAILABLE", VersionNotSupported: "VERSION_NOT_SUPPORTED",
	NoPermission: "NO_PERMISSION", TopicNotExist: "TOPIC_NOT_EXIST", TopicExistAlready: "TOPIC_EXIST_ALREADY",
	PullNotFound: "PULL_NOT_FOUND", PullRetryImmediately: "PULL_RETRY_IMMEDIATELY",
	PullOffsetMoved: "PULL_OFFSET_MOVED", QueryNotFound: "QUERY_NOT_FOUND",
	SubscriptionParseFailed: "SUBSCRIPTION_PARSE_FAILED", SubscriptionNotExist: "SUBSCRIPTION_NOT_EXIST",
	SubscriptionNotLatest: "SUBSCRIPTION_NOT_LATEST", SubscriptionGroupNotExist: "SUBSCRIPTION_GROUP_NOT_EXIST",
	FilterDataNotExist: "FILTER_DATA_NOT_EXIST", FilterDataNotLatest: "FILTER_DATA_NOT_LATEST",
	InvalidParameter: "INVALID_PARAMETER",

	TransactionShouldCommit: "TRANSACTION_SHOULD_COMMIT", TransactionShouldRollback: "TRANSACTION_SHOULD_ROLLBACK",
	TransactionStateUnknown: "TRANSACTION_STATE_UNKNOW", TransactionStateGroupWrong: "TRANSACTION_STATE_GROUP_WRONG",
	NoBuyerID: "NO_BUYER_ID", NotInCurrentUnit: "NOT_IN_CURRENT_UNIT", ConsumerNotOnline: "CONSUMER_NOT_ONLINE",
	ConsumeMsgTimeout: "CONSUME_MSG_TIMEOUT", NoMessage: "NO_MESSAGE", PollingFull: "POLLING_FULL",
	PollingTimeout: "POLLING_TIMEOUT", BrokerNotExist: "BROKER_NOT_EXIST",
	BrokerDispatchNotComplete: "BROKER_DISPATCH_NOT_COMPLETE", BroadcastConsumption: "BROADCAST_CONSUMPTION",
	FlowControl: "FLOW_CONTROL",

	NotLeaderForQueue: "NOT_LEADER_FOR_QUEUE", IllegalOperation: "ILLEGAL_OPERATION", GoAway: "GO_AWAY",
}

// String returns the Java constant's name, or ResponseCode(n) for a code
// not named here.
func (c ResponseCode) String() string {
	if s, ok := responseNames[c]; ok {
		return s
	}
	return "ResponseCode(" + strconv.Itoa(int(c)) + ")"
}
