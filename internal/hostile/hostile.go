package hostile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqlog/rmqlog/client"
)

// Target names a running node and the group it belongs to.
type Target struct {
	ClientAddr string // the node's client port ("host:port")
	// PeerAddr is its peer port; "" takes it from the node's status
	// (peers[self]).
	PeerAddr string
	Pid      int    // the node's process, for /proc/<pid>/status and /proc/<pid>/fd
	LogPath  string // the file the node logs to (slog text or JSON lines)
	// GroupAddrs are the client addresses of every member: the bystander
	// dials them all.
	GroupAddrs []string
	// MaxConnections is the node's clientMaxConnections; 0 means its
	// default, 1024.
	MaxConnections int
	// RemotingAddr is the node's broker (listenPort), NamesrvAddr the
	// name server it registers with, Topic a topic of the broker with a
	// queue 0. With RemotingAddr set the bystander is a RocketMQ client
	// (send, pull, route query) instead of a client of the group, and
	// Pid and LogPath may name the name server's process (the "namesrv"
	// cases).
	RemotingAddr, NamesrvAddr, Topic string
}

// Options select the cases and their sizes.
type Options struct {
	// Long selects the long form: more connections, more random inputs,
	// slower and longer slow clients (minutes, for `make chaos`). The short
	// form takes about half a minute.
	Long bool
	// Cases selects cases by port ("client", "peer", "remoting",
	// "namesrv"), by "port/name" or by name (which may match a case of
	// each port); empty runs all of them.
	Cases []string
	// Seed seeds the random inputs (0 means 1): a run can be repeated.
	Seed uint64
	// RSSBound is how far the node's VmRSS may rise during a case above
	// its value when the case started, and twice that above the baseline
	// taken when Run started (a slow leak across cases); 0 means 64 MiB.
	RSSBound int64
	// Logf, if set, gets a line as each case starts and ends.
	Logf func(format string, args ...any)
}

// Report is what Run found: one row per case.
type Report struct {
	Target   Target
	Node     string // the node's id and role when Run started, e.g. "n1 (follower)"
	Long     bool
	Baseline int64 // VmRSS when Run started, bytes
	Anon     int64 // RssAnon when Run started: the rest of VmRSS is the mapped log files
	RSSBound int64 // the allowed rise during a case (twice it above Baseline)
	FDs      int   // open descriptors when Run started
	HWM      int64 // VmHWM when Run ended (the process's lifetime peak), bytes
	Rows     []Row
}

// Failed reports whether any case failed.
func (r Report) Failed() bool {
	for _, row := range r.Rows {
		if row.Failed() {
			return true
		}
	}
	return false
}

// Row is one case's outcome.
type Row struct {
	Case, Port string
	Conns      int    // connections the case opened
	BytesSent  int64  // bytes it wrote to the node
	Answer     string // what the node answered each connection, grouped: "too large+open ×1, close ×8"
	// Bystander is what the healthy client saw during the case;
	// BystanderOK that it kept working (no error but transient ones, and a
	// good append and read after the case started).
	Bystander                    string
	BystanderOK                  bool
	RSSBefore, RSSAfter, RSSPeak int64 // VmRSS, bytes
	// AnonBefore and AnonAfter are RssAnon, the part of VmRSS that is not
	// the mapped log files.
	AnonBefore, AnonAfter int64
	FDsBefore, FDsAfter   int
	// LogCount is how many log lines the case caused (lines naming its
	// connections, or its reason for cases whose lines cannot name them);
	// LogSample holds the first ten.
	LogCount  int
	LogSample []string
	Took      time.Duration
	// Failures says what went wrong; empty when the case passed.
	Failures []string
}

// Failed reports whether the case failed.
func (r Row) Failed() bool { return len(r.Failures) > 0 }

// Errors of Run.
var (
	// ErrExited: the node's process is gone (or a zombie); later cases
	// were not run.
	ErrExited = errors.New("hostile: the node exited")
	// ErrFailed: at least one case failed; the error names them and the
	// report says why.
	ErrFailed = errors.New("hostile: cases failed")
)

// Limits of the checks.
const (
	defaultRSSBound = 64 << 20
	// fdSlack is how many more descriptors than before a case the node may
	// hold once the case's connections are closed (the bystander and the
	// group's own links reconnect at times).
	fdSlack = 8
	// fdWait bounds the wait for the descriptors to come back (a client
	// that does not read is dropped after the node's 10 s write deadline).
	fdWait = 15 * time.Second
	// maxLinesPerConn bounds the log lines one connection may cause.
	maxLinesPerConn = 3
	// logWait bounds the wait for a case's log lines.
	logWait = 5 * time.Second
	// recoverWait bounds the wait for the bystander's first good cycle
	// after a case.
	recoverWait = 10 * time.Second
)

