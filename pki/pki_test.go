package pki_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/pki"
)

var now = time.Now()

func newCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA("test CA", now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// write puts data in dir/name and returns the path.
func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func issue(t *testing.T, ca *pki.CA, id pki.Identity, hosts ...string) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(id, hosts, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// TestIssue: what a node's and a client's certificate carry, and that each
// verifies against its CA for exactly the usages it is meant for.
func TestIssue(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	roots, otherRoots := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(ca.Cert)
	otherRoots.AddCert(other.Cert)
	tests := []struct {
		id             pki.Identity
		hosts          []string
		cn             string
		server, client bool
		ips, dns       int
	}{
		{pki.NodeIdentity("n1"), []string{"127.0.0.1", "localhost", "::1", "node1.example"}, "node:n1", true, true, 2, 2},
		{pki.ClientIdentity("admin-1"), nil, "client:admin-1", false, true, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			leaf := issue(t, ca, tt.id, tt.hosts...).Leaf
			got, err := pki.IdentityOf(leaf)
			if err != nil || got != tt.id {
				t.Fatalf("IdentityOf = %v, %v; want %v", got, err, tt.id)
			}
			if leaf.Subject.CommonName != tt.cn || len(leaf.IPAddresses) != tt.ips || len(leaf.DNSNames) != tt.dns {
				t.Errorf("CN %q, IPs %v, DNS %v", leaf.Subject.CommonName, leaf.IPAddresses, leaf.DNSNames)
			}
			chain := []*x509.Certificate{leaf}
			for use, want := range map[x509.ExtKeyUsage]bool{x509.ExtKeyUsageServerAuth: tt.server, x509.ExtKeyUsageClientAuth: tt.client} {
				if err := pki.VerifyChain(chain, roots, now, use); (err == nil) != want {
					t.Errorf("usage %v: verify = %v, want ok=%v", use, err, want)
				}
			}
			if err := pki.VerifyChain(chain, otherRoots, now, x509.ExtKeyUsageClientAuth); err == nil {
				t.Error("verified against another CA")
			}
			if err := pki.VerifyChain(chain, roots, now.Add(2*time.Hour), x509.ExtKeyUsageClientAuth); err == nil {
				t.Error("verified after it expired")
			}
		})
	}
}

func TestIssueRefuses(t *testing.T) {
	ca := newCA(t)
	tests := []struct {
		id    pki.Identity
		hosts []string
		want  string
	}{
		{pki.NodeIdentity(""), nil, "allowed 1 to 64"},
		{pki.NodeIdentity("n-1"), nil, "A-Z a-z 0-9 _ ."},
		{pki.NodeIdentity(strings.Repeat("n", 65)), nil, "allowed 1 to 64"},
		{pki.ClientIdentity("a b"), nil, "_ . -"},
		{pki.ClientIdentity("admin"), []string{"127.0.0.1"}, "takes no hosts"},
		{pki.Identity{Kind: 9, Name: "x"}, nil, "unknown identity kind"},
	}
	for _, tt := range tests {
		if _, _, err := ca.Issue(tt.id, tt.hosts, now, time.Hour); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Issue(%+v, %v) = %v, want an error with %q", tt.id, tt.hosts, err, tt.want)
		}
	}
}

func TestIdentityOf(t *testing.T) {
	uri := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		name string
		uris []string
		want pki.Identity
		err  string
	}{
		{"node", []string{"https://example.com/x", "rmqlog-node:n2"}, pki.NodeIdentity("n2"), ""},
		{"client", []string{"rmqlog-client:app-7"}, pki.ClientIdentity("app-7"), ""},
		{"none", nil, pki.Identity{}, "has no URI rmqlog-node:<id>"},
		{"other scheme only", []string{"spiffe://x/y"}, pki.Identity{}, "has no URI"},
		{"two", []string{"rmqlog-node:n1", "rmqlog-node:n2"}, pki.Identity{}, "has 2 identities"},
		{"node and client", []string{"rmqlog-node:n1", "rmqlog-client:n1"}, pki.Identity{}, "has 2 identities"},
		{"malformed", []string{"rmqlog-node:n-1"}, pki.Identity{}, "malformed identity"},
		{"empty", []string{"rmqlog-node:"}, pki.Identity{}, "malformed identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &x509.Certificate{SerialNumber: big.NewInt(7)}
			for _, s := range tt.uris {
				c.URIs = append(c.URIs, uri(s))
			}
			got, err := pki.IdentityOf(c)
			switch {
			case tt.err == "" && (err != nil || got != tt.want):
				t.Errorf("= %v, %v; want %v", got, err, tt.want)
			case tt.err != "" && (err == nil || !errors.Is(err, pki.ErrNoIdentity) || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want ErrNoIdentity with %q", err, tt.err)
			}
		})
	}
}

