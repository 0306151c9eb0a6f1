package natsgroup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rmqlog/rmqlog/internal/load"
)

// TestVersionPinned: Version is what go.mod requires.
func TestVersionPinned(t *testing.T) {
	dir, err := moduleDir()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	want := serverPackage + " " + Version
	if !strings.Contains(string(b), want) {
		t.Errorf("go.mod does not require %q", want)
	}
	if !strings.Contains(string(b), "tool "+serverPackage) {
		t.Errorf("go.mod has no tool directive for %s", serverPackage)
	}
}

func TestSyncAlways(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		want    bool
		wantErr bool
	}{
		{SyncFlush, true, false},
		{AsyncFlush, false, false},
		{"sync_flush", false, true},
		{"", false, true},
	} {
		got, err := syncAlways(tc.mode)
		if got != tc.want || (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrMode)) {
			t.Errorf("syncAlways(%q) = %v, %v; want %v, error %v", tc.mode, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestGroupConfigs(t *testing.T) {
	ports := []int{1, 2, 3, 11, 12, 13, 21, 22, 23}
	for _, sync := range []bool{true, false} {
		cfgs := groupConfigs("/d", ports, sync)
		if len(cfgs) != 3 {
			t.Fatalf("%d configs, want 3", len(cfgs))
		}
		c := cfgs[1]
		if c.Name != "n1" || c.ClientPort != 11 || c.RoutePort != 12 || c.HTTPPort != 13 || c.StoreDir != "/d/n1" {
			t.Errorf("node 1: %+v", c)
		}
		if !slices.Equal(c.Routes, []int{2, 22}) {
			t.Errorf("node 1 routes %v, want [2 22]", c.Routes)
		}
		text := c.render()
		for _, want := range []string{
			"server_name: n1\n", "port: 11\n", `http: "127.0.0.1:13"`, `store_dir: "/d/n1"`,
			`listen: "127.0.0.1:12"`, `"nats-route://127.0.0.1:2"`, `"nats-route://127.0.0.1:22"`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("config lacks %q:\n%s", want, text)
			}
		}
		if got := strings.Contains(text, "sync_interval: always"); got != sync {
			t.Errorf("sync %v: config has sync_interval: always = %v:\n%s", sync, got, text)
		}
	}
}

// The load's connection dials the stream leader's server first; the admin
// connection keeps the nodes' order.
func TestURLsFrom(t *testing.T) {
	g := &Group{}
	for _, c := range groupConfigs("/d", []int{1, 2, 3, 11, 12, 13, 21, 22, 23}, true) {
		g.nodes = append(g.nodes, &node{cfg: c})
	}
	for _, tc := range []struct {
		first string
		want  []int
	}{
		{"n0", []int{1, 11, 21}},
		{"n1", []int{11, 1, 21}},
		{"n2", []int{21, 1, 11}},
		{"", []int{1, 11, 21}},
		{"n9", []int{1, 11, 21}},
	} {
		var want []string
		for _, p := range tc.want {
			want = append(want, fmt.Sprintf("nats://127.0.0.1:%d", p))
		}
		if got := g.urlsFrom(tc.first); !slices.Equal(got, want) {
			t.Errorf("urlsFrom(%q) = %v, want %v", tc.first, got, want)
		}
	}
}

// /jsz says whether JetStream runs, and with which sync setting.
func TestJszSyncAlways(t *testing.T) {
	for _, tc := range []struct {
		doc           string
		always, known bool
	}{
		{`{"disabled":true,"config":{"max_memory":0}}`, false, false},
		{`{"config":{"max_memory":1,"sync_always":true}}`, true, true},
		{`{"config":{"max_memory":1}}`, false, true},
	} {
		var j jsz
		if err := json.Unmarshal([]byte(tc.doc), &j); err != nil {
			t.Fatal(err)
		}
		if always, known := j.syncAlways(); always != tc.always || known != tc.known {
			t.Errorf("%s: syncAlways() = %v, %v; want %v, %v", tc.doc, always, known, tc.always, tc.known)
		}
	}
}

func TestKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout"},
		{jetstream.ErrAsyncPublishTimeout, "timeout"},
		{context.Canceled, "canceled"},
		{nats.ErrNoResponders, "no responders"},
		{jetstream.ErrNoStreamResponse, "no responders"},
		{nats.ErrDisconnected, "disconnected"},
		{nats.ErrConnectionClosed, "disconnected"},
		{jetstream.ErrTooManyStalledMsgs, "busy"},
		{&jetstream.APIError{Code: 500, ErrorCode: errCodeClusterNotLeader}, "not leader"},
		{&jetstream.APIError{Code: 503, ErrorCode: errCodeClusterNotAvail}, "not leader"},
		{&jetstream.APIError{Code: 503, ErrorCode: 10077}, "other"},
		{errInvalidAck, "other"},
	} {
		if got := Kind(tc.err); got != tc.want {
			t.Errorf("Kind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		err   error
		retry bool
	}{
		{context.DeadlineExceeded, true},
		{context.Canceled, true},
		{nats.ErrNoResponders, true},
		{nats.ErrDisconnected, true},
		{&jetstream.APIError{ErrorCode: errCodeClusterNotLeader}, true},
		{nats.ErrConnectionClosed, false},
		{errInvalidAck, false},
		{&jetstream.APIError{ErrorCode: 10077}, false},
	} {
		if _, got := retryAfter(tc.err); got != tc.retry {
			t.Errorf("retryAfter(%v) retries = %v, want %v", tc.err, got, tc.retry)
		}
	}
}

func TestParseAck(t *testing.T) {
	for _, tc := range []struct {
		data string
		seq  uint64
		kind string // of the error, "" for none
	}{
		{`{"stream":"BENCH","seq":42}`, 42, ""},
		{`{"error":{"code":500,"err_code":10009,"description":"JetStream cluster can not handle request"}}`, 0, "not leader"},
		{`{"seq":1}`, 0, "other"},
		{`not json`, 0, "other"},
	} {
		seq, err := parseAck([]byte(tc.data))
		if seq != tc.seq || Kind(err) != tc.kind {
			t.Errorf("parseAck(%s) = %d, %v (%s); want %d, %q", tc.data, seq, err, Kind(err), tc.seq, tc.kind)
		}
	}
}

// stored is one message a verifier reads.
type stored struct {
	seq uint64
	id  uint64
	bad bool // bytes other than FillPayload's
}

func TestVerifier(t *testing.T) {
	const size = 16
	ack := func(seq, id uint64) load.Ack { return load.Ack{Seq: seq, ID: id} }
	for _, tc := range []struct {
		name     string
		acks     []load.Ack
		stream   []stored
		lost     []uint64
		dups     int64
		shortMsg bool
	}{
		{"all there", []load.Ack{ack(2, 20), ack(1, 10), ack(3, 30)},
			[]stored{{1, 10, false}, {2, 20, false}, {3, 30, false}}, nil, 0, false},
		{"unacknowledged extra", []load.Ack{ack(1, 10)},
			[]stored{{1, 10, false}, {2, 99, false}}, nil, 0, false},
		{"gap", []load.Ack{ack(1, 10), ack(2, 20), ack(3, 30)},
			[]stored{{1, 10, false}, {3, 30, false}}, []uint64{2}, 0, false},
		{"tail missing", []load.Ack{ack(1, 10), ack(2, 20), ack(5, 50)},
			[]stored{{1, 10, false}}, []uint64{2, 5}, 0, false},
		{"other id", []load.Ack{ack(1, 10)},
			[]stored{{1, 11, false}}, []uint64{1}, 0, false},
		{"other bytes", []load.Ack{ack(1, 10)},
			[]stored{{1, 10, true}}, []uint64{1}, 0, false},
		{"retried append stored twice", []load.Ack{ack(1, 10), ack(3, 20)},
			[]stored{{1, 10, false}, {2, 20, false}, {3, 20, false}, {4, 10, false}}, nil, 2, false},
		{"two acks at one sequence", []load.Ack{ack(1, 10), ack(1, 11)},
			[]stored{{1, 10, false}}, []uint64{1}, 0, false},
		{"short message", nil, []stored{{1, 0, false}}, nil, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(tc.acks, size)
			for _, m := range tc.stream {
				data := make([]byte, size)
				load.FillPayload(data, m.id)
				if m.bad {
					data[size-1]++
				}
				if tc.shortMsg {
					data = data[:load.IDBytes-1]
				}
				v.add(m.seq, data)
			}
			lost, dups := v.finish()
			if !slices.Equal(lost, tc.lost) || dups != tc.dups {
				t.Errorf("lost %v, duplicates %d; want %v, %d", lost, dups, tc.lost, tc.dups)
			}
			if tc.shortMsg && v.short != 1 {
				t.Errorf("short = %d, want 1", v.short)
			}
		})
	}
}

func TestVerifierPanicsOnDisorder(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a sequence read twice")
		}
	}()
	v := newVerifier(nil, 8)
	v.add(2, make([]byte, 8))
	v.add(2, make([]byte, 8))
}

func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("a\nb\nc\nd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n    int
		want string
	}{{2, "c\nd"}, {4, "a\nb\nc\nd"}, {9, "a\nb\nc\nd"}} {
		if got := logTail(path, tc.n); got != tc.want {
			t.Errorf("logTail(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestIsDownloadFailure(t *testing.T) {
	offline := `go: github.com/nats-io/nats-server/v2@v2.15.3: Get "https://proxy.golang.org/...": dial tcp: lookup proxy.golang.org: no such host`
	if !isDownloadFailure(offline) {
		t.Errorf("not a download failure: %s", offline)
	}
	compile := "server/x.go:1:1: syntax error"
	if isDownloadFailure(compile) {
		t.Errorf("a download failure: %s", compile)
	}
}