// Run runs the selected cases against t, one after the other, while a
// bystander client appends and reads through the whole group. It returns
// the report and, if a case failed, an error wrapping ErrFailed that
// names the failed cases; other errors (the node unreachable at the
// start, ctx ended) come with the rows run so far. When the node exits,
// the case that killed it fails and the rest are not run.
func Run(ctx context.Context, t Target, opts Options) (Report, error) {
	r, err := newRunner(ctx, t, opts)
	if err != nil {
		return Report{Target: t, Long: opts.Long}, err
	}
	defer r.close()
	var failed []string
	for _, c := range r.cases {
		if err := ctx.Err(); err != nil {
			return r.report(), err
		}
		r.logf("hostile: %s: %s ...", c.port, c.name)
		row := r.runCase(c)
		r.rep.Rows = append(r.rep.Rows, row)
		r.logf("hostile: %s: %s: %s", c.port, c.name, verdict(row))
		if row.Failed() {
			failed = append(failed, c.name)
		}
		if r.exited != nil {
			return r.report(), fmt.Errorf("%w: %s: %w", ErrFailed, strings.Join(failed, ", "), r.exited)
		}
	}
	if len(failed) > 0 {
		return r.report(), fmt.Errorf("%w: %s", ErrFailed, strings.Join(failed, ", "))
	}
	return r.report(), nil
}

func verdict(row Row) string {
	if row.Failed() {
		return "FAILED: " + strings.Join(row.Failures, "; ")
	}
	return "ok (" + row.Answer + ")"
}

// runner holds what every case shares.
type runner struct {
	ctx   context.Context
	t     Target
	opts  Options
	f     form
	cases []kase
	info  nodeInfo
	log   nodeLog
	smp   *sampler
	by    *bystander
	rep   Report
	// exited is set when the node was found gone.
	exited error
}

