package replication

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/rmqlog/rmqlog/pki"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// ErrIdentity: a peer's certificate does not name the member it should:
// on accept, the node its hello claims; on dial, the node dialed.
var ErrIdentity = errors.New("replication: peer certificate identity mismatch")

// plainPeerReason is what a member that dials without TLS is answered, in
// the plain handshake it speaks.
const plainPeerReason = "this node's peer port requires TLS (tlsPeerEnable=true): " +
	"every member must set tlsPeerEnable, tlsCaFile, tlsCertFile and tlsKeyFile (docs/security.md)"

// TLSListener secures a Transport with mutual TLS 1.3 (docs/security.md).
// Given to New as Config.Listener (or to package engine as its Listener)
// it secures both directions:
//
//   - Accept: every connection runs a TLS handshake in which the dialer
//     must present a certificate chaining to the CAs; then its hello must
//     claim the node that certificate names (rmqlog-node:<id>), or it is
//     refused with a reason that names both ids, before the transport's
//     own checks (group, member, target).
//   - Dial: the Transport dials its peers through it; the listener's
//     certificate must chain to the CAs and name the member dialed.
//
// Host names are not checked on peer links: identities are.
type TLSListener struct {
	net.Listener
	self   string
	creds  pki.Creds
	server *tls.Config
}

// NewTLSListener wraps ln. creds.Cert must be self's node certificate
// (identity rmqlog-node:<self>); peers' certificates must chain to
// creds.Roots. The error wraps ErrConfig; ln is then left open.
func NewTLSListener(ln net.Listener, self string, creds pki.Creds) (*TLSListener, error) {
	leaf := creds.Cert.Leaf
	if leaf == nil && len(creds.Cert.Certificate) > 0 {
		var err error
		if leaf, err = x509.ParseCertificate(creds.Cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%w: TLS certificate: %w", ErrConfig, err)
		}
	}
	switch {
	case leaf == nil:
		return nil, fmt.Errorf("%w: TLS: no certificate", ErrConfig)
	case creds.Roots == nil:
		return nil, fmt.Errorf("%w: TLS: no CA to check peers' certificates against", ErrConfig)
	}
	id, err := pki.IdentityOf(leaf)
	if err == nil && id != pki.NodeIdentity(self) {
		err = fmt.Errorf("it is %s's", id)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: TLS: the certificate must be node %q's (%s): %w", ErrConfig, self, pki.NodeIdentity(self), err)
	}
	creds.Cert.Leaf = leaf
	return &TLSListener{Listener: ln, self: self, creds: creds, server: pki.ServerConfig(creds)}, nil
}

// Accept returns the next connection; its TLS handshake and identity check
// run on its first Read, on the transport's reader goroutine for it and
// under the handshake deadline the transport sets.
func (l *TLSListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tlsConn{Conn: tls.Server(c, l.server)}, nil
}

// tlsConn is an inbound peer connection over TLS. Its first Read runs the
// handshake, reads the hello and checks it against the certificate; the
// hello's bytes are then read again, unchanged, by the transport's own
// handshake, which still judges group, member and target.
type tlsConn struct {
	*tls.Conn
	r io.Reader // nil before the first Read; only the reader goroutine uses it
}

func (c *tlsConn) Read(p []byte) (int, error) {
	if c.r == nil {
		c.r = c.open()
	}
	return c.r.Read(p)
}

// open runs the TLS handshake and the identity check and returns what the
// connection's reads return from then on: the hello's bytes and the rest
// of the stream, or the error that refuses the connection.
func (c *tlsConn) open() io.Reader {
	if err := c.Handshake(); err != nil {
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) && rh.Conn != nil {
			// Not TLS at all: most likely a member without tlsPeerEnable.
			// Answer in the handshake it speaks, so that its log says why.
			wire.WriteAnswer(rh.Conn, wire.StatusMalformed, plainPeerReason)
			err = fmt.Errorf("%w (%s)", err, plainPeerReason)
		}
		return errReader{fmt.Errorf("replication: TLS handshake: %w", err)}
	}
	var hello bytes.Buffer
	h, err := wire.ReadHello(io.TeeReader(c.Conn, &hello))
	rest := io.MultiReader(&hello, c.Conn)
	if err != nil {
		return rest // the transport reads the same bytes and answers the same error
	}
	if err := checkClaim(c.ConnectionState().PeerCertificates[0], h.From); err != nil {
		return errReader{err}
	}
	return rest
}

