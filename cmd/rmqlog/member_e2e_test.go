package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/admin"
	"github.com/rmqlog/rmqlog/internal/poll"
)

// join writes the properties file of a new node id that joins c's group
// (rmqlogJoin=true; its dLegerPeers names the members and itself) from
// n0's, starts it and returns its peer address.
func (c *cluster) join(id string) string {
	c.t.Helper()
	text, err := os.ReadFile(c.confs["n0"])
	if err != nil {
		c.t.Fatal(err)
	}
	peers := regexp.MustCompile(`(?m)^dLegerPeers=(.*)$`).FindStringSubmatch(string(text))[1]
	ports := freePorts(c.t, 3)
	peer := fmt.Sprintf("127.0.0.1:%d", ports[2])
	c.clients[id] = fmt.Sprintf("127.0.0.1:%d", ports[0])
	c.dirs[id] = filepath.Join(filepath.Dir(c.dirs["n0"]), id)
	c.confs[id] = filepath.Join(filepath.Dir(c.confs["n0"]), id+".conf")
	out := rewrite(string(text), map[string]string{
		"dLegerSelfId":       id,
		"dLegerPeers":        peers + ";" + id + "-" + peer,
		"rmqlogJoin":         "true",
		"rmqlogClientPort":   fmt.Sprint(ports[0]),
		"listenPort":         fmt.Sprint(ports[1]),
		"storePathRootDir":   c.dirs[id],
		"storePathCommitLog": filepath.Join(c.dirs[id], "commitlog"),
	})
	if err := os.WriteFile(c.confs[id], []byte(out), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.ids = append(c.ids, id)
	c.start(id)
	return peer
}

// appendOK appends one message through rmqlog append.
func appendOK(t *testing.T, addrs, after string) {
	t.Helper()
	if out, code := runCmd(t, "append", "--addr", addrs, "after "+after); code != 0 {
		t.Fatalf("rmqlog append after %s: exit %d\n%s", after, code, out)
	}
}

// TestMemberCommands: three nodes from properties files and a fourth
// started with rmqlogJoin=true; `rmqlog member add` makes it a learner
// (and prints the dLegerPeers line for every member), `member promote`
// a voter once it has caught up, `member remove` takes an original member
// out, and `member list --json` shows the configuration; an append
// commits after each change. Refusals exit 1 with the reason and what to
// do, usage errors 2.
func TestMemberCommands(t *testing.T) {
	c := newCluster(t, map[string]string{"rmqlogBrokerEnable": "false"})
	for _, id := range c.ids {
		c.start(id)
	}
	lead := c.leader()
	old := strings.Join(c.addrs(), ",")
	n3peer := c.join("n3")
	if out, code := runCmd(t, "member", "list", "--addr", c.clients["n3"]); code != 0 || !strings.Contains(out, "no members: n3 joins a group") {
		t.Fatalf("member list on the joining node: exit %d\n%s", code, out)
	}

	out, code := runCmd(t, "member", "add", "--addr", old, "--id", "n3", "--peer", n3peer, "--client", c.clients["n3"])
	t.Logf("rmqlog member add:\n%s", out)
	peersLine := regexp.MustCompile(`(?m)^  dLegerPeers=(.*)$`).FindStringSubmatch(out)
	if code != 0 || peersLine == nil || !strings.HasSuffix(peersLine[1], ";n3-"+n3peer) || !strings.Contains(out, "rmqlogJoin=true") ||
		!regexp.MustCompile(`(?m)^n3 +learner +`+regexp.QuoteMeta(n3peer+" ")+` +`+regexp.QuoteMeta(c.clients["n3"])+` +\d+ +\d+$`).MatchString(out) {
		t.Fatalf("member add: exit %d\n%s", code, out)
	}
	appendOK(t, old, "add")

	poll.EventuallyNil(t, 15*time.Second, "member promote of the caught-up learner", func() error {
		out, code := runCmd(t, "member", "promote", "--addr", old, "--id", "n3")
		if code != 0 {
			if !strings.Contains(out, "not caught up") && !strings.Contains(out, "pending") {
				t.Fatalf("member promote: exit %d\n%s", code, out)
			}
			return fmt.Errorf("exit %d: %s", code, out)
		}
		if !strings.Contains(out, "n3 is a voter") {
			t.Fatalf("member promote:\n%s", out)
		}
		return nil
	})
	appendOK(t, old, "promote")

	gone := "n0"
	if lead == gone {
		gone = "n1"
	}
	out, code = runCmd(t, "member", "remove", "--addr", old, "--id", gone)
	if code != 0 || !strings.Contains(out, gone+" removed") || strings.Contains(out, gone+"-127") {
		t.Fatalf("member remove %s: exit %d\n%s", gone, code, out)
	}
	c.procs[gone].cmd.Process.Signal(syscall.SIGTERM)
	c.procs[gone].wait(t, 20*time.Second)
	rest := slices.DeleteFunc(slices.Clone(c.ids), func(id string) bool { return id == gone })
	var restAddrs []string
	for _, id := range rest {
		restAddrs = append(restAddrs, c.clients[id])
	}
	all := strings.Join(restAddrs, ",")
	appendOK(t, all, "remove")

	out, code = runCmd(t, "member", "list", "--addr", all, "--json")
	var doc admin.MembersDoc
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil {
		t.Fatalf("member list --json: exit %d %v\n%s", code, err, out)
	}
	var got []string
	for _, m := range doc.Members {
		got = append(got, m.ID+":"+m.Role)
		if m.Match == nil || m.Lag == nil {
			t.Errorf("member %s has no progress in the leader's answer", m.ID)
		}
	}
	want := []string{rest[0] + ":voter", rest[1] + ":voter", "n3:voter"}
	if !slices.Equal(got, want) || !doc.Committed || doc.ConfIndex == 0 || doc.Leader != lead || doc.Node != lead ||
		strings.Count(doc.Peers, ";") != 2 || strings.Contains(doc.Peers, gone+"-") {
		t.Fatalf("member list --json: %+v, want members %v led by %s\n%s", doc, want, lead, out)
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  []string
	}{
		{[]string{"member", "add", "--addr", all, "--id", "n3", "--peer", n3peer}, 1,
			[]string{"already a member", "rmqlog member list shows the configuration"}},
		{[]string{"member", "remove", "--addr", all, "--id", "n9"}, 1, []string{`"n9": not a member`}},
		{[]string{"member", "add", "--addr", all, "--id", "n-4", "--peer", "127.0.0.1:1"}, 1, []string{"dLegerPeers as id-host:port"}},
		{[]string{"member", "promote", "--addr", all}, 2, []string{"--id is required"}},
		{[]string{"member", "add", "--addr", all, "--id", "n4"}, 2, []string{"--peer is required"}},
		{[]string{"member", "rename"}, 2, []string{`unknown subcommand "rename"`}},
	} {
		out, code := runCmd(t, tc.args...)
		for _, m := range tc.msg {
			if code != tc.code || !strings.Contains(out, m) {
				t.Errorf("rmqlog %s: exit %d, want %d and %q\n%s", strings.Join(tc.args, " "), code, tc.code, m, out)
			}
		}
	}
}