func newRunner(ctx context.Context, t Target, opts Options) (*runner, error) {
	if t.MaxConnections == 0 {
		t.MaxConnections = 1024
	}
	if opts.RSSBound == 0 {
		opts.RSSBound = defaultRSSBound
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	cases, err := selectCases(opts.Cases, opts.Long)
	if err != nil {
		return nil, err
	}
	r := &runner{ctx: ctx, t: t, opts: opts, f: formOf(opts.Long), cases: cases, log: nodeLog{t.LogPath}}
	if r.info, err = fetchInfo(ctx, t.ClientAddr); err != nil {
		return nil, err
	}
	if r.t.PeerAddr == "" {
		r.t.PeerAddr = r.info.Peers[r.info.Self]
	}
	if r.smp, err = startSampler(t.Pid); err != nil {
		return nil, err
	}
	if t.RemotingAddr != "" {
		r.by = startRemotingBystander(t)
	} else if r.by, err = startBystander(ctx, t.GroupAddrs); err != nil {
		r.smp.close()
		return nil, err
	}
	if err := waitFor(ctx, recoverWait, func() bool { return r.by.okSince(time.Time{}) }); err != nil {
		r.close()
		return nil, fmt.Errorf("hostile: the bystander never completed an append and read: %v", r.by.stats(0).Fatal)
	}
	base, err := r.smp.resetPeak()
	if err != nil {
		r.close()
		return nil, err
	}
	r.rep = Report{Target: r.t, Node: fmt.Sprintf("%s (%s)", r.info.Self, r.info.Role), Long: opts.Long,
		Baseline: base.RSS, Anon: base.Anon, RSSBound: opts.RSSBound, FDs: base.FDs}
	return r, nil
}

func (r *runner) close() {
	r.by.close()
	r.smp.close()
}

func (r *runner) report() Report {
	if u, err := readUsage(r.t.Pid); err == nil {
		r.rep.HWM = u.HWM
	}
	return r.rep
}

func (r *runner) logf(format string, args ...any) {
	if r.opts.Logf != nil {
		r.opts.Logf(format, args...)
	}
}

// kase is one named case of the table.
type kase struct {
	name string
	port string // "client" or "peer"
	// reason is what the node must log for every connection the case
	// marks with mustLog (nil: the node serves the case and need not log).
	reason *regexp.Regexp
	// extra is a line the case must cause that cannot name its connection
	// (the engine's refusal of a batch); nil if none.
	extra *regexp.Regexp
	run   func(e *env) error
	// longOnly: the case runs in the long form only (the short form runs
	// the same server code through another port's case).
	longOnly bool
}

// env is one case's run: its connections and what the node answered.
type env struct {
	r    *runner
	port string // the case's port
	ctx  context.Context
	rng  *rand.Rand
	row  *Row
	// logOff is where the case's part of the node's log starts.
	logOff int64

	sent atomic.Int64

	mu      sync.Mutex // guards the fields below
	probes  []*probe
	logged  []string // local addresses the node must log with the case's reason
	answers map[string]int
}

func (r *runner) runCase(c kase) Row {
	row := Row{Case: c.name, Port: c.port}
	h := fnv.New64a()
	h.Write([]byte(c.port + "/" + c.name))
	e := &env{r: r, port: c.port, ctx: r.ctx, rng: rand.New(rand.NewPCG(r.opts.Seed, h.Sum64())), row: &row, answers: map[string]int{}}
	off := r.log.size()
	e.logOff = off
	mark := r.by.mark()
	start := time.Now()
	before, err := r.smp.resetPeak()
	row.RSSBefore, row.AnonBefore, row.FDsBefore = before.RSS, before.Anon, before.FDs
	fail := func(format string, a ...any) { row.Failures = append(row.Failures, fmt.Sprintf(format, a...)) }
	if err != nil {
		r.exited = err
		fail("%v", err)
		return row
	}
	if err := c.run(e); err != nil {
		fail("%v", err)
	}
	e.closeAll()
	row.Took = time.Since(start)
	row.BytesSent = e.sent.Load()
	row.Answer = answerSummary(e.answers)
	r.checkFDs(&row, before.FDs, fail)
	r.checkBystander(&row, mark, start, fail)
	r.checkLog(e, c, off, fail)
	after, err := r.smp.sample()
	row.RSSAfter, row.RSSPeak, row.AnonAfter, row.FDsAfter = after.RSS, r.smp.peakRSS(), after.Anon, after.FDs
	if err != nil {
		r.exited = err
		fail("%v", err)
	}
	if limit := row.RSSBefore + r.rep.RSSBound; row.RSSPeak > limit {
		fail("VmRSS peaked at %s, over the bound of %s (%s at the case's start + %s)", mib(row.RSSPeak), mib(limit), mib(row.RSSBefore), mib(r.rep.RSSBound))
	}
	if limit := r.rep.Baseline + 2*r.rep.RSSBound; row.RSSPeak > limit {
		fail("VmRSS peaked at %s, over the run's bound of %s (baseline %s + 2 × %s)", mib(row.RSSPeak), mib(limit), mib(r.rep.Baseline), mib(r.rep.RSSBound))
	}
	return row
}

func (e *env) closeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.probes {
		p.close()
	}
}

func (r *runner) checkFDs(row *Row, before int, fail func(string, ...any)) {
	var now usage
	err := waitFor(r.ctx, fdWait, func() bool {
		u, err := r.smp.sample()
		now = u
		return err != nil || u.FDs <= before+fdSlack
	})
	if err != nil {
		fail("open descriptors did not come back near %d within %v: %d", before, fdWait, now.FDs)
	}
}

func (r *runner) checkBystander(row *Row, mark int, start time.Time, fail func(string, ...any)) {
	err := waitFor(r.ctx, recoverWait, func() bool { return r.by.okSince(start) })
	s := r.by.stats(mark)
	row.Bystander = fmt.Sprintf("%d ok, max %v", s.OK, s.MaxLatency.Round(time.Millisecond))
	if s.Transient > 0 {
		row.Bystander += fmt.Sprintf(", %d transient errors", s.Transient)
	}
	row.BystanderOK = len(s.Fatal) == 0 && err == nil
	if len(s.Fatal) > 0 {
		row.Bystander += ", errors"
		fail("the bystander got errors: %s", strings.Join(s.Fatal, "; "))
	}
	if err != nil {
		fail("the bystander completed no append and read within %v after the case", recoverWait)
	}
}