// checkClaim checks that the certificate a dialer presented is that of
// the node its hello claims to be.
func checkClaim(cert *x509.Certificate, from string) error {
	id, err := pki.IdentityOf(cert)
	switch {
	case err != nil:
		return fmt.Errorf("%w: the hello claims node %q, but the certificate presented names no node: %w", ErrIdentity, from, err)
	case id != pki.NodeIdentity(from):
		return fmt.Errorf("%w: the hello claims node %q, but the certificate presented is %s's: "+
			"each member must present the certificate issued for its own id", ErrIdentity, from, id)
	}
	return nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// check validates the listener against the transport's Config: the same
// self, and one member per address (the dialer knows whom it dials by the
// address).
func (l *TLSListener) check(c *Config) error {
	if l.self != c.Self {
		return fmt.Errorf("%w: the TLS listener is node %q's, but Self is %q", ErrConfig, l.self, c.Self)
	}
	owner := map[string]string{}
	for id, addr := range c.Peers {
		if id == c.Self {
			continue
		}
		if other, dup := owner[addr]; dup {
			return fmt.Errorf("%w: Peers %q and %q share the address %q: with TLS each member needs its own", ErrConfig, other, id, addr)
		}
		owner[addr] = id
	}
	return nil
}

// dialer returns the transport's dial function: TLS to the member at
// addr, whose certificate must chain to the CAs and name that member.
// A TLS failure is logged at Warn once per peer until a dial succeeds
// (the Peer logs the dial error at Info).
func (l *TLSListener) dialer(log *slog.Logger, idOf func(addr string) string) func(ctx context.Context, addr string) (net.Conn, error) {
	var mu sync.Mutex
	warned := map[string]string{} // guarded by mu: peer id -> the TLS failure last logged
	return func(ctx context.Context, addr string) (net.Conn, error) {
		id := idOf(addr)
		d := tls.Dialer{Config: &tls.Config{MinVersion: pki.MinVersion, Certificates: []tls.Certificate{l.creds.Cert},
			// The chain and the identity are checked by VerifyConnection;
			// host names are not checked on peer links.
			InsecureSkipVerify: true, VerifyConnection: l.verifyServer(id)}}
		c, err := d.DialContext(ctx, "tcp", addr)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			delete(warned, id)
		case tlsFailure(err) && warned[id] != err.Error():
			warned[id] = err.Error()
			log.Warn("replication: TLS with peer failed", "peer", id, "addr", addr, "reason", err)
		}
		return c, err
	}
}

// verifyServer checks the certificate of the member id's listener.
func (l *TLSListener) verifyServer(id string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if err := pki.VerifyChain(cs.PeerCertificates, l.creds.Roots, time.Now(), x509.ExtKeyUsageServerAuth); err != nil {
			return fmt.Errorf("peer %s's certificate: %w", id, err)
		}
		got, err := pki.IdentityOf(cs.PeerCertificates[0])
		switch {
		case err != nil:
			return fmt.Errorf("%w: dialed node %q, whose certificate names no node: %w", ErrIdentity, id, err)
		case got != pki.NodeIdentity(id):
			return fmt.Errorf("%w: dialed node %q, but the certificate presented is %s's", ErrIdentity, id, got)
		}
		return nil
	}
}

// tlsFailure reports whether a dial error is about TLS (a certificate, an
// alert, a listener that does not speak TLS) rather than the network.
func tlsFailure(err error) bool {
	var (
		alert tls.AlertError
		rh    tls.RecordHeaderError
		cv    *tls.CertificateVerificationError
	)
	return errors.Is(err, ErrIdentity) || errors.As(err, &alert) || errors.As(err, &rh) || errors.As(err, &cv) ||
		errors.As(err, new(x509.UnknownAuthorityError)) || errors.As(err, new(x509.CertificateInvalidError))
}
