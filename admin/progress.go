package admin

import (
	"context"
	"encoding/json"
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

// QueueProgress is one queue's consumption by a group: the broker's max
// offset (the next message's queue offset), the group's committed offset
// (-1: none committed) and the lag between them.
type QueueProgress struct {
	Topic          string `json:"topic"`
	Broker         string `json:"broker"`
	QueueID        int    `json:"queueId"`
	BrokerOffset   int64  `json:"brokerOffset"`
	ConsumerOffset int64  `json:"consumerOffset"`
	Lag            int64  `json:"lag"`
	Addr           string `json:"addr"` // the member asked
	Err            string `json:"err,omitempty"`
}

// Progress is a consumer group's progress over its topics' queues.
type Progress struct {
	Group     string          `json:"group"`
	Consumers []string        `json:"consumers"` // client ids online, from GET_CONSUMER_LIST_BY_GROUP
	Queues    []QueueProgress `json:"queues"`
	TotalLag  int64           `json:"totalLag"`
}

// ConsumerProgress reports group's progress on topic, or, with topic "",
// on every topic where the group has a committed offset above 0 (and its
// retry topic): the brokers serve no list of a group's subscriptions
// (GET_CONSUME_STATS is not among their request codes), so it asks every
// topic's queues. Offsets are read from each broker group's master, or a
// slave when no master is registered (every member applies the same
// committed offsets from the log). ErrUnknownGroup when no consumer of the
// group is online and no queue has a committed offset above 0.
func ConsumerProgress(ctx context.Context, ns []string, group, topic string) (Progress, error) {
	if group == "" {
		return Progress{}, errors.New("admin: a consumer group name is required")
	}
	r := newRemote()
	defer r.close()
	topics := []string{topic}
	if topic == "" {
		all, err := r.topicList(ctx, ns)
		if err != nil {
			return Progress{}, err
		}
		topics = groupTopics(all, group)
	}
	p := Progress{Group: group, Queues: []QueueProgress{}}
	online := map[string]bool{}
	for _, t := range topics {
		rt, err := r.route(ctx, ns, t)
		if err != nil {
			if topic == "" && errors.Is(err, ErrUnknownTopic) {
				continue // deleted since the list
			}
			return Progress{}, err
		}
		qs := r.topicProgress(ctx, rt, group, t, online)
		if topic == "" && !committed(qs) {
			continue
		}
		p.Queues = append(p.Queues, qs...)
	}
	p.Consumers = slices.Sorted(maps.Keys(online))
	if len(p.Consumers) == 0 && !committed(p.Queues) {
		return p, fmt.Errorf("%w %q: no consumer of it is online and it has no committed offset on %s", ErrUnknownGroup, group, topicsName(topic))
	}
	var errs []error
	for _, q := range p.Queues {
		p.TotalLag += q.Lag
		if q.Err != "" {
			errs = append(errs, fmt.Errorf("%s queue %d on %s: %s", q.Topic, q.QueueID, q.Broker, q.Err))
		}
	}
	return p, errors.Join(errs...)
}

func topicsName(topic string) string {
	if topic == "" {
		return "any topic"
	}
	return "topic " + topic
}

// groupTopics is the topics a group may consume: every topic but other
// groups' retry and dead letter topics and the system topics.
func groupTopics(all []string, group string) []string {
	var out []string
	for _, t := range all {
		switch {
		case t == "%RETRY%"+group:
		case strings.HasPrefix(t, "%RETRY%"), strings.HasPrefix(t, "%DLQ%"), t == "TBW102",
			t == "SCHEDULE_TOPIC_XXXX", strings.HasPrefix(t, "RMQ_SYS_"):
			continue
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// committed reports whether any queue has a committed offset above 0.
func committed(qs []QueueProgress) bool {
	return slices.ContainsFunc(qs, func(q QueueProgress) bool { return q.ConsumerOffset > 0 })
}

// topicProgress reads the group's progress on every read queue of a
// topic's route, and adds the group's online clients of each broker to online.
func (r *remote) topicProgress(ctx context.Context, rt namesrv.Route, group, topic string, online map[string]bool) []QueueProgress {
	var out []QueueProgress
	slices.SortFunc(rt.QueueDatas, func(a, b namesrv.QueueData) int { return strings.Compare(a.BrokerName, b.BrokerName) })
	for _, qd := range rt.QueueDatas {
		addr := readAddr(rt, qd.BrokerName)
		if addr != "" {
			for _, id := range r.consumers(ctx, addr, group) {
				online[id] = true
			}
		}
		for q := range qd.ReadQueueNums {
			qp := QueueProgress{Topic: topic, Broker: qd.BrokerName, QueueID: q, Addr: addr, ConsumerOffset: -1}
			if addr == "" {
				qp.Err = ErrNoMaster.Error() + " and no slave registered"
			} else if err := r.queueProgress(ctx, &qp, group); err != nil {
				qp.Err = err.Error()
			}
			out = append(out, qp)
		}
	}
	return out
}

// readAddr is the broker group's master, else its lowest slave.
func readAddr(rt namesrv.Route, broker string) string {
	for _, bd := range rt.BrokerDatas {
		if bd.BrokerName == broker && len(bd.Addrs) > 0 {
			return bd.Addrs[slices.Min(slices.Collect(maps.Keys(bd.Addrs)))]
		}
	}
	return ""
}

// queueProgress fills in a queue's offsets and lag. Without a committed
// offset (QUERY_NOT_FOUND) the lag counts from the queue's min offset.
func (r *remote) queueProgress(ctx context.Context, qp *QueueProgress, group string) error {
	q := map[string]string{"topic": qp.Topic, "queueId": strconv.Itoa(qp.QueueID)}
	var err error
	if qp.BrokerOffset, err = r.offset(ctx, qp.Addr, remoting.GetMaxOffset, q); err != nil {
		return err
	}
	q["consumerGroup"] = group
	from, err := r.offset(ctx, qp.Addr, remoting.QueryConsumerOffset, q)
	var re *RemoteError
	if errors.As(err, &re) && re.Code == remoting.QueryNotFound {
		from, err = r.offset(ctx, qp.Addr, remoting.GetMinOffset, q)
	} else {
		qp.ConsumerOffset = from
	}
	if err != nil {
		return err
	}
	qp.Lag = max(0, qp.BrokerOffset-from)
	return nil
}

// offset sends an offset request and reads the answer's "offset" field.
func (r *remote) offset(ctx context.Context, addr string, code remoting.RequestCode, ext map[string]string) (int64, error) {
	resp, err := r.call(ctx, addr, code, maps.Clone(ext))
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(resp.ExtFields["offset"], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%v to %s: offset %q: %w", code, addr, resp.ExtFields["offset"], err)
	}
	return n, nil
}

// consumers is the group's client ids connected to the broker at addr
// (none on any error: the broker answers SYSTEM_ERROR for no consumer).
func (r *remote) consumers(ctx context.Context, addr, group string) []string {
	resp, err := r.call(ctx, addr, remoting.GetConsumerListByGroup, map[string]string{"consumerGroup": group})
	if err != nil {
		return nil
	}
	var body struct {
		IDs []string `json:"consumerIdList"`
	}
	json.Unmarshal(resp.Body, &body)
	return body.IDs
}

// WriteProgressTable writes a group's progress, one row per queue, then a
// summary line.
func WriteProgressTable(w io.Writer, p Progress) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tBROKER\tQUEUE\tBROKER_OFFSET\tCONSUMER_OFFSET\tLAG\tERROR")
	for _, q := range p.Queues {
		co := strconv.FormatInt(q.ConsumerOffset, 10)
		if q.ConsumerOffset < 0 {
			co = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%s\n", q.Topic, q.Broker, q.QueueID, q.BrokerOffset, co, q.Lag, dash(q.Err))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "group %s: %d consumer(s) online, total lag %d\n", p.Group, len(p.Consumers), p.TotalLag)
	return err
}
