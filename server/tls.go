package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/pki"
	"github.com/rmqlog/rmqlog/replication"
)

// handshakeTimeout bounds a client's TLS handshake.
const handshakeTimeout = 10 * time.Second

// plainClientReason answers a client that connects without TLS to a
// client port that requires it.
const plainClientReason = "this node's client port requires TLS with a client certificate (tlsClientEnable=true): " +
	"dial with client.WithTLS, or give rmqlog's admin commands --tls-ca, --tls-cert and --tls-key (docs/security.md)"

// listenPeers binds the peer port (the node's dLegerPeers entry), or takes
// cfg.Engine.Listener, and wraps it in TLS when the peer links use it
// (cfg.PeerTLS). Start binds it before the node allocates any file.
func listenPeers(cfg Config) (net.Listener, error) {
	ln := cfg.Engine.Listener
	if ln == nil {
		id := cfg.Engine.ID
		addr := cfg.Engine.Peers[id]
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("server: peer port (the dLegerPeers entry of %s) %s: %w", id, addr, err)
		}
	}
	if cfg.PeerTLS == nil {
		return ln, nil
	}
	sl, err := replication.NewTLSListener(ln, cfg.Engine.ID, *cfg.PeerTLS)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("server: peer TLS (tlsCertFile, tlsCaFile): %w", err)
	}
	return sl, nil
}

func closeListener(ln net.Listener) {
	if ln != nil {
		ln.Close()
	}
}

// startHandshake runs nc's TLS handshake on a goroutine of its own (a slow
// client must not hold up the accept loop), then admits it; connections in
// their handshake count against MaxConnections. beginClose
// closes the connections still in their handshake; s.wg waits for the
// goroutines.
func (s *Server) startHandshake(nc net.Conn) {
	tc := tls.Server(nc, s.tls)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		nc.Close()
		return
	case len(s.conns)+len(s.handshaking) >= s.cfg.MaxConnections:
		// Before a handshake there is no way to answer: close.
		s.log.Warn("client port: refusing a connection: too many connections (clientMaxConnections), counting those in their TLS handshake",
			"addr", nc.RemoteAddr().String(), "limit", s.cfg.MaxConnections, "handshaking", len(s.handshaking))
		nc.Close()
		return
	}
	s.handshaking[tc] = struct{}{}
	s.wg.Add(1) // the accept loop's own count keeps wg above zero here
	go s.handshake(tc)
}

// handshake authenticates tc within handshakeTimeout and admits it, or
// logs why not and closes it.
func (s *Server) handshake(tc *tls.Conn) {
	defer s.wg.Done()
	tc.SetDeadline(time.Now().Add(handshakeTimeout))
	err := tc.Handshake()
	s.mu.Lock()
	delete(s.handshaking, tc)
	closing := s.closing
	if err == nil && !closing {
		tc.SetDeadline(time.Time{}) // under mu: Shutdown's stopReading comes after, never before
	}
	s.mu.Unlock()
	switch {
	case err != nil && closing:
		tc.Close()
	case err != nil:
		s.refuseTLS(tc, err)
	default:
		s.log.Debug("client port: TLS client connected", "addr", tc.RemoteAddr().String(),
			"identity", pki.Describe(tc.ConnectionState().PeerCertificates[0]))
		s.admit(tc)
	}
}

// refuseTLS logs a failed handshake and closes the connection; a client
// that does not speak TLS at all is told why, in the plain protocol.
func (s *Server) refuseTLS(tc *tls.Conn, err error) {
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) && rh.Conn != nil {
		refuse(rh.Conn, proto.CodeBadRequest, plainClientReason)
		err = fmt.Errorf("%w (not TLS: answered that TLS is required)", err)
	}
	s.log.Warn("client port: TLS handshake failed, closing the connection", "addr", tc.RemoteAddr().String(), "reason", err.Error())
	tc.Close()
}
