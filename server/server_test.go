package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/internal/testgroup"
)

func testLogger() *slog.Logger {
	if os.Getenv("RMQLOG_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// group is n in-process servers over real TCP on 127.0.0.1. (Not a
// testgroup.Group: its members are Servers, each with a client port, and
// tests shut them down and close them as Servers; their nodes start from
// testgroup.Defaults.)
type group struct {
	t       testing.TB
	servers map[string]*Server
}

func startGroup(t testing.TB, n int, tweak func(*Config)) *group {
	t.Helper()
	peerLns, peers := map[string]net.Listener{}, map[string]string{}
	for i := range n {
		id := fmt.Sprintf("n%d", i)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		peerLns[id], peers[id] = ln, ln.Addr().String()
	}
	g := &group{t: t, servers: map[string]*Server{}}
	for id, pl := range peerLns {
		cl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ecfg := testgroup.Defaults() // the server replaces its Logger with Config.Logger
		ecfg.ID, ecfg.Peers, ecfg.Listener, ecfg.Dir = id, peers, pl, t.TempDir()
		cfg := Config{ClientListener: cl, Logger: testLogger().With("node", id), Engine: ecfg}
		if tweak != nil {
			tweak(&cfg)
		}
		s, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		g.servers[id] = s
	}
	t.Cleanup(func() {
		for _, s := range g.servers {
			s.Close()
		}
	})
	return g
}

// leader waits for a writable leader.
func (g *group) leader() *Server {
	g.t.Helper()
	var l *Server
	poll.Eventually(g.t, 10*time.Second, "a writable leader", func() bool {
		for _, s := range g.servers {
			if s.Node().Status().Writable {
				l = s
				return true
			}
		}
		return false
	})
	return l
}

func (g *group) follower(l *Server) *Server {
	for _, s := range g.servers {
		if s != l {
			return s
		}
	}
	return nil
}

// rawConn speaks client/proto by hand.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
	id uint64
}

func dialRaw(t *testing.T, s *Server) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *rawConn) send(typ proto.Type, body []byte) uint64 {
	c.t.Helper()
	c.id++
	if _, err := c.nc.Write(proto.Frame(nil, typ, 0, c.id, body)); err != nil {
		c.t.Fatal(err)
	}
	return c.id
}

func (c *rawConn) recv() (proto.Header, []byte, error) {
	return proto.ReadFrame(c.br, make([]byte, proto.HeaderSize), 64<<20)
}

// call sends one request and returns its answer.
func (c *rawConn) call(typ proto.Type, body []byte) (proto.Code, []byte) {
	c.t.Helper()
	id := c.send(typ, body)
	h, b, err := c.recv()
	if err != nil {
		c.t.Fatalf("%v request %d: %v", typ, id, err)
	}
	if h.ID != id || h.Type != typ {
		c.t.Fatalf("answer %+v to %v request %d", h, typ, id)
	}
	return h.Code, b
}

func errMsg(t *testing.T, b []byte) proto.ErrorBody {
	t.Helper()
	e, err := proto.ParseError(b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// fill appends n entries of size bytes through a raw connection.
func fill(t *testing.T, s *Server, n, size int) {
	t.Helper()
	c := dialRaw(t, s)
	for range n {
		if code, b := c.call(proto.TypeAppend, proto.AppendRequest(nil, [][]byte{make([]byte, size)})); code != proto.CodeOK {
			t.Fatalf("append: %v %+v", code, errMsg(t, b))
		}
	}
}

func TestAppendGetRangeMeta(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	c := dialRaw(t, l)
	code, b := c.call(proto.TypeAppend, proto.AppendRequest(nil, [][]byte{[]byte("a"), {}, []byte("ccc")}))
	first, n, err := proto.ParseAppendResult(b)
	if code != proto.CodeOK || err != nil || n != 3 {
		t.Fatalf("append: %v %v %d %v", code, errMsg(t, b), n, err)
	}
	for i, want := range []string{"a", "", "ccc"} {
		code, b := c.call(proto.TypeGet, proto.GetRequest(nil, first+uint64(i)))
		e, err := proto.ParseEntry(b)
		if code != proto.CodeOK || err != nil || string(e.Payload) != want || e.Type != proto.EntryMessage {
			t.Fatalf("get %d: %v %+v %v", first+uint64(i), code, e, err)
		}
	}
	code, b = c.call(proto.TypeRange, proto.RangeRequest(nil, 1, 0, 0))
	es, err := proto.ParseRange(b)
	if code != proto.CodeOK || err != nil || len(es) != int(first)+2 || es[0].Type != proto.EntryNoop {
		t.Fatalf("range from 1: %v %d entries %v; want the no-op and 3 messages", code, len(es), err)
	}
	if code, b = c.call(proto.TypeGet, proto.GetRequest(nil, 1000)); code != proto.CodeNotFound {
		t.Fatalf("get beyond the commit index: %v %+v", code, errMsg(t, b))
	}
	code, b = c.call(proto.TypeMeta, nil)
	m, err := proto.ParseMeta(b)
	if code != proto.CodeOK || err != nil || !m.Writable || m.Role != "leader" || m.LeaderAddr != l.Addr().String() || m.MaxMessageSize != 64<<10 {
		t.Fatalf("meta: %v %+v %v", code, m, err)
	}
	code, b = c.call(proto.TypeStatus, nil)
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); code != proto.CodeOK || err != nil {
		t.Fatalf("status: %v %s %v", code, b, err)
	}
	for _, k := range []string{"self", "role", "term", "leader", "commitIndex", "lastIndex"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("status JSON lacks %q: %s", k, b)
		}
	}
}

