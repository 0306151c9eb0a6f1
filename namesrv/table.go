package namesrv

import (
	"maps"
	"slices"
	"time"
)

// table is what the name server knows: pure state, driven by
// registrations and the clock the caller passes in. Not safe for
// concurrent use; the Server holds its lock around every call.
type table struct {
	clusters map[string]map[string]bool      // cluster -> broker names
	brokers  map[string]*BrokerData          // broker name -> members
	topics   map[string]map[string]QueueData // topic -> broker name -> its queues
	live     map[liveKey]*liveInfo           // every registered broker process
}

// liveKey names one broker process, as RocketMQ's BrokerAddrInfo.
type liveKey struct{ cluster, addr string }

// liveInfo is when a broker process was last heard from.
type liveInfo struct {
	last         time.Time
	timeout      time.Duration
	haServerAddr string
}

func newTable() *table {
	return &table{clusters: map[string]map[string]bool{}, brokers: map[string]*BrokerData{},
		topics: map[string]map[string]QueueData{}, live: map[liveKey]*liveInfo{}}
}

// registration is one REGISTER_BROKER request, decoded.
type registration struct {
	cluster, name, addr, haServerAddr string
	id                                int64
	timeout                           time.Duration // 0: the table's default
	actingMaster                      bool
	topics                            map[string]TopicConfig
}

// registered is what REGISTER_BROKER answers a slave: its master's
// addresses, when the master is registered and live.
type registered struct{ masterAddr, haServerAddr string }

// register records a registration at now, as RouteInfoManager.registerBroker:
// the member joins its broker name (an address moving to another id leaves
// its old one), and a master's topics (or an acting prime slave's, without
// the write permission) replace that broker name's queues of each topic.
func (t *table) register(r registration, now time.Time, defaultTimeout time.Duration) registered {
	names := t.clusters[r.cluster]
	if names == nil {
		names = map[string]bool{}
		t.clusters[r.cluster] = names
	}
	names[r.name] = true
	bd := t.brokers[r.name]
	if bd == nil {
		bd = &BrokerData{Cluster: r.cluster, BrokerName: r.name, Addrs: map[int64]string{}}
		t.brokers[r.name] = bd
	}
	bd.EnableActingMaster = r.actingMaster
	for id, a := range bd.Addrs {
		if a == r.addr && id != r.id {
			delete(bd.Addrs, id)
		}
	}
	bd.Addrs[r.id] = r.addr
	primeSlave := r.actingMaster && r.id != MasterID && r.id == slices.Min(slices.Collect(maps.Keys(bd.Addrs)))
	if r.id == MasterID || primeSlave {
		for name, tc := range r.topics {
			t.putQueues(name, r.name, tc, primeSlave)
		}
	}
	timeout := r.timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	t.live[liveKey{r.cluster, r.addr}] = &liveInfo{last: now, timeout: timeout, haServerAddr: r.haServerAddr}
	return t.masterOf(r, bd)
}

// putQueues sets broker's queues of topic from its config.
func (t *table) putQueues(topic, broker string, tc TopicConfig, readOnly bool) {
	perm := tc.Perm
	if readOnly {
		perm &^= PermWrite
	}
	qs := t.topics[topic]
	if qs == nil {
		qs = map[string]QueueData{}
		t.topics[topic] = qs
	}
	qs[broker] = QueueData{BrokerName: broker, ReadQueueNums: tc.ReadQueueNums,
		WriteQueueNums: tc.WriteQueueNums, Perm: perm, TopicSysFlag: tc.TopicSysFlag}
}

func (t *table) masterOf(r registration, bd *BrokerData) registered {
	if r.id == MasterID {
		return registered{}
	}
	addr, ok := bd.Addrs[MasterID]
	if !ok {
		return registered{}
	}
	li := t.live[liveKey{r.cluster, addr}]
	if li == nil {
		return registered{}
	}
	return registered{masterAddr: addr, haServerAddr: li.haServerAddr}
}

// unregister removes one broker process (RouteInfoManager.unRegisterBroker):
// the last member of a broker name takes the name, its queues and its
// place in the cluster with it.
func (t *table) unregister(cluster, name, addr string, id int64) {
	delete(t.live, liveKey{cluster, addr})
	bd := t.brokers[name]
	if bd == nil {
		return
	}
	if a, ok := bd.Addrs[id]; ok && a == addr {
		delete(bd.Addrs, id)
	}
	if len(bd.Addrs) > 0 {
		return
	}
	delete(t.brokers, name)
	if names := t.clusters[cluster]; names != nil {
		delete(names, name)
		if len(names) == 0 {
			delete(t.clusters, cluster)
		}
	}
	for topic, qs := range t.topics {
		delete(qs, name)
		if len(qs) == 0 {
			delete(t.topics, topic)
		}
	}
}

// expire unregisters every broker process not heard from within its
// timeout at now (RouteInfoManager.scanNotActiveBroker), and returns them.
func (t *table) expire(now time.Time) []liveKey {
	var gone []liveKey
	for k, li := range t.live {
		if now.Sub(li.last) > li.timeout {
			gone = append(gone, k)
		}
	}
	for _, k := range gone {
		t.forget(k)
	}
	return gone
}

// forget unregisters the broker process k wherever it is a member.
func (t *table) forget(k liveKey) {
	delete(t.live, k)
	for name, bd := range t.brokers {
		if bd.Cluster != k.cluster {
			continue
		}
		for id, a := range bd.Addrs {
			if a == k.addr {
				t.unregister(k.cluster, name, a, id)
			}
		}
	}
}

// route returns topic's route (pickupTopicRouteData), and false when no
// live broker serves it. Queues and brokers are sorted by broker name.
func (t *table) route(topic string) (Route, bool) {
	qs := t.topics[topic]
	var r Route
	for _, name := range slices.Sorted(maps.Keys(qs)) {
		r.QueueDatas = append(r.QueueDatas, qs[name])
		if bd := t.brokers[name]; bd != nil {
			r.BrokerDatas = append(r.BrokerDatas, cloneBroker(bd))
		}
	}
	return r, len(r.QueueDatas) > 0 && len(r.BrokerDatas) > 0
}

func cloneBroker(bd *BrokerData) BrokerData {
	c := *bd
	c.Addrs = maps.Clone(bd.Addrs)
	return c
}

// clusterInfo returns a copy of every broker name and cluster.
func (t *table) clusterInfo() ClusterInfo {
	ci := ClusterInfo{Brokers: map[string]BrokerData{}, Clusters: map[string][]string{}}
	for name, bd := range t.brokers {
		ci.Brokers[name] = cloneBroker(bd)
	}
	for c, names := range t.clusters {
		ci.Clusters[c] = slices.Sorted(maps.Keys(names))
	}
	return ci
}

// topicList returns every topic with queues, sorted.
func (t *table) topicList() []string { return slices.Sorted(maps.Keys(t.topics)) }
