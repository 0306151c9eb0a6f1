package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/admin"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/remoting"
)

// TestOperatorCommands: `rmqlog namesrv` and three `rmqlog serve`; `rmqlog
// topic create` reaches the group's master through the name server's
// cluster info, `topic list` shows the topic's queues, and `consumer
// progress` reports per queue the max offset, the group's committed offset
// and the lag after sends and an offset commit. The failures (unknown
// group, unknown broker, name server down, usage) exit 1 or 2 with the
// reason.
func TestOperatorCommands(t *testing.T) {
	ns := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	np := start(t, "namesrv", "--listen", ns)
	poll.Eventually(t, 10*time.Second, "the name server runs", func() bool {
		return strings.Contains(np.output(), "rmqlog name server running")
	})
	c := newCluster(t, map[string]string{"namesrvAddr": ns})
	for _, id := range c.ids {
		c.start(id)
	}
	master := c.brokers[c.leader()]

	var out string
	poll.EventuallyNil(t, 30*time.Second, "topic create on the registered master", func() error {
		var code int
		if out, code = runCmd(t, "topic", "create", "--namesrv", ns, "--topic", "OPS", "--queues", "2"); code != 0 {
			return fmt.Errorf("exit %d: %s", code, out)
		}
		return nil
	})
	if want := "RaftNode00: topic OPS created on RaftNode00 (master " + master + "): 2 queues, perm rw"; !strings.Contains(out, want) {
		t.Fatalf("topic create: %q, want %q", out, want)
	}
	poll.EventuallyNil(t, 15*time.Second, "topic list shows OPS", func() error {
		out, code := runCmd(t, "topic", "list", "--namesrv", ns)
		t.Logf("rmqlog topic list:\n%s", out)
		if code != 0 || !hasRow(out, "OPS", "RaftNode00", "2", "2", "rw", master) {
			return fmt.Errorf("exit %d:\n%s", code, out)
		}
		return nil
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	send := func(q int) {
		r, err := remote(ctx, master, remoting.SendMessage, map[string]string{
			"producerGroup": "P", "topic": "OPS", "queueId": strconv.Itoa(q), "sysFlag": "0",
			"bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10), "flag": "0", "reconsumeTimes": "0", "properties": "",
		}, []byte("m"))
		if err != nil || r.Code != int32(remoting.Success) {
			t.Fatalf("SEND_MESSAGE: %v %+v", err, r)
		}
	}
	send(0)
	send(0)
	send(0)
	send(1)
	r, err := remote(ctx, master, remoting.UpdateConsumerOffset, map[string]string{
		"consumerGroup": "G", "topic": "OPS", "queueId": "0", "commitOffset": "2"}, nil)
	if err != nil || r.Code != int32(remoting.Success) {
		t.Fatalf("UPDATE_CONSUMER_OFFSET: %v %+v", err, r)
	}

	for _, args := range [][]string{{"--topic", "OPS"}, nil} {
		out, code := runCmd(t, append([]string{"consumer", "progress", "--namesrv", ns, "--group", "G", "--json"}, args...)...)
		var p admin.Progress
		if code != 0 || json.Unmarshal([]byte(out), &p) != nil {
			t.Fatalf("consumer progress %v: exit %d\n%s", args, code, out)
		}
		want := []admin.QueueProgress{
			{Topic: "OPS", Broker: "RaftNode00", QueueID: 0, BrokerOffset: 3, ConsumerOffset: 2, Lag: 1, Addr: master},
			{Topic: "OPS", Broker: "RaftNode00", QueueID: 1, BrokerOffset: 1, ConsumerOffset: 0, Lag: 1, Addr: master},
		}
		if fmt.Sprint(p.Queues) != fmt.Sprint(want) || p.TotalLag != 2 || len(p.Consumers) != 0 {
			t.Fatalf("consumer progress %v: %+v\nwant queues %+v, total lag 2", args, p, want)
		}
	}
	out, code := runCmd(t, "consumer", "progress", "--namesrv", ns, "--group", "G", "--topic", "OPS")
	t.Logf("rmqlog consumer progress:\n%s", out)
	if code != 0 || !hasRow(out, "OPS", "RaftNode00", "0", "3", "2", "1", "-") || !strings.Contains(out, "group G: 0 consumer(s) online, total lag 2") {
		t.Fatalf("consumer progress table: exit %d\n%s", code, out)
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"consumer", "progress", "--namesrv", ns, "--group", "Nobody"}, 1, `unknown consumer group "Nobody": no consumer of it is online and it has no committed offset on any topic`},
		{[]string{"consumer", "progress", "--namesrv", ns, "--group", "G", "--topic", "Nope"}, 1, `unknown topic "Nope"`},
		{[]string{"topic", "create", "--namesrv", ns, "--topic", "X", "--queues", "1", "--broker", "broker-z"}, 1, `unknown broker name "broker-z": the name servers know RaftNode00`},
		{[]string{"topic", "list", "--namesrv", "127.0.0.1:1"}, 1, "no name server answered (127.0.0.1:1)"},
		{[]string{"topic", "create", "--namesrv", ns, "--topic", "X"}, 2, "--topic and --queues (above 0) are required"},
		{[]string{"topic", "create", "--namesrv", ns, "--topic", "X", "--queues", "1", "--perm", "x"}, 2, `--perm "x": allowed rw, r or w`},
		{[]string{"consumer", "progress", "--namesrv", ns}, 2, "--group is required"},
		{[]string{"topic", "delete"}, 2, `unknown subcommand "delete"`},
	} {
		out, code := runCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.msg) {
			t.Errorf("rmqlog %s: exit %d, want %d and %q\n%s", strings.Join(tc.args, " "), code, tc.code, tc.msg, out)
		}
	}
}

// hasRow reports whether some line of out has exactly these fields.
func hasRow(out string, fields ...string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(l), " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}
