// Package namesrv is a RocketMQ name server as a library, and the client a
// broker registers with it. Brokers register every few seconds with the
// topics they serve (queue counts and permissions); clients ask it where a
// topic's queues are. It serves, over package remoting/rpc:
//
//	REGISTER_BROKER (103)        a broker's address, role, and topics
//	UNREGISTER_BROKER (104)      a broker leaving
//	GET_ROUTEINFO_BY_TOPIC (105) a topic's queues and the brokers holding them
//	GET_BROKER_CLUSTER_INFO (106) every broker, by name and by cluster
//	GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206)
//
// and answers every other code REQUEST_CODE_NOT_SUPPORTED.
//
// It keeps nothing on disk: everything it knows came from registrations,
// and a broker it has not heard from for Config.BrokerExpiry (RocketMQ's
// BROKER_CHANNEL_EXPIRED_TIME, 120 s, unless the broker asked for another
// timeout) is forgotten, with its queues. A restarted name server knows
// every live broker again after one registration interval.
//
// Layer: a service beside the broker. It imports of rmqlog only remoting
// and remoting/rpc, never the engine, the server, the broker or internal/.
//
// # The route as clients read it
//
// A route (TopicRouteData) is JSON, written as Apache RocketMQ's name
// server writes it with fastjson (fields in alphabetical order, null
// fields left out):
//
//	{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},
//	  "brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],
//	 "filterServerTable":{},
//	 "queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,
//	  "topicSysFlag":0,"writeQueueNums":4}]}
//
// brokerAddrs maps broker ids to addresses, 0 the master and the others
// slaves, and its keys are unquoted integers: not JSON, but what fastjson
// writes for a HashMap<Long, String> and what rocketmq-client-go parses by
// hand (internal/route.go, TopicRouteData.decode: it splits the object's
// text at ',' and the first ':' and strips quotes). A request of version
// V4_9_4 (ordinal 401) or later, or with acceptStandardJsonOnly=true, gets
// standard JSON with quoted keys instead, as RocketMQ's
// ClientRequestProcessor.getRouteInfoByTopic answers. The cluster info
// keeps fastjson's form for every version, as RocketMQ does.
//
// Sources: Apache RocketMQ namesrv/.../routeinfo/RouteInfoManager.java,
// processor/DefaultRequestProcessor.java and ClientRequestProcessor.java,
// remoting/.../protocol/route/ and protocol/body/;
// rocketmq-client-go internal/route.go and admin/admin.go.
package namesrv