func TestFollowerRedirects(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	f := g.follower(l)
	c := dialRaw(t, f)
	poll.EventuallyNil(t, 5*time.Second, fmt.Sprintf("the follower naming leader %s at %s", l.Node().ID(), l.Addr()), func() error {
		code, b := c.call(proto.TypeAppend, proto.AppendRequest(nil, [][]byte{[]byte("x")}))
		e := errMsg(t, b)
		if code != proto.CodeNotLeader {
			t.Fatalf("append on a follower: %v %+v", code, e)
		}
		if e.LeaderAddr != l.Addr().String() || e.Leader != l.Node().ID() {
			return fmt.Errorf("it names leader %q at %q", e.Leader, e.LeaderAddr)
		}
		return nil
	})
}

// TestBadInput: oversized payloads and frames are refused with the limit
// named and the connection survives; a malformed frame closes only its
// own connection.
func TestBadInput(t *testing.T) {
	g := startGroup(t, 1, nil)
	l := g.leader()
	c := dialRaw(t, l)
	code, b := c.call(proto.TypeAppend, proto.AppendRequest(nil, [][]byte{make([]byte, 64<<10+1)}))
	if e := errMsg(t, b); code != proto.CodeTooLarge || !strings.Contains(e.Message, "the limit (maxMessageSize) is 65536") {
		t.Fatalf("oversized payload: %v %q", code, e.Message)
	}
	code, b = c.call(proto.TypeAppend, proto.AppendRequest(nil, [][]byte{make([]byte, 2<<20)}))
	if e := errMsg(t, b); code != proto.CodeTooLarge || !strings.Contains(e.Message, "frame limit") {
		t.Fatalf("oversized frame: %v %q", code, e.Message)
	}
	if code, b = c.call(proto.TypeAppend, proto.AppendRequest(nil, [][]byte{{}})); code != proto.CodeOK {
		t.Fatalf("empty payload after the refusals: %v %+v", code, errMsg(t, b))
	}
	if code, b = c.call(proto.TypeAppend, []byte{0, 0, 0, 0}); code != proto.CodeBadRequest {
		t.Fatalf("append of no payloads: %v %+v", code, errMsg(t, b))
	}
	other := dialRaw(t, l)
	bad := proto.Frame(nil, proto.TypeMeta, 0, 1, nil)
	bad[len(bad)-1] ^= 0xff // breaks the CRC
	c.nc.Write(bad)
	if _, _, err := c.recv(); err == nil {
		t.Fatal("a corrupted frame was answered")
	}
	if code, _ := other.call(proto.TypeMeta, nil); code != proto.CodeOK {
		t.Fatalf("another connection after a malformed frame: %v", code)
	}
}

