package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/pki"
)

// testCA issues what the TLS tests need.
type testCA struct {
	roots *x509.CertPool
	ca    *pki.CA
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	ca, err := pki.NewCA("test CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	return &testCA{roots: roots, ca: ca}
}

func (c *testCA) issue(t *testing.T, id pki.Identity, hosts ...string) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := c.ca.Issue(id, hosts, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// newTLSNode is a leading test node behind a TLS listener that requires a
// client certificate of ca.
func newTLSNode(t *testing.T, ca *testCA) *testNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	creds := pki.Creds{Cert: ca.issue(t, pki.NodeIdentity("n0"), "127.0.0.1"), Roots: ca.roots}
	return newNodeOn(t, tls.NewListener(ln, pki.ServerConfig(creds)), "n0", &testLog{}, true)
}

// TestWithTLS: a client with a certificate of the node's CA appends; one
// without, or one that does not trust the node's certificate, is refused
// at once (not after the context's 10 s) with the TLS reason.
func TestWithTLS(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	n := newTLSNode(t, ca)
	admin := ca.issue(t, pki.ClientIdentity("admin"))
	tests := []struct {
		name string
		cfg  *tls.Config
		want string // "" for success
	}{
		{"client certificate", &tls.Config{RootCAs: ca.roots, Certificates: []tls.Certificate{admin}}, ""},
		{"no client certificate", &tls.Config{RootCAs: ca.roots}, "certificate required"},
		{"another CA's client certificate", &tls.Config{RootCAs: ca.roots, Certificates: []tls.Certificate{other.issue(t, pki.ClientIdentity("admin"))}}, "unknown certificate authority"},
		{"node not trusted", &tls.Config{RootCAs: other.roots, Certificates: []tls.Certificate{admin}}, "certificate signed by unknown authority"},
		{"another host name", &tls.Config{RootCAs: ca.roots, Certificates: []tls.Certificate{admin}, ServerName: "db.example"}, "wanted to match db.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			c, err := Dial(ctxFor(t, 10*time.Second), []string{n.addr}, WithTLS(tt.cfg))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := c.Append(ctxFor(t, 10*time.Second), []byte("over TLS")); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Dial = %v, want an error with %q before the deadline", err, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refused after %v: Dial retried", d)
			}
		})
	}
}

// TestContextWithOptions: options carried by the context apply, and the
// call's own options after them.
func TestContextWithOptions(t *testing.T) {
	ca := newTestCA(t)
	n := newTLSNode(t, ca)
	good := &tls.Config{RootCAs: ca.roots, Certificates: []tls.Certificate{ca.issue(t, pki.ClientIdentity("admin"))}}
	bad := &tls.Config{RootCAs: ca.roots}
	tests := []struct {
		name    string
		ctxOpts []Option
		opts    []Option
		ok      bool
	}{
		{"from the context", []Option{WithTLS(good)}, nil, true},
		{"the call's own win", []Option{WithTLS(bad)}, []Option{WithTLS(good)}, true},
		{"the context's apply", []Option{WithTLS(bad)}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ContextWithOptions(ctxFor(t, 10*time.Second), tt.ctxOpts...)
			c, err := Dial(ctx, []string{n.addr}, tt.opts...)
			if (err == nil) != tt.ok {
				t.Fatalf("Dial = %v, want ok=%v", err, tt.ok)
			}
			if c != nil {
				c.Close()
			}
		})
	}
}
