// Command classicgen writes a classic RocketMQ broker's store directory
// (storePathRootDir: commitlog/ and config/ with topics.json,
// consumerOffset.json and delayOffset.json) with generated messages, for
// measuring and trying the upgrade path (docs/upgrade.md) where no Java
// broker runs:
//
//	go run ./internal/classicgen --root /tmp/classic --bytes 1073741824
//
// Messages go round robin over --topics topics of --queues queues, with
// tags, keys and a UNIQ_KEY; group "upgrade_group" has committed, for
// every queue, half of what the queue holds.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/commitlog"
	"github.com/rmqlog/rmqlog/commitlog/classic"
)

func main() {
	root := flag.String("root", "", "the classic storePathRootDir to create (must not exist or be empty)")
	total := flag.Int64("bytes", 1<<30, "stored bytes to write (messages, with their headers)")
	fileSize := flag.Int64("file-size", 1<<30, "mappedFileSizeCommitLog")
	body := flag.Int("body", 1024, "body bytes per message")
	topics := flag.Int("topics", 4, "topics (UpgradeTopic0, 1, ...)")
	queues := flag.Int("queues", 4, "queues per topic")
	flag.Parse()
	if *root == "" {
		fmt.Fprintln(os.Stderr, "classicgen: --root is required")
		os.Exit(2)
	}
	if err := generate(*root, *total, *fileSize, *body, *topics, *queues); err != nil {
		fmt.Fprintln(os.Stderr, "classicgen:", err)
		os.Exit(1)
	}
}

func generate(root string, total, fileSize int64, bodySize, topics, queues int) error {
	start := time.Now()
	w, err := classic.NewWriter(filepath.Join(root, "commitlog"), fileSize)
	if err != nil {
		return err
	}
	count := map[string][]int64{} // topic -> messages per queue
	body := []byte(strings.Repeat("x", bodySize))
	var n, written int64
	born := time.Now().Add(-time.Hour).UnixMilli()
	for written < total {
		topic := fmt.Sprintf("UpgradeTopic%d", n%int64(topics))
		q := int32(n / int64(topics) % int64(queues))
		ps, err := commitlog.AppendProperties(nil,
			commitlog.Property{Name: "TAGS", Value: fmt.Sprintf("tag%d", n%3)},
			commitlog.Property{Name: "KEYS", Value: fmt.Sprintf("key%d", n)},
			commitlog.Property{Name: "UNIQ_KEY", Value: fmt.Sprintf("7F0000010001%020X", n)})
		if err != nil {
			return err
		}
		copy(body, fmt.Sprintf("message %d ", n))
		m := commitlog.Message{Topic: []byte(topic), QueueID: q, Body: body, Properties: ps,
			BornTimestamp: born + n/1000, BornHost: netip.MustParseAddrPort("10.0.0.7:50000"),
			StoreTimestamp: born + n/1000 + 1, StoreHost: netip.MustParseAddrPort("10.0.0.1:10911")}
		before := w.End()
		phys, err := w.Append(&m)
		if err != nil {
			return err
		}
		written += w.End() - max(before, phys)
		if count[topic] == nil {
			count[topic] = make([]int64, queues)
		}
		count[topic][q]++
		n++
	}
	if err := w.Close(); err != nil {
		return err
	}
	cfgDir := filepath.Join(root, "config")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return err
	}
	type topicConfig struct {
		TopicName      string `json:"topicName"`
		ReadQueueNums  int    `json:"readQueueNums"`
		WriteQueueNums int    `json:"writeQueueNums"`
		Perm           int    `json:"perm"`
	}
	tt := map[string]topicConfig{}
	var offsets []string
	for topic, qs := range count {
		tt[topic] = topicConfig{topic, queues, queues, 6}
		var parts []string
		for q, c := range qs {
			parts = append(parts, fmt.Sprintf("%d:%d", q, c/2)) // fastjson's unquoted keys
		}
		offsets = append(offsets, fmt.Sprintf("%q:{%s}", topic+"@upgrade_group", strings.Join(parts, ",")))
	}
	tj, err := json.Marshal(map[string]any{"topicConfigTable": tt})
	if err != nil {
		return err
	}
	files := map[string]string{
		"topics.json":         string(tj),
		"consumerOffset.json": `{"offsetTable":{` + strings.Join(offsets, ",") + `}}`,
		"delayOffset.json":    `{"offsetTable":{}}`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(cfgDir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d messages, %d bytes of messages, in %s (commitlog/ and config/), took %v\n",
		n, written, root, time.Since(start).Round(time.Millisecond))
	return nil
}
