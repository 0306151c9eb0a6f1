package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
)

// WithTLS makes the client dial every node over TLS with cfg: a node
// started with tlsClientEnable=true speaks TLS 1.3 only and requires a
// client certificate that chains to its tlsClientCaFile, so cfg needs
// Certificates as well as RootCAs (the CA of the nodes' certificates).
// With cfg.ServerName empty, each node's certificate is checked against
// the host of the address dialed, as crypto/tls does: the nodes'
// certificates must list the hosts clients use (rmqlog certs --hosts).
// The client keeps cfg; do not change it afterwards.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// dial opens a connection to addr: TCP, or TLS with its handshake done
// within ctx.
func (o *options) dial(ctx context.Context, addr string) (net.Conn, error) {
	if o.tls == nil {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	d := tls.Dialer{Config: o.tls}
	return d.DialContext(ctx, "tcp", addr)
}

// refusedSetup reports whether a probe's error means that the node refused
// this client's setup rather than being unreachable: a TLS handshake that
// failed on a certificate (either side's) or met no TLS, or a node that
// refused the connection as a bad request (a client without TLS at a port
// that requires it).
func refusedSetup(err error) bool {
	var (
		alert tls.AlertError
		rh    tls.RecordHeaderError
		cv    *tls.CertificateVerificationError
		ua    x509.UnknownAuthorityError
		hn    x509.HostnameError
		ci    x509.CertificateInvalidError
	)
	return errors.As(err, &alert) || errors.As(err, &rh) || errors.As(err, &cv) || errors.As(err, &ua) ||
		errors.As(err, &hn) || errors.As(err, &ci) || remoteAlert(err) || errors.Is(err, ErrBadRequest) ||
		errors.Is(err, ErrWrongPort)
}

// remoteAlert reports whether err is a TLS alert from the node, such as
// its refusal of this client's certificate (with TLS 1.3 it arrives on the
// first read, after the client's side of the handshake has succeeded).
// crypto/tls reports one as a *net.OpError whose Op is "remote error".
func remoteAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

type optionsKey struct{}

// ContextWithOptions returns a copy of ctx that carries opts: Dial applies
// them before its own options. It is for code that dials through a library
// whose functions take a context but no options, as package admin's do:
//
//	ctx = client.ContextWithOptions(ctx, client.WithTLS(cfg))
//	nodes := admin.Status(ctx, addrs, timeout)
func ContextWithOptions(ctx context.Context, opts ...Option) context.Context {
	return context.WithValue(ctx, optionsKey{}, append(contextOptions(ctx), opts...))
}

func contextOptions(ctx context.Context) []Option {
	opts, _ := ctx.Value(optionsKey{}).([]Option)
	return opts[:len(opts):len(opts)]
}
