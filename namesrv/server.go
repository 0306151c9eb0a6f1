package namesrv

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/remoting"
	"github.com/rmqlog/rmqlog/remoting/rpc"
)

// DefaultBrokerExpiry is how long a broker stays registered without a new
// registration (RouteInfoManager's DEFAULT_BROKER_CHANNEL_EXPIRED_TIME).
const DefaultBrokerExpiry = 120 * time.Second

// DefaultScanInterval is how often expired brokers are looked for
// (NamesrvConfig.scanNotActiveBrokerInterval).
const DefaultScanInterval = 5 * time.Second

// standardJSONVersion is MQVersion.Version.V4_9_4's ordinal: requests of
// this version or later get routes in standard JSON.
const standardJSONVersion = 401

// Config configures a Server; the zero value is RocketMQ's defaults.
type Config struct {
	// BrokerExpiry: a broker not heard from for this long is forgotten,
	// unless its registration asked for another (heartbeatTimeoutMillis).
	BrokerExpiry time.Duration
	// ScanInterval: how often expiry is checked.
	ScanInterval time.Duration
	// Transport tunes the remoting server (in-flight bound, frame size,
	// logger).
	Transport rpc.ServerOptions
	// Logger receives registrations and expiries (slog.Default() when nil).
	Logger *slog.Logger
	// Now is the clock (time.Now when nil); tests move it.
	Now func() time.Time
}

// Server is a name server. Its routes live in memory only.
type Server struct {
	cfg  Config
	rpc  *rpc.Server
	stop chan struct{}
	wg   sync.WaitGroup // the expiry loop

	mu sync.Mutex // guards t
	t  *table
}

// New returns a name server that expires brokers from now on; Serve
// answers requests.
func New(cfg Config) *Server {
	if cfg.BrokerExpiry <= 0 {
		cfg.BrokerExpiry = DefaultBrokerExpiry
	}
	if cfg.ScanInterval <= 0 {
		cfg.ScanInterval = DefaultScanInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Transport.Logger == nil {
		cfg.Transport.Logger = cfg.Logger
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, stop: make(chan struct{}), t: newTable()}
	mux := rpc.Mux{
		remoting.RegisterBroker:                s.registerBroker,
		remoting.UnregisterBroker:              s.unregisterBroker,
		remoting.GetRouteInfoByTopic:           s.routeInfo,
		remoting.GetBrokerClusterInfo:          s.clusterInfo,
		remoting.GetAllTopicListFromNameServer: s.topicList,
	}
	s.rpc = rpc.NewServer(mux.Handle, cfg.Transport)
	s.wg.Add(1)
	go s.expireLoop()
	return s
}

// Serve answers requests on l until Close (rpc.Server.Serve).
func (s *Server) Serve(l net.Listener) error { return s.rpc.Serve(l) }

// Close stops serving and the expiry loop.
func (s *Server) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	err := s.rpc.Close()
	s.wg.Wait()
	return err
}

func (s *Server) expireLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.ScanInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			s.expire()
		}
	}
}

func (s *Server) expire() {
	s.mu.Lock()
	gone := s.t.expire(s.cfg.Now())
	s.mu.Unlock()
	for _, k := range gone {
		s.cfg.Logger.Warn("namesrv: broker expired", "cluster", k.cluster, "addr", k.addr)
	}
}

// Route returns topic's route, and false when no broker serves it.
func (s *Server) Route(topic string) (Route, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t.route(topic)
}

// registerBroker serves REGISTER_BROKER (DefaultRequestProcessor.registerBroker).
func (s *Server) registerBroker(_ context.Context, req *remoting.Command) *remoting.Command {
	reg, err := decodeRegistration(req)
	if err != nil {
		return remoting.NewResponse(req, remoting.SystemError, err.Error())
	}
	s.mu.Lock()
	res := s.t.register(reg, s.cfg.Now(), s.cfg.BrokerExpiry)
	s.mu.Unlock()
	resp := remoting.NewResponse(req, remoting.Success, "")
	ext := map[string]string{}
	if res.masterAddr != "" {
		ext["masterAddr"] = res.masterAddr
	}
	if res.haServerAddr != "" {
		ext["haServerAddr"] = res.haServerAddr
	}
	if len(ext) > 0 {
		resp.ExtFields = ext
	}
	return resp
}