func TestMaxConnections(t *testing.T) {
	g := startGroup(t, 1, func(c *Config) { c.MaxConnections = 1 })
	l := g.leader()
	first := dialRaw(t, l)
	if code, _ := first.call(proto.TypeMeta, nil); code != proto.CodeOK {
		t.Fatal(code)
	}
	second := dialRaw(t, l)
	h, b, err := second.recv()
	if err != nil || h.Code != proto.CodeOverload || !strings.Contains(errMsg(t, b).Message, "clientMaxConnections") {
		t.Fatalf("second connection: %+v %v", h, err)
	}
}

// TestShutdownAnswersInFlight: appends read before Shutdown are answered
// with their commit, and leadership moves to another member.
func TestShutdownAnswersInFlight(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	c := dialRaw(t, l)
	const n = 200
	base := l.Node().Status().Last // the no-op(s) of the leader's term(s)
	for i := range n {
		c.send(proto.TypeAppend, proto.AppendRequest(nil, [][]byte{fmt.Appendf(nil, "m%d", i)}))
	}
	// Shut down once the leader has read (and so appended) them all. (It
	// waited for Last >= n, which the no-op made true one append early: the
	// last request was then never read and the close reset the connection.)
	poll.Eventually(t, 10*time.Second, fmt.Sprintf("the leader reading the %d appends", n), func() bool {
		return l.Node().Status().Last >= base+n
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		h, b, err := c.recv()
		if err != nil || h.Code != proto.CodeOK {
			t.Fatalf("answer %d after Shutdown: %+v %v %+v", i, h, err, b)
		}
	}
	delete(g.servers, l.Node().ID())
	if next := g.leader(); next == l {
		t.Fatal("the stopped server still leads")
	}
}

func TestMetricsEndpoint(t *testing.T) {
	g := startGroup(t, 1, func(c *Config) { c.MetricsAddr = "127.0.0.1:0" })
	l := g.leader()
	c := dialRaw(t, l)
	c.call(proto.TypeAppend, proto.AppendRequest(nil, [][]byte{[]byte("m")}))
	resp, err := http.Get("http://" + l.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, name := range []string{"rmqlog_append_latency_seconds_bucket", "rmqlog_commit_latency_seconds_count 1",
		`rmqlog_index{kind="commit"}`, `rmqlog_role{role="leader"} 1`, "rmqlog_sync_entries_bucket",
		"rmqlog_sync_duration_seconds_count", "rmqlog_elections_total 1", `rmqlog_client_requests_total{code="ok",type="append"} 1`} {
		if !strings.Contains(string(body), name) {
			t.Errorf("metrics lack %q", name)
		}
	}
}

// TestMetricsPprof: the profiler is on the metrics endpoint only when
// Pprof is set (metricsPprof); /metrics is served either way.
func TestMetricsPprof(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("pprof=%v", on), func(t *testing.T) {
			g := startGroup(t, 1, func(c *Config) { c.MetricsAddr, c.Pprof = "127.0.0.1:0", on })
			base := "http://" + g.leader().MetricsAddr().String()
			want := map[string]int{"/metrics": http.StatusOK, "/debug/pprof/": http.StatusNotFound,
				"/debug/pprof/goroutine?debug=1": http.StatusNotFound}
			if on {
				want["/debug/pprof/"], want["/debug/pprof/goroutine?debug=1"] = http.StatusOK, http.StatusOK
			}
			for path, code := range want {
				resp, err := http.Get(base + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != code {
					t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, code)
				}
				if on && strings.HasPrefix(path, "/debug/pprof/goroutine") && !strings.Contains(string(body), "goroutine profile") {
					t.Errorf("GET %s: not a goroutine profile: %.80q", path, body)
				}
			}
		})
	}
}

func TestConcurrentConnections(t *testing.T) {
	g := startGroup(t, 3, nil)
	l := g.leader()
	var wg sync.WaitGroup
	seen := sync.Map{}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRaw(t, l)
			for i := range 100 {
				c.send(proto.TypeAppend, proto.AppendRequest(nil, [][]byte{fmt.Appendf(nil, "w%d-%d", w, i)}))
			}
			for range 100 {
				h, b, err := c.recv()
				first, _, perr := proto.ParseAppendResult(b)
				if err != nil || h.Code != proto.CodeOK || perr != nil {
					t.Errorf("answer: %+v %v %v", h, err, perr)
					return
				}
				if _, dup := seen.LoadOrStore(first, true); dup {
					t.Errorf("index %d acknowledged twice", first)
				}
			}
		}()
	}
	wg.Wait()
}