// addrToken finds the addresses in a log line.
var addrToken = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+`)

// checkLog waits until the node logged every connection the case marked
// with the case's reason (and the case's extra line), then checks that no
// connection caused more than maxLinesPerConn lines.
func (r *runner) checkLog(e *env, c kase, off int64, fail func(string, ...any)) {
	e.mu.Lock()
	mine := map[string]bool{}
	for _, p := range e.probes {
		mine[p.addr] = true
	}
	logged := e.logged
	e.mu.Unlock()
	var lines []string
	var missing []string
	var extra int
	done := func() bool {
		lines, missing, extra = r.caseLines(off, mine, logged, c)
		return len(missing) == 0 && (c.extra == nil || extra > 0)
	}
	waitFor(r.ctx, logWait, done)
	e.row.LogCount = len(lines)
	e.row.LogSample = lines[:min(len(lines), 10)]
	if len(missing) > 0 {
		fail("%d of %d connections not logged with /%s/ (e.g. %s)", len(missing), len(logged), c.reason, missing[0])
	}
	if c.extra != nil && extra == 0 {
		fail("no log line /%s/", c.extra)
	}
	if c.extra != nil && extra > 2*maxLinesPerConn {
		fail("%d log lines /%s/ (flooding)", extra, c.extra)
	}
	per := map[string]int{}
	for _, l := range lines {
		for _, a := range addrToken.FindAllString(l, -1) {
			if mine[a] {
				per[a]++
			}
		}
	}
	for a, n := range per {
		if n > maxLinesPerConn {
			fail("connection %s caused %d log lines, at most %d allowed", a, n, maxLinesPerConn)
			break
		}
	}
}

// caseLines returns the lines written since off that name one of the
// case's connections or match its extra pattern, the marked connections
// not yet logged with the reason, and how many lines match extra.
func (r *runner) caseLines(off int64, mine map[string]bool, logged []string, c kase) ([]string, []string, int) {
	var lines []string
	seen := map[string]bool{}
	extra := 0
	for _, l := range r.log.since(off) {
		hit := false
		for _, a := range addrToken.FindAllString(l, -1) {
			if mine[a] {
				hit = true
				if c.reason != nil && c.reason.MatchString(l) {
					seen[a] = true
				}
			}
		}
		if c.extra != nil && c.extra.MatchString(l) {
			hit = true
			extra++
		}
		if hit {
			lines = append(lines, l)
		}
	}
	var missing []string
	for _, a := range logged {
		if !seen[a] {
			missing = append(missing, a)
		}
	}
	return lines, missing, extra
}

// waitFor polls cond every 20 ms until it holds, d passes or ctx ends.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("hostile: condition not met within %v", d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// nodeInfo is the part of a node's status (proto.StatusDoc) the cases use.
type nodeInfo struct {
	Self        string            `json:"self"`
	Group       string            `json:"group"`
	Role        string            `json:"role"`
	Term        uint64            `json:"term"`
	Leader      string            `json:"leader"`
	LastIndex   uint64            `json:"lastIndex"`
	CommitIndex uint64            `json:"commitIndex"`
	Connections int               `json:"clientConnections"`
	Peers       map[string]string `json:"peers"`
	// MaxMessageSize is from the node's Meta.
	MaxMessageSize int `json:"-"`
}

// fetchInfo asks the node at addr for its status and meta.
func fetchInfo(ctx context.Context, addr string) (nodeInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, []string{addr}, client.WithPinned())
	if err != nil {
		return nodeInfo{}, fmt.Errorf("hostile: node %s: %w", addr, err)
	}
	defer cl.Close()
	doc, err := cl.Status(ctx)
	if err != nil {
		return nodeInfo{}, fmt.Errorf("hostile: status of %s: %w", addr, err)
	}
	var info nodeInfo
	if err := json.Unmarshal(doc, &info); err != nil {
		return nodeInfo{}, fmt.Errorf("hostile: status of %s: %w", addr, err)
	}
	m, err := cl.Meta(ctx)
	if err != nil {
		return nodeInfo{}, fmt.Errorf("hostile: meta of %s: %w", addr, err)
	}
	info.MaxMessageSize = int(m.MaxMessageSize)
	return info, nil
}

// members returns the group's member ids, sorted.
func (i nodeInfo) members() []string {
	ids := make([]string, 0, len(i.Peers))
	for id := range i.Peers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// selectCases returns the table's cases that sel names (by port,
// port/name or name),
// or all of them; the short form leaves out the long-only ones.
func selectCases(sel []string, long bool) ([]kase, error) {
	var out []kase
	for _, c := range allCases() {
		if c.longOnly && !long {
			continue
		}
		if len(sel) == 0 || slices.Contains(sel, c.name) || slices.Contains(sel, c.port) || slices.Contains(sel, c.port+"/"+c.name) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("hostile: no case named %q", sel)
	}
	return out, nil
}

func allCases() []kase {
	return slices.Concat(clientCases(), peerCases(), remotingCases(), namesrvCases())
}

// Names lists every case of the table, "port/name".
func Names() []string {
	var out []string
	for _, c := range allCases() {
		out = append(out, c.port+"/"+c.name)
	}
	return out
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
