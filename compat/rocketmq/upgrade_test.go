package rocketmq

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/commitlog/classic"
)

const upgradeTopic = "UpgradeTopic"

// writeClassicStore writes a classic broker's store root: commitlog/ in
// 1 MiB files with 50 messages per queue of upgradeTopic's 4 (queue 0's
// offsets start at 1000: retention removed the first ones), and config/
// with topics.json and consumerOffset.json (resume_group committed 30 of
// each queue's 50, fastjson's unquoted keys). It returns the messages by
// UNIQ_KEY.
func writeClassicStore(t *testing.T, root string) map[string]commitlog.Message {
	t.Helper()
	w, err := classic.NewWriter(filepath.Join(root, "commitlog"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	w.SetQueueOffset(upgradeTopic, 0, 1000)
	want := map[string]commitlog.Message{}
	for i := range 200 {
		uniq := fmt.Sprintf("0A0000070000%020X", i)
		m := commitlog.Message{Topic: []byte(upgradeTopic), QueueID: int32(i % 4),
			Body:          fmt.Appendf(nil, "classic message %d %s", i, strings.Repeat("x", i*37%3000)),
			Properties:    props(t, "TAGS", []string{"a", "b"}[i%2], "KEYS", fmt.Sprint("key", i), "UNIQ_KEY", uniq, "origin", "classic"),
			BornTimestamp: 1_700_000_000_000 + int64(i), BornHost: netip.MustParseAddrPort("10.0.0.7:50000"),
			StoreTimestamp: 1_700_000_000_100 + int64(i), StoreHost: netip.MustParseAddrPort("10.0.0.1:10911")}
		if _, err := w.Append(&m); err != nil {
			t.Fatal(err)
		}
		want[uniq] = m
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(root, "config")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"topics.json": `{"dataVersion":{"counter":1,"timestamp":1},"topicConfigTable":{"` + upgradeTopic +
			`":{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"` + upgradeTopic + `","topicSysFlag":0,"writeQueueNums":4}}}`,
		"consumerOffset.json": `{"offsetTable":{"` + upgradeTopic + `@resume_group":{0:1030,1:30,2:30,3:30}}}`,
	} {
		if err := os.WriteFile(filepath.Join(cfg, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

// TestUpgradeFromClassic runs docs/upgrade.md's procedure with the real
// binary on a classic store written here: check, import into three
// members (equal digests), start them; then the official client's push
// consumers read every imported message as it was stored (a new group from
// the first offset: all 200; resume_group from its imported offsets: only
// the 80 after them), and a producer's new messages follow the imported
// ones in every queue.
func TestUpgradeFromClassic(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	rlog.SetLogLevel("error")
	bin := buildRmqlog(t)
	dir := t.TempDir()
	want := writeClassicStore(t, filepath.Join(dir, "classic"))
	cl := filepath.Join(dir, "classic", "commitlog")
	if out, err := exec.Command(bin, "commitlog", "check", "--dir", cl).CombinedOutput(); err != nil || !strings.Contains(string(out), "200 messages") {
		t.Fatalf("commitlog check: %v\n%s", err, out)
	}

	ports := freePorts(t, 10)
	ns := fmt.Sprintf("127.0.0.1:%d", ports[9])
	confs := writeConfs(t, dir, "broker", "UpgradeCluster", "broker-a", ns, ports)
	digest := regexp.MustCompile(`(?m)^digest: .*$`)
	var digests []string
	for _, conf := range confs {
		out, err := exec.Command(bin, "commitlog", "import", "--dir", cl, "--to", conf).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "messages    200 ") {
			t.Fatalf("commitlog import --to %s: %v\n%s", conf, err, out)
		}
		digests = append(digests, digest.FindString(string(out)))
	}
	if digests[0] == "" || digests[0] != digests[1] || digests[0] != digests[2] {
		t.Fatalf("digests differ: %q", digests)
	}
	if out, err := exec.Command(bin, "commitlog", "import", "--dir", cl, "--to", confs[0]).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "not empty") {
		t.Fatalf("a second import into the same member: %v\n%s", err, out)
	}

	run(t, "namesrv", bin, "namesrv", "--listen", ns)
	for i, conf := range confs {
		run(t, fmt.Sprintf("n%d", i), bin, "serve", "-c", conf)
	}
	resolver := primitive.NewPassthroughResolver([]string{ns})
	waitFor(t, 60*time.Second, "a route to the imported topic", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		r, err := route(ctx, ns, upgradeTopic)
		return err == nil && masterOf(r, "broker-a") != ""
	})

	check := func(m *primitive.MessageExt) {
		t.Helper()
		w, ok := want[m.MsgId]
		if !ok {
			t.Fatalf("consumed a message that was not imported: %s %q", m.MsgId, m.Body)
		}
		tags, _ := commitlog.Lookup(w.Properties, "TAGS")
		if string(m.Body) != string(w.Body) || m.Topic != upgradeTopic || m.Queue.QueueId != int(w.QueueID) || m.QueueOffset != w.QueueOffset ||
			m.GetTags() != string(tags) || m.GetProperty("origin") != "classic" ||
			m.BornTimestamp != w.BornTimestamp || m.StoreTimestamp != w.StoreTimestamp || m.BornHost != "10.0.0.7:50000" {
			t.Fatalf("imported message %s: got queue %d offset %d tags %q born %d stored %d host %s body %.30q; stored queue %d offset %d born %d stored %d",
				m.MsgId, m.Queue.QueueId, m.QueueOffset, m.GetTags(), m.BornTimestamp, m.StoreTimestamp, m.BornHost, m.Body,
				w.QueueID, w.QueueOffset, w.BornTimestamp, w.StoreTimestamp)
		}
	}
	all := consumeTopic(t, resolver, upgradeTopic, "fresh_group", "fresh", 200)
	for _, m := range all {
		check(m)
	}
	resumed := consumeTopic(t, resolver, upgradeTopic, "resume_group", "resume", 80)
	for _, m := range resumed {
		check(m)
		if first := map[int]int64{0: 1030}[m.Queue.QueueId]; m.QueueOffset < max(first, 30) {
			t.Fatalf("resume_group got queue %d offset %d, below its imported offset", m.Queue.QueueId, m.QueueOffset)
		}
	}

	p, err := producer.NewDefaultProducer(producer.WithNsResolver(resolver), producer.WithGroupName("upgrade_producer"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 8 {
		r, err := p.SendSync(ctx, primitive.NewMessage(upgradeTopic, fmt.Appendf(nil, "new %d", i)))
		if err != nil || r.Status != primitive.SendOK {
			t.Fatalf("SendSync %d: %v %v", i, r, err)
		}
		if first := map[int]int64{0: 1050}[r.MessageQueue.QueueId]; r.QueueOffset < max(first, 50) {
			t.Fatalf("new message %d: queue %d offset %d, want after the imported ones", i, r.MessageQueue.QueueId, r.QueueOffset)
		}
	}
	more := consumeTopic(t, resolver, upgradeTopic, "resume_group", "resume", 8)
	for _, m := range more {
		if !strings.HasPrefix(string(m.Body), "new ") {
			t.Fatalf("resume_group, after the new sends: %q", m.Body)
		}
	}
}
