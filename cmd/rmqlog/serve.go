package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/config"
	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/internal/fault"
	"github.com/rmqlog/rmqlog/server"
)

// shutdownLimit bounds a graceful shutdown; a second signal cuts it short.
const shutdownLimit = 30 * time.Second

func serve(args []string, stdout, stderr io.Writer) error {
	fs := flags("serve", "serve -c <broker.conf>", stderr)
	conf := fs.String("c", "", "RocketMQ broker properties file (see docs/config.md and conf/)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *conf == "" {
		fs.Usage()
		return &exitError{code: 2, msg: "rmqlog serve: -c is required, e.g. rmqlog serve -c conf/broker-n0.conf"}
	}
	cfg, warnings, err := config.Load(*conf)
	if err != nil {
		return &exitError{code: 1, msg: "rmqlog serve: " + err.Error()}
	}
	log := newLogger(stderr, cfg)
	logConfig(log, cfg, warnings)
	// Test-only fault seams (power loss journal, disk full, clock), off
	// unless RMQLOG_FAULT_* is set: see internal/fault and `make chaos`.
	faultFS, faultClock, stopFault, err := fault.FromEnv(log)
	if err != nil {
		return &exitError{code: 1, msg: "rmqlog serve: " + err.Error()}
	}
	defer stopFault()
	sc, err := serverConfig(cfg, log)
	if err != nil {
		return &exitError{code: 1, msg: "rmqlog serve: " + err.Error()}
	}
	if cfg.BrokerEnable && cfg.NamesrvAddr == "" {
		log.Warn("config: namesrvAddr is not set: the broker registers with no name server, and RocketMQ clients " +
			"that look routes up there will not find it; set namesrvAddr (e.g. 127.0.0.1:9876, see `rmqlog namesrv`)")
	}
	if faultFS != nil {
		sc.Engine.FS = faultFS
	}
	if faultClock != nil {
		sc.Engine.Clock = faultClock
	}
	// Signals are caught from here on: the client port answers "starting"
	// while the node opens its log, and a SIGTERM meanwhile stops the node
	// gracefully as soon as it is open.
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s, err := server.Start(sc)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("rmqlog serve: %s: %v", cfg.File, err)}
	}
	summary := []any{"id", cfg.SelfID, "group", cfg.Group, "broker", cfg.BrokerName, "cluster", cfg.ClusterName,
		"remoting", remotingName(s), "client", s.Addr().String(), "peer", cfg.Peers[cfg.SelfID], "flush", cfg.FlushMode.String(),
		"segment", sizeName(cfg.SegmentSize), "log_dir", cfg.LogDir}
	if len(warnings) > 0 {
		summary = append(summary, "config_warnings", fmt.Sprintf("%d, logged above at WARN", len(warnings)))
	}
	log.Info("rmqlog node running", summary...)
	return waitAndStop(s, log, sig)
}

// logConfig logs the configuration's warnings (each at Warn, the security
// ones among them) and then the effective configuration.
func logConfig(log *slog.Logger, cfg *config.Config, warnings []config.Warning) {
	for _, w := range warnings {
		log.Warn("config: " + w.String())
	}
	for _, d := range cfg.Describe() {
		log.Info("config: " + d)
	}
}

// waitAndStop waits for SIGTERM or SIGINT, then shuts down gracefully; a
// second signal exits at once.
func waitAndStop(s *server.Server, log *slog.Logger, sig <-chan os.Signal) error {
	got := <-sig
	log.Info("shutting down: finishing in-flight appends, then sync and close (a second signal exits at once)", "signal", got.String())
	go func() {
		got := <-sig
		log.Warn("second signal: exiting at once", "signal", got.String())
		os.Exit(1)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownLimit)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("rmqlog serve: shutdown: %v", err)}
	}
	log.Info("stopped cleanly")
	return nil
}

// sizeName writes a byte count as RocketMQ users write segment sizes:
// 1GiB, 64MiB, or bytes.
func sizeName(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dB", n)
}

func newLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serverConfig maps the broker configuration onto the server's, the
// engine's and the broker's (docs/config.md has the key of every field).
func serverConfig(c *config.Config, log *slog.Logger) (server.Config, error) {
	bc, err := brokerConfig(c)
	if err != nil {
		return server.Config{}, err
	}
	return server.Config{
		ClientAddr:     c.ClientAddr,
		RemotingAddr:   c.RemotingAddr,
		Broker:         bc,
		MetricsAddr:    c.MetricsAddr,
		Pprof:          c.MetricsPprof,
		MaxConnections: c.MaxConnections,
		MaxInflight:    c.MaxInflight,
		FileReserved:   c.FileReserved,
		Logger:         log,
		PeerTLS:        c.PeerTLS,
		ClientTLS:      c.ClientTLS,
		Engine: engine.Config{
			Group: c.Group, ID: c.SelfID, Peers: c.Peers, ClientAddr: c.ClientAddr, Join: c.Join,
			Dir: c.RootDir, LogDir: c.LogDir,
			FlushMode: c.FlushMode, FlushInterval: c.FlushInterval,
			SegmentSize: c.SegmentSize, IndexEntries: c.IndexEntries,
			TickInterval: c.TickInterval, HeartbeatInterval: c.HeartbeatInterval,
			ElectionTimeout: c.ElectionTimeout, RetransmitTimeout: c.RetransmitTimeout,
			MaxBatchBytes: c.MaxBatchBytes, MaxBatchCount: c.MaxBatchCount,
			WindowBatches: c.WindowBatches, WindowBytes: c.WindowBytes,
			MaxEntrySize: c.MaxMessageSize, MaxPendingBytes: c.MaxPendingBytes,
			NoPrewrite: !c.Prewrite, PrewriteRate: int64(c.PrewriteMiBps) << 20,
			CacheKeep:       cacheKeep(c.CacheKeepMiB),
			PreferredLeader: c.PreferredLeader,
		},
	}, nil
}

// cacheKeep turns storeCacheKeepMiB into segment.Options.CacheKeep: 0
// there means never evict (negative), not the default.
func cacheKeep(mib int) int64 {
	if mib == 0 {
		return -1
	}
	return int64(mib) << 20
}

// remotingName is the broker's remoting address, or "off".
func remotingName(s *server.Server) string {
	if a := s.RemotingAddr(); a != nil {
		return a.String()
	}
	return "off (rmqlogBrokerEnable=false)"
}

// brokerConfig maps the broker keys onto package broker's Config. The
// broker's address is an IP (it is written into every stored message as
// its store host): a host name in brokerIP1 is resolved here, once.
func brokerConfig(c *config.Config) (*broker.Config, error) {
	if !c.BrokerEnable {
		return nil, nil
	}
	host, port, _ := net.SplitHostPort(c.RemotingAddr)
	if net.ParseIP(host) == nil {
		ips, err := net.LookupIP(host)
		if err != nil || len(ips) == 0 {
			return nil, fmt.Errorf("%s: brokerIP1 %q: cannot resolve it to an IP address (%v): set brokerIP1 to the IP address clients reach", c.File, host, err)
		}
		host = ips[0].String()
		for _, ip := range ips {
			if ip.To4() != nil {
				host = ip.String()
				break
			}
		}
	}
	return &broker.Config{
		ClusterName: c.ClusterName, BrokerName: c.BrokerName, BrokerAddr: net.JoinHostPort(host, port),
		MemberID: int64(slices.Index(c.PeerOrder, c.SelfID) + 1), NamesrvAddr: c.NamesrvAddr,
		Dir: c.RootDir, AutoCreateTopic: c.AutoCreateTopic, MaxBody: c.MaxMessageSize,
		DelayLevels: c.DelayLevels, LockExpiry: c.LockExpiry,
		DedupWindow: dedupWindow(c.DedupWindow), DedupMaxKeys: c.DedupMaxKeys,
		SlaveReadEnable: c.SlaveReadEnable, SlowConsumerBrokerID: c.SlowConsumerBrokerID,
		SlaveReadLag: physicalMemory() * int64(c.InMemoryMaxRatio) / 100,
	}, nil
}

// dedupWindow maps rmqlogDedupWindowMs=0 (off) to the broker's "off",
// a negative window (its 0 means the default).
func dedupWindow(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