// TestLoad: each unusable file is reported as a *FileError naming it.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	caPEM, caKey, err := ca.PEM()
	if err != nil {
		t.Fatal(err)
	}
	n0, n0Key, _ := ca.Issue(pki.NodeIdentity("n0"), nil, now, time.Hour)
	_, n1Key, _ := ca.Issue(pki.NodeIdentity("n1"), nil, now, time.Hour)
	files := map[string]string{
		"ca":      write(t, dir, "ca.pem", caPEM),
		"caKey":   write(t, dir, "ca-key.pem", caKey),
		"n0":      write(t, dir, "n0.pem", n0),
		"n0Key":   write(t, dir, "n0-key.pem", n0Key),
		"n1Key":   write(t, dir, "n1-key.pem", n1Key),
		"text":    write(t, dir, "text.pem", []byte("hello\n")),
		"badCert": write(t, dir, "bad.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
		"missing": filepath.Join(dir, "missing.pem"),
	}
	tests := []struct {
		name            string
		ca, cert, key   string
		badFile, reason string
	}{
		{"good", "ca", "n0", "n0Key", "", ""},
		{"no CA file", "missing", "n0", "n0Key", "missing", "no such file"},
		{"CA not PEM", "text", "n0", "n0Key", "text", "no PEM certificate"},
		{"CA bad DER", "badCert", "n0", "n0Key", "badCert", "PEM block 1"},
		{"no cert file", "ca", "missing", "n0Key", "missing", "no such file"},
		{"no key file", "ca", "n0", "missing", "missing", "no such file"},
		{"key not PEM", "ca", "n0", "text", "text", "no PEM private key"},
		{"a certificate as key", "ca", "n0", "n0", "n0", "no PEM private key"},
		{"another's key", "ca", "n0", "n1Key", "n1Key", "does not match the certificate in " + files["n0"]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := pki.Load(files[tt.ca], files[tt.cert], files[tt.key])
			if tt.badFile == "" {
				if err != nil {
					t.Fatal(err)
				}
				if id, err := pki.IdentityOf(c.Cert.Leaf); err != nil || id != pki.NodeIdentity("n0") {
					t.Errorf("identity %v, %v", id, err)
				}
				return
			}
			var fe *pki.FileError
			if !errors.As(err, &fe) || fe.Path != files[tt.badFile] || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("error %v, want a *FileError on %s with %q", err, files[tt.badFile], tt.reason)
			}
		})
	}
	t.Run("CA", func(t *testing.T) {
		back, err := pki.LoadCA(files["ca"], files["caKey"])
		if err != nil || !back.Cert.Equal(ca.Cert) {
			t.Fatalf("LoadCA: %v", err)
		}
		if _, err := pki.LoadCA(files["n0"], files["n0Key"]); err == nil || !strings.Contains(err.Error(), "not a CA") {
			t.Fatalf("LoadCA of a node certificate: %v", err)
		}
	})
}

// TestConfigs: a client port handshake with ServerConfig and ClientConfig
// succeeds with a client certificate and fails without one.
func TestConfigs(t *testing.T) {
	ca := newCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	srv := pki.ServerConfig(pki.Creds{Cert: issue(t, ca, pki.NodeIdentity("n0"), "127.0.0.1"), Roots: roots})
	for _, tt := range []struct {
		name string
		cert bool
		ok   bool
	}{{"with a client certificate", true, true}, {"without", false, false}} {
		t.Run(tt.name, func(t *testing.T) {
			creds := pki.Creds{Roots: roots}
			if tt.cert {
				creds.Cert = issue(t, ca, pki.ClientIdentity("admin"))
			}
			cli := pki.ClientConfig(creds)
			cli.ServerName = "127.0.0.1"
			sErr, cErr := handshake(t, srv, cli)
			if (sErr == nil) != tt.ok {
				t.Fatalf("server handshake: %v (client: %v)", sErr, cErr)
			}
			if slices.Contains([]uint16{srv.MinVersion, cli.MinVersion}, tls.VersionTLS12) {
				t.Fatal("TLS 1.2 allowed")
			}
		})
	}
}

// handshake runs both ends of a TLS handshake over an in-memory pipe.
func handshake(t *testing.T, srv, cli *tls.Config) (error, error) {
	t.Helper()
	a, b := pipe(t)
	errs := make(chan error, 1)
	go func() {
		s := tls.Server(a, srv)
		s.SetDeadline(time.Now().Add(5 * time.Second))
		err := s.Handshake()
		if err == nil {
			_, err = s.Write([]byte("x")) // TLS 1.3: the client learns of a refusal on its first read
		}
		errs <- err
		s.Close()
	}()
	c := tls.Client(b, cli)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	cErr := c.Handshake()
	if cErr == nil {
		_, cErr = c.Read(make([]byte, 1))
	}
	c.Close()
	return <-errs, cErr
}

// pipe returns the two ends of a loopback TCP connection (net.Pipe has no
// buffering, which a TLS 1.3 handshake's crossing writes need).
func pipe(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.c.Close(); b.Close() })
	return r.c, b
}
