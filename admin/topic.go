package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/rmqlog/rmqlog/namesrv"
	"github.com/rmqlog/rmqlog/remoting"
)

// ParsePerm reads a topic permission as operators write it: rw, r or w
// (RocketMQ's PermName: 6, 4, 2).
func ParsePerm(s string) (int, error) {
	switch strings.ToLower(s) {
	case "rw", "wr":
		return namesrv.PermRead | namesrv.PermWrite, nil
	case "r":
		return namesrv.PermRead, nil
	case "w":
		return namesrv.PermWrite, nil
	}
	return 0, fmt.Errorf("admin: permission %q: allowed rw, r or w", s)
}

// PermString writes a permission as ParsePerm reads it ("-" for none).
func PermString(perm int) string {
	s := ""
	if perm&namesrv.PermRead != 0 {
		s += "r"
	}
	if perm&namesrv.PermWrite != 0 {
		s += "w"
	}
	if s == "" {
		return "-"
	}
	return s
}

// TopicSpec is a topic to create or update.
type TopicSpec struct {
	Topic  string
	Queues int    // read and write queue counts, > 0
	Perm   int    // namesrv.PermRead|PermWrite, ...; 0 = read and write
	Broker string // one broker group's name; "" = every group the name servers know
}

// CreateResult is one broker group's answer to a topic creation.
type CreateResult struct {
	Broker string `json:"broker"`
	Master string `json:"master,omitempty"` // the address asked ("" when none was registered)
	Err    string `json:"err,omitempty"`
}

// CreateTopic sends UPDATE_AND_CREATE_TOPIC to the master of every broker
// group the name servers ns know (or of spec.Broker alone). A master
// appends the topic config to its group's Raft log, so its slaves apply
// the same config from the log (no request to them), and it answers once
// the entry is committed. It returns one result per group and an error
// when any group failed (ErrNoMaster: none registered) or the name servers
// did not answer.
func CreateTopic(ctx context.Context, ns []string, spec TopicSpec) ([]CreateResult, error) {
	if spec.Topic == "" || spec.Queues <= 0 {
		return nil, fmt.Errorf("admin: a topic needs a name and a queue count above 0 (here %q, %d)", spec.Topic, spec.Queues)
	}
	if spec.Perm == 0 {
		spec.Perm = namesrv.PermRead | namesrv.PermWrite
	}
	r := newRemote()
	defer r.close()
	ci, err := r.clusterInfo(ctx, ns)
	if err != nil {
		return nil, err
	}
	names, err := brokerNames(ci, spec.Broker)
	if err != nil {
		return nil, err
	}
	ext := map[string]string{"topic": spec.Topic, "defaultTopic": "TBW102",
		"readQueueNums": strconv.Itoa(spec.Queues), "writeQueueNums": strconv.Itoa(spec.Queues),
		"perm": strconv.Itoa(spec.Perm), "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"}
	var out []CreateResult
	var errs []error
	for _, name := range names {
		res := CreateResult{Broker: name, Master: ci.Brokers[name].Addrs[namesrv.MasterID]}
		if res.Master == "" {
			err = fmt.Errorf("%w for broker %s: members %s; retry once it has elected one", ErrNoMaster, name, members(ci.Brokers[name]))
		} else {
			_, err = r.call(ctx, res.Master, remoting.UpdateAndCreateTopic, ext)
		}
		if err != nil {
			res.Err = err.Error()
			errs = append(errs, fmt.Errorf("broker %s: %w", name, err))
		}
		out = append(out, res)
	}
	return out, errors.Join(errs...)
}

// brokerNames is every broker group of ci, sorted, or only want.
func brokerNames(ci namesrv.ClusterInfo, want string) ([]string, error) {
	names := slices.Sorted(maps.Keys(ci.Brokers))
	if want == "" {
		if len(names) == 0 {
			return nil, fmt.Errorf("%w: the name servers know no broker (are the brokers' namesrvAddr set to them?)", ErrNoMaster)
		}
		return names, nil
	}
	if _, ok := ci.Brokers[want]; !ok {
		return nil, fmt.Errorf("%w %q: the name servers know %s", ErrUnknownBroker, want, orNone(names))
	}
	return []string{want}, nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "no broker"
	}
	return strings.Join(names, ", ")
}

// members lists a group's registered members as id=addr.
func members(bd namesrv.BrokerData) string {
	var s []string
	for _, id := range slices.Sorted(maps.Keys(bd.Addrs)) {
		s = append(s, fmt.Sprintf("%d=%s", id, bd.Addrs[id]))
	}
	if len(s) == 0 {
		return "none registered"
	}
	return strings.Join(s, " ")
}

// TopicInfo is one topic and its queues per broker group.
type TopicInfo struct {
	Topic   string       `json:"topic"`
	Brokers []TopicQueue `json:"brokers"`
	Err     string       `json:"err,omitempty"` // the route could not be read
}

// TopicQueue is a topic's queues on one broker group.
type TopicQueue struct {
	Broker      string `json:"broker"`
	ReadQueues  int    `json:"readQueues"`
	WriteQueues int    `json:"writeQueues"`
	Perm        string `json:"perm"`
	Master      string `json:"master,omitempty"`
}

// ListTopics returns every topic the name servers know (sorted), each
// with its queues per broker group, from the topic's route.
func ListTopics(ctx context.Context, ns []string) ([]TopicInfo, error) {
	r := newRemote()
	defer r.close()
	topics, err := r.topicList(ctx, ns)
	if err != nil {
		return nil, err
	}
	slices.Sort(topics)
	out := make([]TopicInfo, 0, len(topics))
	for _, t := range topics {
		ti := TopicInfo{Topic: t}
		rt, err := r.route(ctx, ns, t)
		if err != nil {
			ti.Err = err.Error()
		}
		for _, q := range rt.QueueDatas {
			tq := TopicQueue{Broker: q.BrokerName, ReadQueues: q.ReadQueueNums, WriteQueues: q.WriteQueueNums, Perm: PermString(q.Perm)}
			for _, bd := range rt.BrokerDatas {
				if bd.BrokerName == q.BrokerName {
					tq.Master = bd.Addrs[namesrv.MasterID]
				}
			}
			ti.Brokers = append(ti.Brokers, tq)
		}
		slices.SortFunc(ti.Brokers, func(a, b TopicQueue) int { return strings.Compare(a.Broker, b.Broker) })
		out = append(out, ti)
	}
	return out, nil
}

// WriteTopicTable writes topics as a table, one row per topic and broker.
func WriteTopicTable(w io.Writer, topics []TopicInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tBROKER\tREAD\tWRITE\tPERM\tMASTER")
	for _, t := range topics {
		if t.Err != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t%s\n", t.Topic, t.Err)
		}
		for _, b := range t.Brokers {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", t.Topic, b.Broker, b.ReadQueues, b.WriteQueues, b.Perm, dash(b.Master))
		}
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