// decodeRegistration reads REGISTER_BROKER's header and body, refusing a
// body whose bodyCrc32 (when not 0) does not match, as RocketMQ does. A
// broker older than V3_0_11 sends its topic wrapper as the whole body.
func decodeRegistration(req *remoting.Command) (registration, error) {
	h := header(req.ExtFields)
	r := registration{cluster: h.need("clusterName"), name: h.need("brokerName"),
		addr: h.need("brokerAddr"), haServerAddr: h.need("haServerAddr"), id: h.int("brokerId", true)}
	r.timeout = time.Duration(h.int("heartbeatTimeoutMillis", false)) * time.Millisecond
	r.actingMaster = h.fields["enableActingMaster"] == "true"
	want := h.int("bodyCrc32", false) // read before the error check: a malformed one is refused too
	if h.err != nil {
		return r, h.err
	}
	if h.fields["compressed"] == "true" {
		return r, fmt.Errorf("namesrv: compressed registrations are not supported; register with compressedRegister=false")
	}
	if want != 0 && int64(crc32.ChecksumIEEE(req.Body)&0x7FFFFFFF) != want {
		return r, fmt.Errorf("crc32 not match")
	}
	var body registerBody
	var into any = &body
	if req.Version < registerBodyVersion {
		into = &body.TopicConfigSerializeWrapper
	}
	if len(req.Body) > 0 {
		if err := json.Unmarshal(req.Body, into); err != nil {
			return r, fmt.Errorf("namesrv: REGISTER_BROKER body of %s: %w", r.addr, err)
		}
	}
	r.topics = body.TopicConfigSerializeWrapper.TopicConfigTable
	return r, nil
}

// unregisterBroker serves UNREGISTER_BROKER.
func (s *Server) unregisterBroker(_ context.Context, req *remoting.Command) *remoting.Command {
	h := header(req.ExtFields)
	cluster, name, addr, id := h.need("clusterName"), h.need("brokerName"), h.need("brokerAddr"), h.int("brokerId", true)
	if h.err != nil {
		return remoting.NewResponse(req, remoting.SystemError, h.err.Error())
	}
	s.mu.Lock()
	s.t.unregister(cluster, name, addr, id)
	s.mu.Unlock()
	return remoting.NewResponse(req, remoting.Success, "")
}

// routeInfo serves GET_ROUTEINFO_BY_TOPIC (ClientRequestProcessor.getRouteInfoByTopic).
func (s *Server) routeInfo(_ context.Context, req *remoting.Command) *remoting.Command {
	h := header(req.ExtFields)
	topic := h.need("topic")
	if h.err != nil {
		return remoting.NewResponse(req, remoting.SystemError, h.err.Error())
	}
	r, ok := s.Route(topic)
	if !ok {
		return remoting.NewResponse(req, remoting.TopicNotExist,
			"No topic route info in name server for the topic: "+topic)
	}
	standard := req.Version >= standardJSONVersion || h.fields["acceptStandardJsonOnly"] == "true"
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = encodeRoute(r, standard)
	return resp
}

// clusterInfo serves GET_BROKER_CLUSTER_INFO.
func (s *Server) clusterInfo(_ context.Context, req *remoting.Command) *remoting.Command {
	s.mu.Lock()
	ci := s.t.clusterInfo()
	s.mu.Unlock()
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = encodeClusterInfo(ci)
	return resp
}

// topicList serves GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
func (s *Server) topicList(_ context.Context, req *remoting.Command) *remoting.Command {
	s.mu.Lock()
	topics := s.t.topicList()
	s.mu.Unlock()
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = encodeTopicList(topics)
	return resp
}

// headerReader reads a request's named fields, keeping the first error,
// as RocketMQ's decodeCommandCustomHeader checks @CFNotNull fields.
type headerReader struct {
	fields map[string]string
	err    error
}

func header(ext map[string]string) *headerReader { return &headerReader{fields: ext} }

func (h *headerReader) need(name string) string {
	v, ok := h.fields[name]
	if !ok && h.err == nil {
		h.err = fmt.Errorf("namesrv: the header field %s is missing", name)
	}
	return v
}

func (h *headerReader) int(name string, required bool) int64 {
	v, ok := h.fields[name]
	if !ok {
		if required {
			h.need(name)
		}
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil && h.err == nil {
		h.err = fmt.Errorf("namesrv: the header field %s=%q is not an integer", name, v)
	}
	return n
}
