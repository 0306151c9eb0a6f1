package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/engine"
)

// metrics are the node's Prometheus metrics, in a registry of its own. The
// histograms and counters are always kept (they cost an atomic add); they
// are served only when Config.MetricsAddr is set. docs/operations.md lists them.
type metrics struct {
	reg        *prometheus.Registry
	append     *histogram // request read -> answer ready, appends
	commit     *histogram // request read -> committed, successful appends
	requests   *prometheus.CounterVec
	syncs      prometheus.Histogram // entries made durable per fsync
	syncTime   prometheus.Histogram
	conns      prometheus.Gauge
	ln         net.Listener
	reqCounter [proto.TypeMember + 1][proto.CodeChangePending + 1]prometheus.Counter
}

var latencyBuckets = prometheus.ExponentialBuckets(50e-6, 2, 18) // 50 us .. 6.5 s

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.append = newHistogram("rmqlog_append_latency_seconds",
		"Client appends on this node: from reading the request to its answer (committed or failed).", latencyBuckets)
	m.commit = newHistogram("rmqlog_commit_latency_seconds",
		"Successful client appends: from reading the request to the commit under the flush mode.", latencyBuckets)
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rmqlog_client_requests_total",
		Help: "Client requests answered, by type and outcome."}, []string{"type", "code"})
	m.syncs = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rmqlog_sync_entries",
		Help: "Entries made durable by one fsync of the log (group commit).", Buckets: prometheus.ExponentialBuckets(1, 2, 14)})
	m.syncTime = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rmqlog_sync_duration_seconds",
		Help: "Duration of one fsync of the log.", Buckets: latencyBuckets})
	m.conns = prometheus.NewGauge(prometheus.GaugeOpts{Name: "rmqlog_client_connections", Help: "Open client connections."})
	m.reg.MustRegister(m.append, m.commit, m.requests, m.syncs, m.syncTime, m.conns, &statusCollector{s: s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for t := range m.reqCounter {
		for c := range m.reqCounter[t] {
			if t > 0 {
				m.reqCounter[t][c] = m.requests.WithLabelValues(proto.Type(t).String(), proto.Code(c).String())
			}
		}
	}
	return m
}

// request counts one answered request and, for appends, its latency.
func (m *metrics) request(t proto.Type, c proto.Code, took time.Duration) {
	if int(t) < len(m.reqCounter) && t > 0 && int(c) < len(m.reqCounter[t]) {
		m.reqCounter[t][c].Inc()
	}
	if t == proto.TypeAppend {
		m.append.observe(took.Seconds(), 1)
	}
}

// appended counts n successful appends answered together, committed took
// after they were read.
func (m *metrics) appended(n int, took time.Duration) {
	if n == 0 {
		return
	}
	m.reqCounter[proto.TypeAppend][proto.CodeOK].Add(float64(n))
	secs := took.Seconds()
	m.append.observe(secs, n)
	m.commit.observe(secs, n)
}

func (m *metrics) observeSync(entries uint64, took time.Duration) {
	m.syncs.Observe(float64(entries))
	m.syncTime.Observe(took.Seconds())
}

// listenMetrics binds the metrics endpoint (metricsAddr), or returns nil
// when it is off.
func (s *Server) listenMetrics() (net.Listener, error) {
	if s.cfg.MetricsAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("server: metrics endpoint (metricsAddr) %s: %w", s.cfg.MetricsAddr, err)
	}
	return ln, nil
}

// serveMetrics serves the bound metrics endpoint, if any.
func (s *Server) serveMetrics() {
	ln := s.metricsLn
	if ln == nil {
		return
	}
	s.metrics.ln = ln
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{Registry: s.metrics.reg}))
	if s.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index) // and the named profiles: heap, goroutine, ...
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("metrics endpoint stopped", "err", err)
		}
	}()
	s.log.Info("metrics endpoint listening", "addr", ln.Addr().String(), "path", "/metrics", "pprof", s.cfg.Pprof)
}

// statusCollector turns the node's Status into gauges at scrape time.
type statusCollector struct{ s *Server }

