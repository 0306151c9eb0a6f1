package namesrv

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// The JSON bodies the name server sends, written by hand because
// brokerAddrs's fastjson form (unquoted integer keys) is not JSON and
// encoding/json refuses to write it. Fields are in fastjson's order
// (alphabetical); doc.go shows a route.

// encodeRoute returns r as RocketMQ's name server writes a
// TopicRouteData: brokerAddrs with unquoted keys, or quoted when standard.
func encodeRoute(r Route, standard bool) []byte {
	b := []byte(`{"brokerDatas":[`)
	for i, bd := range r.BrokerDatas {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendBroker(b, bd, standard)
	}
	b = append(b, `],"filterServerTable":{},"queueDatas":[`...)
	for i, q := range r.QueueDatas {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendQueue(b, q)
	}
	return append(b, "]}"...)
}

// appendBroker appends one BrokerData, its members in id order.
func appendBroker(b []byte, bd BrokerData, standard bool) []byte {
	b = append(b, `{"brokerAddrs":{`...)
	for i, id := range slices.Sorted(maps.Keys(bd.Addrs)) {
		if i > 0 {
			b = append(b, ',')
		}
		if standard {
			b = append(b, '"')
		}
		b = strconv.AppendInt(b, id, 10)
		if standard {
			b = append(b, '"')
		}
		b = append(b, ':')
		b = appendString(b, bd.Addrs[id])
	}
	b = append(b, `},"brokerName":`...)
	b = appendString(b, bd.BrokerName)
	b = append(b, `,"cluster":`...)
	b = appendString(b, bd.Cluster)
	b = append(b, `,"enableActingMaster":`...)
	b = strconv.AppendBool(b, bd.EnableActingMaster)
	return append(b, '}')
}

func appendQueue(b []byte, q QueueData) []byte {
	b = append(b, `{"brokerName":`...)
	b = appendString(b, q.BrokerName)
	b = append(b, `,"perm":`...)
	b = strconv.AppendInt(b, int64(q.Perm), 10)
	b = append(b, `,"readQueueNums":`...)
	b = strconv.AppendInt(b, int64(q.ReadQueueNums), 10)
	b = append(b, `,"topicSysFlag":`...)
	b = strconv.AppendInt(b, int64(q.TopicSysFlag), 10)
	b = append(b, `,"writeQueueNums":`...)
	b = strconv.AppendInt(b, int64(q.WriteQueueNums), 10)
	return append(b, '}')
}

// encodeClusterInfo returns ci as RocketMQ's ClusterInfo.encode() writes
// it: fastjson's form, unquoted broker ids, for every client version.
func encodeClusterInfo(ci ClusterInfo) []byte {
	b := []byte(`{"brokerAddrTable":{`)
	for i, name := range slices.Sorted(maps.Keys(ci.Brokers)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, name)
		b = append(b, ':')
		b = appendBroker(b, ci.Brokers[name], false)
	}
	b = append(b, `},"clusterAddrTable":{`...)
	for i, c := range slices.Sorted(maps.Keys(ci.Clusters)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, c)
		b = append(b, ':')
		b = appendStrings(b, ci.Clusters[c])
	}
	return append(b, "}}"...)
}

// encodeTopicList returns TopicList.encode()'s form: {"topicList":[...]}.
func encodeTopicList(topics []string) []byte {
	b := []byte(`{"topicList":`)
	b = appendStrings(b, topics)
	return append(b, '}')
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// ParseRoute decodes a route in either form encodeRoute writes (and
// RocketMQ's name servers send): brokerAddrs with quoted or unquoted keys.
func ParseRoute(body []byte) (Route, error) {
	var raw struct {
		QueueDatas []struct {
			BrokerName     string `json:"brokerName"`
			ReadQueueNums  int    `json:"readQueueNums"`
			WriteQueueNums int    `json:"writeQueueNums"`
			Perm           int    `json:"perm"`
			TopicSysFlag   int    `json:"topicSysFlag"`
		} `json:"queueDatas"`
		BrokerDatas []struct {
			Cluster            string           `json:"cluster"`
			BrokerName         string           `json:"brokerName"`
			BrokerAddrs        map[int64]string `json:"brokerAddrs"`
			EnableActingMaster bool             `json:"enableActingMaster"`
		} `json:"brokerDatas"`
	}
	if err := json.Unmarshal(QuoteIntKeys(body), &raw); err != nil {
		return Route{}, err
	}
	var r Route
	for _, q := range raw.QueueDatas {
		r.QueueDatas = append(r.QueueDatas, QueueData(q))
	}
	for _, bd := range raw.BrokerDatas {
		r.BrokerDatas = append(r.BrokerDatas, BrokerData{Cluster: bd.Cluster, BrokerName: bd.BrokerName,
			Addrs: bd.BrokerAddrs, EnableActingMaster: bd.EnableActingMaster})
	}
	return r, nil
}

// QuoteIntKeys quotes the unquoted integer keys fastjson writes (a digit
// run after '{' or ',' and before ':', outside strings), so that
// encoding/json reads them: route data here, a classic broker's
// consumerOffset.json and delayOffset.json in the broker's import.
func QuoteIntKeys(b []byte) []byte {
	out := make([]byte, 0, len(b)+16)
	inStr, esc := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inStr:
			inStr = !(c == '"' && !esc)
			esc = c == '\\' && !esc
		case c == '"':
			inStr = true
		case (c == '{' || c == ',') && i+1 < len(b) && (b[i+1] == '-' || b[i+1] >= '0' && b[i+1] <= '9'):
			j := i + 2
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			if j < len(b) && b[j] == ':' {
				out = append(out, c, '"')
				out = append(out, b[i+1:j]...)
				out = append(out, '"')
				i = j - 1
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// ParseClusterInfo decodes GET_BROKER_CLUSTER_INFO's body (ClusterInfo's
// fastjson form, brokerAddrs with unquoted or quoted keys).
func ParseClusterInfo(body []byte) (ClusterInfo, error) {
	var raw struct {
		Brokers map[string]struct {
			Cluster            string           `json:"cluster"`
			BrokerName         string           `json:"brokerName"`
			BrokerAddrs        map[int64]string `json:"brokerAddrs"`
			EnableActingMaster bool             `json:"enableActingMaster"`
		} `json:"brokerAddrTable"`
		Clusters map[string][]string `json:"clusterAddrTable"`
	}
	if err := json.Unmarshal(QuoteIntKeys(body), &raw); err != nil {
		return ClusterInfo{}, fmt.Errorf("namesrv: cluster info: %w", err)
	}
	ci := ClusterInfo{Brokers: map[string]BrokerData{}, Clusters: raw.Clusters}
	for name, bd := range raw.Brokers {
		ci.Brokers[name] = BrokerData{Cluster: bd.Cluster, BrokerName: bd.BrokerName,
			Addrs: bd.BrokerAddrs, EnableActingMaster: bd.EnableActingMaster}
	}
	return ci, nil
}

// ParseTopicList decodes GET_ALL_TOPIC_LIST_FROM_NAMESERVER's body
// ({"topicList":[...]}).
func ParseTopicList(body []byte) ([]string, error) {
	var raw struct {
		TopicList []string `json:"topicList"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("namesrv: topic list: %w", err)
	}
	return raw.TopicList, nil
}
