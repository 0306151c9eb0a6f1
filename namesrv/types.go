package namesrv

// Permission bits of a topic's queues (PermName.java).
const (
	PermInherit  = 1 << 0
	PermWrite    = 1 << 1
	PermRead     = 1 << 2
	PermPriority = 1 << 3
)

// MasterID is the broker id of a master (MixAll.MASTER_ID); slaves have
// others.
const MasterID = 0

// TopicConfig is one topic of a broker's registration, with the JSON
// fields of RocketMQ's TopicConfig.
type TopicConfig struct {
	TopicName       string `json:"topicName"`
	ReadQueueNums   int    `json:"readQueueNums"`
	WriteQueueNums  int    `json:"writeQueueNums"`
	Perm            int    `json:"perm"`
	TopicFilterType string `json:"topicFilterType,omitempty"` // "SINGLE_TAG" when empty
	TopicSysFlag    int    `json:"topicSysFlag"`
	Order           bool   `json:"order"`
}

// DataVersion is a broker's topic configuration version (DataVersion.java).
type DataVersion struct {
	StateVersion int64 `json:"stateVersion"`
	Timestamp    int64 `json:"timestamp"`
	Counter      int64 `json:"counter"`
}

// topicConfigWrapper is TopicConfigSerializeWrapper.java: a broker's
// topics and their version.
type topicConfigWrapper struct {
	TopicConfigTable map[string]TopicConfig `json:"topicConfigTable"`
	DataVersion      DataVersion            `json:"dataVersion"`
}

// registerBody is REGISTER_BROKER's body from brokers of V3_0_11 and
// later (RegisterBrokerBody.java, uncompressed: the broker's default,
// compressedRegister=false). Older brokers send the topicConfigWrapper
// alone.
type registerBody struct {
	TopicConfigSerializeWrapper topicConfigWrapper `json:"topicConfigSerializeWrapper"`
	FilterServerList            []string           `json:"filterServerList"`
}

// registerBodyVersion is MQVersion.Version.V3_0_11's ordinal: a
// registration of this version or later has a registerBody.
const registerBodyVersion = 37

// brokerVersion is the version Register claims: V5_3_3's ordinal, the
// RocketMQ release whose name server this package follows.
const brokerVersion = 479

// QueueData is a topic's queues on one broker name (QueueData.java).
type QueueData struct {
	BrokerName     string
	ReadQueueNums  int
	WriteQueueNums int
	Perm           int
	TopicSysFlag   int
}

// BrokerData is one broker name's members (BrokerData.java): Addrs maps a
// broker id to its address, MasterID the master.
type BrokerData struct {
	Cluster            string
	BrokerName         string
	Addrs              map[int64]string
	EnableActingMaster bool
}

// Route is a topic's route (TopicRouteData.java): its queues per broker
// name, and those brokers.
type Route struct {
	QueueDatas  []QueueData
	BrokerDatas []BrokerData
}

// ClusterInfo is every broker name with its members, and every cluster
// with its broker names (ClusterInfo.java).
type ClusterInfo struct {
	Brokers  map[string]BrokerData
	Clusters map[string][]string
}
