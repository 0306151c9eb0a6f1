package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/client"
	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/config"
	"github.com/rmqlog/rmqlog/internal/poll"
	"github.com/rmqlog/rmqlog/pki"
	"github.com/rmqlog/rmqlog/replication/wire"
)

// tlsCluster is a cluster whose nodes run with TLS on the peer links and
// the client port, with certificates written by `rmqlog certs`.
type tlsCluster struct {
	*cluster
	certs string                   // the certificates' directory
	peers map[string]string        // id -> peer address
	admin *tls.Config              // client admin's TLS configuration
	files func(name string) string // certs/name
}

func newTLSCluster(t *testing.T) *tlsCluster {
	dir := filepath.Join(t.TempDir(), "certs")
	out, code := runCmd(t, "certs", "--dir", dir, "--nodes", "n0,n1,n2", "--clients", "admin")
	if code != 0 {
		t.Fatalf("rmqlog certs: exit %d\n%s", code, out)
	}
	file := func(name string) string { return filepath.Join(dir, name) }
	c := &tlsCluster{certs: dir, files: file, peers: map[string]string{},
		// The broker off: the test counts the log's entries (its raw appends
		// and the CLI's), and a broker adds records of its own (the group's
		// segment size at the first takeover).
		cluster: newCluster(t, map[string]string{"tlsPeerEnable": "true", "tlsClientEnable": "true", "tlsCaFile": file("ca.pem"),
			"rmqlogBrokerEnable": "false"})}
	for _, id := range c.ids {
		c.setKeys(id, map[string]string{"tlsCertFile": file(id + ".pem"), "tlsKeyFile": file(id + "-key.pem")})
		cfg, _, err := config.Load(c.confs[id])
		if err != nil {
			t.Fatal(err)
		}
		c.peers[id] = cfg.Peers[id]
	}
	creds, err := pki.Load(file("ca.pem"), file("admin.pem"), file("admin-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	c.admin = pki.ClientConfig(creds)
	return c
}

// setKeys rewrites keys in node id's configuration file.
func (c *tlsCluster) setKeys(id string, set map[string]string) {
	c.t.Helper()
	text, err := os.ReadFile(c.confs[id])
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(c.confs[id], []byte(rewrite(string(text), set)), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// withTLS is an admin command with the TLS flags for certificate cert
// (flags come before the command's arguments).
func (c *tlsCluster) withTLS(cert, cmd string, args ...string) []string {
	return append([]string{cmd, "--tls-ca", c.files("ca.pem"), "--tls-cert", c.files(cert + ".pem"),
		"--tls-key", c.files(cert + "-key.pem")}, args...)
}

// meta asks node id for its Meta over TLS.
func (c *tlsCluster) meta(id string) (proto.Meta, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, []string{c.clients[id]}, client.WithPinned(), client.WithTLS(c.admin))
	if err != nil {
		return proto.Meta{}, err
	}
	defer cl.Close()
	return cl.Meta(ctx)
}

func (c *tlsCluster) start(id string) {
	c.procs[id] = start(c.t, "serve", "-c", c.confs[id])
	poll.EventuallyNil(c.t, 15*time.Second, "node "+id+" answering over TLS", func() error {
		_, err := c.meta(id)
		return err
	})
}

func (c *tlsCluster) leader() string {
	var lead string
	poll.Eventually(c.t, 15*time.Second, "a writable leader", func() bool {
		for _, id := range c.ids {
			if m, err := c.meta(id); err == nil && m.Writable && c.procs[id] != nil {
				lead = id
				return true
			}
		}
		return false
	})
	return lead
}

// waitLog waits until node id's output has a line with every one of want.
func (c *tlsCluster) waitLog(id string, want ...string) string {
	c.t.Helper()
	var found string
	poll.Eventually(c.t, 10*time.Second, fmt.Sprintf("a log line of %s with %q", id, want), func() bool {
		for _, line := range strings.Split(c.procs[id].output(), "\n") {
			if containsAll(line, want) {
				found = line
				return true
			}
		}
		return false
	})
	return found
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// appendAll appends n messages through a TLS client and reads them back.
func (c *tlsCluster) appendAll(n int, tag string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, c.addrs(), client.WithTLS(c.admin))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	for i := range n {
		p := fmt.Appendf(nil, "%s %d", tag, i)
		idx, err := cl.Append(ctx, p)
		if err != nil {
			c.t.Fatalf("append %q: %v", p, err)
		}
		if got, err := cl.Get(ctx, idx); err != nil || string(got) != string(p) {
			c.t.Fatalf("get %d = %q, %v; want %q", idx, got, err, p)
		}
	}
}

// TestTLSCluster: a group of rmqlog processes with TLS on the peer links
// and the client port, certificates from `rmqlog certs`: it elects a leader
// and takes appends from a TLS client and the admin commands; plain
// connections to either port, a client without a certificate and a node
// posing as another are refused and logged, and the group keeps working.
func TestTLSCluster(t *testing.T) {
	c := newTLSCluster(t)
	for _, id := range c.ids {
		c.start(id)
	}
	lead := c.leader()
	c.appendAll(20, "tls")

	// Steps, not subtests: the cluster's helpers fail the whole test.
	// Admin commands.
	{
		addrs := strings.Join(c.addrs(), ",")
		lead = c.ids[(indexOf(c.ids, lead)+1)%len(c.ids)] // the transfer's target
		for _, tt := range []struct {
			args []string
			want string
		}{
			{c.withTLS("admin", "status", "--addr", addrs), "leader"},
			{c.withTLS("admin", "append", "--addr", addrs, "from the CLI"), "22"},
			{c.withTLS("admin", "get", "--addr", addrs, "22"), "from the CLI"},
			{c.withTLS("n1", "verify", "--addr", addrs), "identical"}, // a node's certificate serves admin commands too
			{c.withTLS("admin", "transfer", "--addr", addrs, "--to", lead), "leadership moved to " + lead},
		} {
			if out, code := runCmd(t, tt.args...); code != 0 || !strings.Contains(out, tt.want) {
				t.Errorf("rmqlog %s: exit %d, want 0 and %q:\n%s", strings.Join(tt.args, " "), code, tt.want, out)
			}
		}
		out, code := runCmd(t, "status", "--addr", c.clients["n0"])
		if code != 1 || !strings.Contains(out, "requires TLS") {
			t.Errorf("status without TLS flags: exit %d, want 1 saying TLS is required:\n%s", code, out)
		}
		out, code = runCmd(t, "status", "--addr", c.clients["n0"], "--tls-cert", c.files("admin.pem"))
		if code != 2 {
			t.Errorf("status with --tls-cert alone: exit %d, want 2:\n%s", code, out)
		}
	}
	// A plain client at a TLS client port is told why and logged.
	{
		nc := dialPlain(t, c.clients["n0"])
		nc.Write(proto.Frame(nil, proto.TypeMeta, 0, 1, nil))
		h, body, err := proto.ReadFrame(bufio.NewReader(nc), make([]byte, proto.HeaderSize), 1<<20)
		if err != nil || h.ID != 0 || h.Code != proto.CodeBadRequest || !strings.Contains(string(body), "tlsClientEnable=true") {
			t.Fatalf("answer %+v %q %v", h, body, err)
		}
		c.waitLog("n0", "level=WARN", "client port: TLS handshake failed", "first record does not look like a TLS handshake")
	}
	// A TLS client without a certificate is refused at once and logged.
	{
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := client.Dial(ctx, []string{c.clients["n1"]}, client.WithTLS(&tls.Config{RootCAs: c.admin.RootCAs}))
		if err == nil || !strings.Contains(err.Error(), "certificate required") {
			t.Fatalf("Dial = %v, want a refusal for the missing certificate", err)
		}
		c.waitLog("n1", "level=WARN", "client port: TLS handshake failed", "certificate")
	}
	// A plain member at a TLS peer port is told why and logged.
	{
		nc := dialPlain(t, c.peers["n2"])
		wire.WriteHello(nc, wire.Hello{Group: "RaftNode00", From: "n0", To: "n2"})
		st, reason, err := wire.ReadAnswer(nc)
		if err != nil || st != wire.StatusMalformed || !strings.Contains(reason, "requires TLS (tlsPeerEnable=true)") {
			t.Fatalf("answer %v %q %v", st, reason, err)
		}
		c.waitLog("n2", "level=WARN", "refused inbound connection", "first record does not look like a TLS handshake")
	}
	// A node with another's certificate.
	{
		// The real n2 started with n1's certificate does not start at all.
		c.procs["n2"].cmd.Process.Signal(syscall.SIGTERM)
		if code := c.procs["n2"].wait(t, 20*time.Second); code != 0 {
			t.Fatalf("n2: exit %d after SIGTERM", code)
		}
		c.procs["n2"] = nil
		c.setKeys("n2", map[string]string{"tlsCertFile": c.files("n1.pem"), "tlsKeyFile": c.files("n1-key.pem")})
		out, code := runCmd(t, "serve", "-c", c.confs["n2"])
		if code != 1 || !containsAll(out, []string{"tlsCertFile", "rmqlog-node:n1's", "dLegerSelfId=n2"}) {
			t.Fatalf("serve as n2 with n1's certificate: exit %d\n%s", code, out)
		}
		// An impostor holding n1's key poses as n2 both ways: it listens on
		// n2's peer address and dials the others claiming to be n2.
		impostor, err := pki.LoadCertificate(c.files("n1.pem"), c.files("n1-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		ln, err := tls.Listen("tcp", c.peers["n2"], pki.ServerConfig(pki.Creds{Cert: impostor, Roots: c.admin.RootCAs}))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				go func() { defer conn.Close(); wire.ReadHello(conn) }()
			}
		}()
		for _, id := range []string{"n0", "n1"} {
			conn, err := tls.Dial("tcp", c.peers[id], &tls.Config{Certificates: []tls.Certificate{impostor}, InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			wire.WriteHello(conn, wire.Hello{Group: "RaftNode00", From: "n2", To: id})
			st, reason, err := wire.ReadAnswer(conn)
			conn.Close()
			if err != nil || st == wire.StatusOK || !strings.Contains(reason, `claims node "n2"`) {
				t.Errorf("impostor to %s: answer %v %q %v", id, st, reason, err)
			}
			line := c.waitLog(id, "level=WARN", "refused inbound connection", `claims node \"n2\"`, "rmqlog-node:n1's")
			if !strings.Contains(line, "addr="+conn.LocalAddr().String()) {
				t.Errorf("%s's refusal does not name the impostor's address %s:\n%s", id, conn.LocalAddr(), line)
			}
		}
		// The leader (n0 or n1 now) dials n2 and finds the impostor.
		c.waitLog(c.leader(), "level=WARN", "TLS with peer failed", "peer=n2", `dialed node \"n2\"`, "rmqlog-node:n1's")
		c.appendAll(20, "without n2")
	}
	for _, id := range []string{"n0", "n1"} {
		select {
		case err := <-c.procs[id].done:
			c.procs[id].done <- err // for the cleanup
			t.Errorf("node %s exited (%v) during the test", id, err)
		default:
		}
	}
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}

// dialPlain opens a plain TCP connection with a deadline.
func dialPlain(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return nc
}