var (
	descIndex  = prometheus.NewDesc("rmqlog_index", "Log indexes of this node: first, last, commit, durable.", []string{"kind"}, nil)
	descTerm   = prometheus.NewDesc("rmqlog_term", "Current Raft term.", nil, nil)
	descRole   = prometheus.NewDesc("rmqlog_role", "1 for the node's current Raft role.", []string{"role"}, nil)
	descElect  = prometheus.NewDesc("rmqlog_elections_total", "Elections this node started as a candidate.", nil, nil)
	descLag    = prometheus.NewDesc("rmqlog_follower_lag_entries", "Leader only: last index minus the follower's match index.", []string{"follower"}, nil)
	descMatch  = prometheus.NewDesc("rmqlog_follower_match_index", "Leader only: the follower's match index.", []string{"follower"}, nil)
	descBatch  = prometheus.NewDesc("rmqlog_replication_batches_total", "Append batches sent to followers.", nil, nil)
	descSent   = prometheus.NewDesc("rmqlog_replication_entries_total", "Entries sent to followers.", nil, nil)
	descRepair = prometheus.NewDesc("rmqlog_repairing", "1 while the node repairs a log that may lack entries it acknowledged (its vote counts only when every member votes).", nil, nil)
	descContra = prometheus.NewDesc("rmqlog_contradictions_total", "Leader requests to overwrite entries this node knows are committed, refused. Any is an alert: see docs/durability.md.", nil, nil)
	descMember = prometheus.NewDesc("rmqlog_members", "Members of the configuration in force on this node, by role (voter, learner).", []string{"role"}, nil)
	descConf   = prometheus.NewDesc("rmqlog_conf_index", "Index of the configuration entry in force (0: the bootstrap configuration from dLegerPeers).", nil, nil)
	descConfOK = prometheus.NewDesc("rmqlog_conf_committed", "1 when the configuration in force is committed; 0 while a membership change is under way.", nil, nil)
	descLearn  = prometheus.NewDesc("rmqlog_learner_lag_entries", "Leader only: last index minus the learner's match index (promote it once this is small).", []string{"learner"}, nil)
)

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descIndex, descTerm, descRole, descElect, descLag, descMatch, descBatch, descSent, descRepair, descContra,
		descMember, descConf, descConfOK, descLearn} {
		ch <- d
	}
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.node.Status()
	gauge := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	for kind, v := range map[string]uint64{"first": st.First, "last": st.Last, "commit": st.Commit, "durable": st.Durable} {
		gauge(descIndex, v, kind)
	}
	gauge(descTerm, st.Term)
	for _, r := range []engine.Role{engine.Follower, engine.PreCandidate, engine.Candidate, engine.Leader} {
		v := uint64(0)
		if st.Role == r {
			v = 1
		}
		gauge(descRole, v, r.String())
	}
	ch <- prometheus.MustNewConstMetric(descElect, prometheus.CounterValue, float64(st.Elections))
	ch <- prometheus.MustNewConstMetric(descBatch, prometheus.CounterValue, float64(st.BatchesSent))
	ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(st.EntriesSent))
	ch <- prometheus.MustNewConstMetric(descContra, prometheus.CounterValue, float64(st.Contradictions))
	repairing := uint64(0)
	if st.RepairTo != 0 {
		repairing = 1
	}
	gauge(descRepair, repairing)
	for _, f := range st.Followers {
		gauge(descLag, f.Lag, f.ID)
		gauge(descMatch, f.Match, f.ID)
		if f.Learner {
			gauge(descLearn, f.Lag, f.ID)
		}
	}
	collectConf(st, gauge)
}

// collectConf reports the configuration in force.
func collectConf(st engine.Status, gauge func(*prometheus.Desc, uint64, ...string)) {
	gauge(descMember, uint64(len(st.Membership.Voters())), "voter")
	gauge(descMember, uint64(len(st.Membership.Learners())), "learner")
	gauge(descConf, st.ConfIndex)
	committed := uint64(0)
	if st.ConfCommitted {
		committed = 1
	}
	gauge(descConfOK, committed)
}
