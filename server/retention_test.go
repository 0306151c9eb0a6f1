package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/poll"
)

// TestRetentionLoop: with fileReservedTime elapsed, the server's retention
// loop deletes every log file but the newest, and reads below the new
// first index say what happened.
func TestRetentionLoop(t *testing.T) {
	g := startGroup(t, 1, func(c *Config) {
		c.FileReserved, c.RetentionCheck = time.Millisecond, 10*time.Millisecond
	})
	l := g.leader()
	fill(t, l, 80, 60<<10) // 4.8 MiB: several 1 MiB files
	poll.Eventually(t, 10*time.Second, "retention deleting a file", func() bool { return l.Node().Status().First > 1 })
	first := l.Node().Status().First
	c := dialRaw(t, l)
	code, b := c.call(proto.TypeGet, proto.GetRequest(nil, 1))
	if e := errMsg(t, b); code != proto.CodeNotFound || !strings.Contains(e.Message, fmt.Sprintf("first index %d", first)) {
		t.Fatalf("get of a deleted entry: %v %q", code, e.Message)
	}
	if code, _ := c.call(proto.TypeGet, proto.GetRequest(nil, first)); code != proto.CodeOK {
		t.Fatalf("get of the first kept entry: %v", code)
	}
}
