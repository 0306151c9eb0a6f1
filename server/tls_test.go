package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/internal/testlog"
	"github.com/rmqlog/rmqlog/pki"
)

// certs is a test CA and certificates it issued, by name ("n0", ...,
// "client:admin").
type certs struct {
	roots *x509.CertPool
	m     map[string]tls.Certificate
}

func newCerts(t *testing.T, names ...string) *certs {
	t.Helper()
	ca, err := pki.NewCA("test CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := &certs{roots: x509.NewCertPool(), m: map[string]tls.Certificate{}}
	c.roots.AddCert(ca.Cert)
	for _, name := range names {
		id, hosts := pki.NodeIdentity(name), []string{"127.0.0.1"}
		if n, ok := strings.CutPrefix(name, "client:"); ok {
			id, hosts = pki.ClientIdentity(n), nil
		}
		certPEM, keyPEM, err := ca.Issue(id, hosts, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if c.m[name], err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *certs) creds(name string) *pki.Creds { return &pki.Creds{Cert: c.m[name], Roots: c.roots} }

// logBuf collects a server's log lines.
type logBuf struct{ testlog.Buffer }

// waitLine waits until a log line contains every one of want.
func (l *logBuf) waitLine(t *testing.T, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hasLine := func() bool {
		return slices.ContainsFunc(strings.Split(l.String(), "\n"), func(line string) bool { return containsAll(line, want) })
	}
	if poll.Until(ctx, hasLine) != nil {
		t.Fatalf("no log line with %q within 10s:\n%s", want, l.String())
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// tlsGroup starts n servers with TLS on the peer links and the client
// port; logs[id] collects each one's log.
func tlsGroup(t *testing.T, n int, c *certs) (*group, map[string]*logBuf) {
	logs := map[string]*logBuf{}
	var mu sync.Mutex
	g := startGroup(t, n, func(cfg *Config) {
		id := cfg.Engine.ID
		lb := &logBuf{}
		mu.Lock()
		logs[id] = lb
		mu.Unlock()
		cfg.Logger = slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg.PeerTLS, cfg.ClientTLS = c.creds(id), c.creds(id)
	})
	return g, logs
}

// dialTLS is dialRaw over TLS with certificate name ("" for none).
func dialTLS(t *testing.T, s *Server, c *certs, name string) (*rawConn, error) {
	t.Helper()
	cfg := pki.ClientConfig(pki.Creds{Roots: c.roots})
	if name != "" {
		cfg.Certificates = []tls.Certificate{c.m[name]}
	}
	d := tls.Dialer{Config: cfg}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := d.DialContext(ctx, "tcp", s.Addr().String())
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}, nil
}

// TestTLSGroup: a group elects a leader over TLS peer links and takes an
// append over a TLS client connection, from a client certificate and from
// a node's own certificate (what admin commands run on a node use).
func TestTLSGroup(t *testing.T) {
	c := newCerts(t, "n0", "n1", "n2", "client:admin")
	g, logs := tlsGroup(t, 3, c)
	l := g.leader()
	for _, name := range []string{"client:admin", "n1"} {
		rc, err := dialTLS(t, l, c, name)
		if err != nil {
			t.Fatal(err)
		}
		if code, b := rc.call(proto.TypeAppend, proto.AppendRequest(nil, [][]byte{[]byte("over TLS")})); code != proto.CodeOK {
			t.Fatalf("append with %s's certificate: %v %s", name, code, b)
		}
	}
	logs[l.Node().Status().ID].waitLine(t, "TLS client connected", "rmqlog-client:admin")
	for id, lb := range logs {
		if strings.Contains(lb.String(), "refused") {
			t.Errorf("%s refused a connection:\n%s", id, lb)
		}
	}
}

// TestTLSClientRefusals: a client without TLS, without a certificate or
// with one of another CA is refused and logged; the node keeps serving.
func TestTLSClientRefusals(t *testing.T) {
	c := newCerts(t, "n0", "client:admin")
	other := newCerts(t, "client:admin")
	g, logs := tlsGroup(t, 1, c)
	s := g.leader()
	tests := []struct {
		name string
		dial func() (*rawConn, error)
		log  string
	}{
		{"no certificate", func() (*rawConn, error) { return dialTLS(t, s, c, "") }, "certificate"},
		{"another CA", func() (*rawConn, error) {
			return dialTLS(t, s, &certs{roots: c.roots, m: other.m}, "client:admin")
		}, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := tt.dial()
			if err == nil {
				// TLS 1.3: the client learns of the refusal on its first read.
				rc.send(proto.TypeMeta, nil)
				_, _, err = rc.recv()
			}
			if err == nil {
				t.Fatal("the connection was served")
			}
			logs["n0"].waitLine(t, "level=WARN", "TLS handshake failed", tt.log)
		})
	}
	t.Run("no TLS", func(t *testing.T) {
		rc := dialRaw(t, s)
		rc.send(proto.TypeMeta, nil)
		h, b, err := rc.recv()
		if err != nil || h.ID != 0 || h.Code != proto.CodeBadRequest || !strings.Contains(errMsg(t, b).Message, "tlsClientEnable=true") {
			t.Fatalf("answer %+v %v", h, err)
		}
		logs["n0"].waitLine(t, "level=WARN", "TLS handshake failed", "first record does not look like a TLS handshake")
	})
	rc, err := dialTLS(t, s, c, "client:admin")
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := rc.call(proto.TypeMeta, nil); code != proto.CodeOK {
		t.Fatalf("after the refusals: %v", code)
	}
}

// TestTLSCloseDuringHandshake: a client that never finishes its handshake
// does not hold up Close.
func TestTLSCloseDuringHandshake(t *testing.T) {
	c := newCerts(t, "n0")
	g, _ := tlsGroup(t, 1, c)
	s := g.leader()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitHandshaking(t, s, 1)
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for a client's TLS handshake")
	}
}

func waitHandshaking(t *testing.T, s *Server, n int) {
	t.Helper()
	poll.EventuallyNil(t, 5*time.Second, fmt.Sprintf("%d connections in their handshake", n), func() error {
		s.mu.Lock()
		got := len(s.handshaking)
		s.mu.Unlock()
		if got != n {
			return fmt.Errorf("%d in their handshake", got)
		}
		return nil
	})
}

// TestPeerTLSWrongCertificate: a node given another node's certificate
// does not start, and says which.
func TestPeerTLSWrongCertificate(t *testing.T) {
	c := newCerts(t, "n0", "n1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cfg := Config{ClientListener: cl, Logger: testLogger(), PeerTLS: c.creds("n1")}
	cfg.Engine.Group, cfg.Engine.ID, cfg.Engine.Dir = "g", "n0", t.TempDir()
	cfg.Engine.Peers, cfg.Engine.Listener = map[string]string{"n0": ln.Addr().String()}, ln
	_, err = Start(cfg)
	if err == nil || !containsAll(err.Error(), []string{"tlsCertFile", `must be node "n0"'s`, "rmqlog-node:n1's"}) {
		t.Fatalf("Start = %v", err)
	}
}

// TestTLSHandshakesCount: connections stalled in their TLS handshake count
// against clientMaxConnections, so they cannot pile up without bound.
func TestTLSHandshakesCount(t *testing.T) {
	c := newCerts(t, "n0", "client:admin")
	g, logs := tlsGroup(t, 1, c)
	s := g.leader()
	s.mu.Lock()
	s.cfg.MaxConnections = 2 // read under mu
	s.mu.Unlock()
	for range 2 {
		nc, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
	}
	waitHandshaking(t, s, 2)
	if _, err := dialTLS(t, s, c, "client:admin"); err == nil {
		t.Fatal("a third connection was served")
	}
	logs["n0"].waitLine(t, "level=WARN", "too many connections", "handshaking=2")
}
