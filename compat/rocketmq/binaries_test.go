package rocketmq

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/rmqlog/rmqlog/internal/testlog"
)

// buildRmqlog builds the rmqlog command of this tree into a temporary
// directory, or skips the test saying why. It builds in the main module
// (../..), with its own go.mod and go.sum: this module's go.sum has no
// entries for the command's dependencies (prometheus, properties).
func buildRmqlog(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rmqlog")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/rmqlog")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("SKIPPED: cannot build the rmqlog binary with `go build` (%v), so the real-binary test does not run:\n%s", err, out)
	}
	return bin
}

// freePorts returns n ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// run starts bin with args and returns it; the process is stopped with
// SIGTERM at the end of the test (SIGKILL after 20 s), and its output shown
// if the test failed. A test may kill it earlier (cmd.Process.Kill) but
// must not Wait for it: the cleanup does.
func run(t *testing.T, name, bin string, args ...string) *exec.Cmd {
	t.Helper()
	out := &testlog.Buffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return cmd
}

// writeConfs writes the properties files of one broker group of three
// members shaped like conf/broker-n*.conf and returns their paths: files
// prefix-n0.conf... and data directories prefix-n0... in dir; ports are
// the three listenPorts, then the three peer ports, then the three
// rmqlogClientPorts; 8 MiB segments, so that a member starts fast.
func writeConfs(t *testing.T, dir, prefix, cluster, name, ns string, ports []int) []string {
	t.Helper()
	var peers, confs []string
	for i := range 3 {
		peers = append(peers, fmt.Sprintf("n%d-127.0.0.1:%d", i, ports[3+i]))
	}
	for i := range 3 {
		conf := filepath.Join(dir, fmt.Sprintf("%s-n%d.conf", prefix, i))
		root := filepath.Join(dir, fmt.Sprintf("%s-n%d", prefix, i))
		text := strings.Join([]string{
			"brokerClusterName=" + cluster, "brokerName=" + name,
			fmt.Sprintf("listenPort=%d", ports[i]), "namesrvAddr=" + ns, fmt.Sprintf("rmqlogClientPort=%d", ports[6+i]),
			"storePathRootDir=" + root, "storePathCommitLog=" + filepath.Join(root, "commitlog"),
			"flushDiskType=SYNC_FLUSH", "enableDLegerCommitLog=true", "dLegerGroup=" + name,
			"dLegerPeers=" + strings.Join(peers, ";"), fmt.Sprintf("dLegerSelfId=n%d", i),
			"mappedFileSizeCommitLog=8388608", "",
		}, "\n")
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		confs = append(confs, conf)
	}
	return confs
}

// TestRealBinaries: `rmqlog namesrv` and three `rmqlog serve` processes
// built from this tree, each from a file shaped like conf/broker-n*.conf
// (free ports, temporary directories); the official client creates a
// topic, produces and consumes through them: the README's quick start.
func TestRealBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	rlog.SetLogLevel("error")
	bin := buildRmqlog(t)
	dir := t.TempDir()
	ports := freePorts(t, 10)
	ns := fmt.Sprintf("127.0.0.1:%d", ports[9])
	run(t, "namesrv", bin, "namesrv", "--listen", ns)
	var brokers []string
	for i := range 3 {
		brokers = append(brokers, fmt.Sprintf("127.0.0.1:%d", ports[i]))
	}
	for i, conf := range writeConfs(t, dir, "broker", "RaftCluster", "RaftNode00", ns, ports) {
		run(t, fmt.Sprintf("n%d", i), bin, "serve", "-c", conf)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	resolver := primitive.NewPassthroughResolver([]string{ns})
	adm, err := admin.NewAdmin(admin.WithResolver(resolver))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	// Topics are created explicitly (autoCreateTopicEnable is off): every
	// member is asked, only the master takes it (the client's CreateTopic
	// does not report a refusal), until the name server routes it.
	const topic = "QuickStart"
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, b := range brokers {
			adm.CreateTopic(ctx, admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(b),
				admin.WithReadQueueNums(4), admin.WithWriteQueueNums(4))
		}
		if mqs, err := adm.FetchPublishMessageQueues(ctx, topic); err == nil && len(mqs) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no route to the topic within 30 s")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The README's snippet, from here to the consumer's Shutdown.
	p, err := producer.NewDefaultProducer(producer.WithNsResolver(resolver), producer.WithGroupName("quickstart_producer"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	const n = 10
	for i := range n {
		r, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(fmt.Sprintf("hello %d", i))))
		if err != nil || r.Status != primitive.SendOK {
			t.Fatalf("SendSync %d: %v %v", i, r, err)
		}
	}
	c, err := consumer.NewPushConsumer(consumer.WithNsResolver(resolver), consumer.WithGroupName("quickstart_consumer"),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4*n)
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			got <- string(m.Body)
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	seen := map[string]bool{}
	for len(seen) < n {
		select {
		case b := <-got:
			seen[b] = true
		case <-ctx.Done():
			t.Fatalf("consumed %d of %d messages: %v", len(seen), n, seen)
		}
	}
	for i := range n {
		if !seen[fmt.Sprintf("hello %d", i)] {
			t.Fatalf("hello %d never consumed: %v", i, seen)
		}
	}
}
