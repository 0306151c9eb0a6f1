package replication_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/pki"
	"github.com/rmqlog/rmqlog/replication"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// testPKI is a CA and the certificates it issued, by name.
type testPKI struct {
	ca    *pki.CA
	roots *x509.CertPool
	certs map[string]tls.Certificate
}

// newPKI issues a node certificate for each of nodes and a client
// certificate "client:admin".
func newPKI(t testing.TB, nodes ...string) *testPKI {
	t.Helper()
	ca, err := pki.NewCA("test CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{ca: ca, roots: x509.NewCertPool(), certs: map[string]tls.Certificate{}}
	p.roots.AddCert(ca.Cert)
	for _, id := range nodes {
		p.certs[id] = p.issue(t, pki.NodeIdentity(id), "127.0.0.1")
	}
	p.certs["client:admin"] = p.issue(t, pki.ClientIdentity("admin"))
	return p
}

func (p *testPKI) issue(t testing.TB, id pki.Identity, hosts ...string) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := p.ca.Issue(id, hosts, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func (p *testPKI) creds(name string) pki.Creds { return pki.Creds{Cert: p.certs[name], Roots: p.roots} }

// secure makes startNodes' tweak wrap each node's listener in a
// TLSListener with its own certificate.
func secure(t testing.TB, p *testPKI) func(string, *replication.Config) {
	return func(id string, c *replication.Config) {
		sl, err := replication.NewTLSListener(c.Listener, id, p.creds(id))
		if err != nil {
			t.Fatal(err)
		}
		c.Listener = sl
	}
}

// TestTLSExchange: three transports over mutual TLS deliver in every
// direction, and the links are TLS (a plain dialer is answered with the
// reason).
func TestTLSExchange(t *testing.T) {
	ids := []string{"n0", "n1", "n2"}
	p := newPKI(t, ids...)
	nodes := startNodes(t, ids, nil, secure(t, p))
	for _, from := range ids {
		for _, to := range ids {
			if from != to {
				sendUntilReceived(t, nodes[from].tr.Peer(to), nodes[to], 7)
			}
		}
	}
	nodes["n1"].logs.waitLog(t, slog.LevelInfo, "inbound peer connected")
	st, reason := rawHandshake(t, rawDial(t, nodes["n0"].tr), wire.Hello{Group: group, From: "n1", To: "n0"})
	if st != wire.StatusMalformed || !strings.Contains(reason, "requires TLS (tlsPeerEnable=true)") {
		t.Fatalf("plain hello to a TLS peer port: %v %q", st, reason)
	}
	rec := nodes["n0"].logs.waitLog(t, slog.LevelWarn, "refused inbound connection")
	if !strings.Contains(rec.attrs["reason"], "first record does not look like a TLS handshake") {
		t.Errorf("logged %v", rec.attrs)
	}
}

// TestTLSAccept: what the listener does with each kind of dialer. The
// identity and group refusals are answered in the handshake and logged
// once, with the dialer's address and the reason.
func TestTLSAccept(t *testing.T) {
	p := newPKI(t, "n0", "n1", "n2")
	other := newPKI(t, "n1")
	tests := []struct {
		name      string
		roots     *x509.CertPool // the dialer's trust; nil = the group's CA
		cert      *tls.Certificate
		hello     wire.Hello
		want      wire.Status // for a completed TLS handshake
		tlsFails  bool        // the listener refuses in the TLS handshake
		logReason []string    // in the listener's "refused inbound connection" line
	}{
		{name: "member", cert: ptr(p.certs["n1"]), hello: wire.Hello{Group: group, From: "n1", To: "n0"}, want: wire.StatusOK},
		{name: "n1's certificate claiming n2", cert: ptr(p.certs["n1"]), hello: wire.Hello{Group: group, From: "n2", To: "n0"},
			want: wire.StatusMalformed, logReason: []string{`claims node "n2"`, "rmqlog-node:n1"}},
		{name: "a client's certificate", cert: ptr(p.certs["client:admin"]), hello: wire.Hello{Group: group, From: "n1", To: "n0"},
			want: wire.StatusMalformed, logReason: []string{`claims node "n1"`, "rmqlog-client:admin"}},
		{name: "wrong group", cert: ptr(p.certs["n1"]), hello: wire.Hello{Group: "other", From: "n1", To: "n0"},
			want: wire.StatusWrongGroup, logReason: []string{`group "other"`, `serves group "dLegerGroup"`}},
		{name: "another CA's certificate", roots: other.roots, cert: ptr(other.certs["n1"]), hello: wire.Hello{Group: group, From: "n1", To: "n0"},
			tlsFails: true, logReason: []string{"TLS handshake", "certificate"}},
		{name: "no certificate", hello: wire.Hello{Group: group, From: "n1", To: "n0"},
			tlsFails: true, logReason: []string{"TLS handshake", "certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := startNodes(t, []string{"n0"}, map[string]string{"n1": deadAddr(t), "n2": deadAddr(t)}, secure(t, p))["n0"]
			cfg := &tls.Config{RootCAs: p.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13}
			if tt.roots != nil {
				cfg.RootCAs = tt.roots
				cfg.InsecureSkipVerify = true // the dialer's own check is not what is tested
			}
			if tt.cert != nil {
				cfg.Certificates = []tls.Certificate{*tt.cert}
			}
			c := tls.Client(rawDial(t, n.tr), cfg)
			c.SetDeadline(time.Now().Add(waitFor))
			err := wire.WriteHello(c, tt.hello)
			var st wire.Status
			var reason string
			if err == nil {
				st, reason, err = wire.ReadAnswer(c)
			}
			switch {
			case tt.tlsFails && err == nil:
				t.Fatalf("answered %v %q, want the TLS handshake refused", st, reason)
			case !tt.tlsFails && (err != nil || st != tt.want):
				t.Fatalf("answer %v %q, %v; want %v", st, reason, err, tt.want)
			}
			if tt.logReason == nil {
				return
			}
			rec := n.logs.waitLog(t, slog.LevelWarn, "refused inbound connection")
			if rec.attrs["addr"] != c.LocalAddr().String() {
				t.Errorf("logged addr %q, want the dialer's %s", rec.attrs["addr"], c.LocalAddr())
			}
			for _, w := range tt.logReason {
				if !strings.Contains(rec.attrs["reason"], w) {
					t.Errorf("logged reason %q lacks %q", rec.attrs["reason"], w)
				}
			}
			if n := len(n.logs.find(slog.LevelWarn, "refused")); n != 1 {
				t.Errorf("%d refusal lines, want 1", n)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestTLSDial: the dialer accepts only a listener whose certificate chains
// to the CA and names the member dialed, and says why in a Warn line.
func TestTLSDial(t *testing.T) {
	p := newPKI(t, "n0", "n1", "n2")
	other := newPKI(t, "n1")
	tests := []struct {
		name  string
		serve func(ln net.Listener) net.Listener // the listener at n1's address
		want  error
		why   string
	}{
		{"n1", func(ln net.Listener) net.Listener { return tls.NewListener(ln, pki.ServerConfig(p.creds("n1"))) }, nil, ""},
		{"n2's certificate at n1's address", func(ln net.Listener) net.Listener {
			return tls.NewListener(ln, pki.ServerConfig(p.creds("n2")))
		}, replication.ErrIdentity, `dialed node "n1", but the certificate presented is rmqlog-node:n2's`},
		{"another CA", func(ln net.Listener) net.Listener {
			return tls.NewListener(ln, pki.ServerConfig(pki.Creds{Cert: other.certs["n1"], Roots: p.roots}))
		}, replication.ErrUnreachable, "certificate signed by unknown authority"},
		{"a client's certificate", func(ln net.Listener) net.Listener {
			return tls.NewListener(ln, pki.ServerConfig(p.creds("client:admin")))
		}, replication.ErrUnreachable, "incompatible key usage"},
		{"no TLS", func(ln net.Listener) net.Listener { return ln }, replication.ErrUnreachable, "does not look like a TLS handshake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := tt.serve(listen(t))
			t.Cleanup(func() { fake.Close() })
			go answerHellos(fake)
			n := startNodes(t, []string{"n0"}, map[string]string{"n1": fake.Addr().String(), "n2": deadAddr(t)}, secure(t, p))["n0"]
			err := n.tr.Peer("n1").Send(&wire.Msg{Type: wire.TypeHeartbeat, Term: 1}, nil)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Send = %v", err)
				}
				if recs := n.logs.find(slog.LevelWarn, "TLS"); len(recs) > 0 {
					t.Errorf("warned: %v", recs[0].attrs)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("Send = %v, want %v with %q", err, tt.want, tt.why)
			}
			rec := n.logs.waitLog(t, slog.LevelWarn, "replication: TLS with peer failed")
			if rec.attrs["peer"] != "n1" || !strings.Contains(rec.attrs["reason"], tt.why) {
				t.Errorf("logged %v", rec.attrs)
			}
		})
	}
}

// answerHellos serves ln as a listener of the plain handshake would: it
// answers each hello (StatusOK, or StatusMalformed for bytes that are not
// one) and then reads until the dialer leaves.
func answerHellos(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(waitFor))
			if _, err := wire.ReadHello(c); err != nil {
				wire.WriteAnswer(c, wire.StatusMalformed, "bad hello")
				return
			}
			wire.WriteAnswer(c, wire.StatusOK, "")
			io.Copy(io.Discard, c)
		}()
	}
}

// TestTLSMixed: a member without TLS dialing a member with it is refused
// with the reason, and logs it.
func TestTLSMixed(t *testing.T) {
	p := newPKI(t, "n0", "n1")
	nodes := startNodes(t, []string{"n0", "n1"}, nil, func(id string, c *replication.Config) {
		if id == "n0" {
			secure(t, p)(id, c)
		}
	})
	err := nodes["n1"].tr.Peer("n0").Send(&wire.Msg{Type: wire.TypeHeartbeat, Term: 1}, nil)
	if !errors.Is(err, replication.ErrRefused) || !strings.Contains(err.Error(), "requires TLS") {
		t.Fatalf("plain member to TLS member: Send = %v, want ErrRefused saying TLS is required", err)
	}
	rec := nodes["n1"].logs.waitLog(t, slog.LevelWarn, "peer refused the connection")
	if !strings.Contains(rec.attrs["reason"], "tlsPeerEnable") {
		t.Errorf("logged %v", rec.attrs)
	}
	err = nodes["n0"].tr.Peer("n1").Send(&wire.Msg{Type: wire.TypeHeartbeat, Term: 1}, nil)
	if !errors.Is(err, replication.ErrUnreachable) || !strings.Contains(err.Error(), "does not look like a TLS handshake") {
		t.Fatalf("TLS member to plain member: Send = %v", err)
	}
}

// TestTLSConfigErrors: a listener for the wrong certificate, and a
// transport that cannot tell its members apart by address.
func TestTLSConfigErrors(t *testing.T) {
	p := newPKI(t, "n0", "n1")
	two := map[string]string{"n0": "", "n1": "127.0.0.1:1"}
	tests := []struct {
		name  string
		creds pki.Creds // of n0's listener
		self  string    // the transport's Self
		peers map[string]string
		want  string
	}{
		{"another node's certificate", p.creds("n1"), "n0", two, `must be node "n0"'s (rmqlog-node:n0): it is rmqlog-node:n1's`},
		{"a client's certificate", p.creds("client:admin"), "n0", two, "it is rmqlog-client:admin's"},
		{"no CA", pki.Creds{Cert: p.certs["n0"]}, "n0", two, "no CA"},
		{"no certificate", pki.Creds{Roots: p.roots}, "n0", two, "no certificate"},
		{"Self differs", p.creds("n0"), "n1", map[string]string{"n1": "", "n0": "127.0.0.1:1"}, `listener is node "n0"'s, but Self is "n1"`},
		{"shared address", p.creds("n0"), "n0", map[string]string{"n0": "", "n1": "127.0.0.1:1", "n2": "127.0.0.1:1"}, "share the address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := listen(t)
			defer ln.Close()
			sl, err := replication.NewTLSListener(ln, "n0", tt.creds)
			if err == nil {
				_, err = replication.New(replication.Config{Group: group, Self: tt.self, Peers: tt.peers, Listener: sl}, func(*wire.Msg) {})
			}
			if !errors.Is(err, replication.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrConfig with %q", err, tt.want)
			}
		})
	}
}
