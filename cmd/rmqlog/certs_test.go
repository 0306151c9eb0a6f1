package main

import (
	"bytes"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/config"
	"github.com/rmqlog/rmqlog/pki"
)

// TestCerts: what rmqlog certs writes, and that the chains verify and
// carry the identities the nodes check.
func TestCerts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	out, code := runCmd(t, "certs", "--dir", dir, "--nodes", "n0,n1", "--clients", "admin", "--hosts", "10.1.2.3,db.example", "--days", "30")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, w := range []string{"tlsPeerEnable=true", "tlsClientEnable=true", "tlsCaFile=" + filepath.Join(dir, "ca.pem"),
		"tlsCertFile=" + filepath.Join(dir, "n1.pem"), "tlsKeyFile=" + filepath.Join(dir, "n1-key.pem"), "--tls-cert " + filepath.Join(dir, "admin.pem")} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	modes := map[string]os.FileMode{"ca.pem": 0o644, "ca-key.pem": 0o600, "n0.pem": 0o644, "n0-key.pem": 0o600,
		"n1.pem": 0o644, "n1-key.pem": 0o600, "admin.pem": 0o644, "admin-key.pem": 0o600}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != len(modes) {
		t.Fatalf("%d files (%v), want %d", len(entries), err, len(modes))
	}
	for name, mode := range modes {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, want mode %v", name, err, mode)
		}
	}
	roots, err := pki.LoadRoots(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   pki.Identity
		use  x509.ExtKeyUsage
		host string
	}{
		{"n0", pki.NodeIdentity("n0"), x509.ExtKeyUsageServerAuth, "10.1.2.3"},
		{"n1", pki.NodeIdentity("n1"), x509.ExtKeyUsageClientAuth, "db.example"},
		{"admin", pki.ClientIdentity("admin"), x509.ExtKeyUsageClientAuth, ""},
	}
	for _, tt := range tests {
		cert, err := pki.LoadCertificate(filepath.Join(dir, tt.name+".pem"), filepath.Join(dir, tt.name+"-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		leaf := cert.Leaf
		if id, err := pki.IdentityOf(leaf); err != nil || id != tt.id {
			t.Errorf("%s: identity %v, %v", tt.name, id, err)
		}
		if err := pki.VerifyChain([]*x509.Certificate{leaf}, roots, time.Now(), tt.use); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if tt.host != "" {
			for _, h := range []string{tt.host, "127.0.0.1", "localhost"} {
				if err := leaf.VerifyHostname(h); err != nil {
					t.Errorf("%s: %v", tt.name, err)
				}
			}
		}
		if left := time.Until(leaf.NotAfter); left < 29*24*time.Hour || left > 30*24*time.Hour {
			t.Errorf("%s: valid for %v, want 30 days", tt.name, left)
		}
	}
}

// TestCertsFiles: existing files are not overwritten without --force;
// --use-ca issues with the CA already there.
func TestCertsFiles(t *testing.T) {
	dir := t.TempDir()
	if out, code := runCmd(t, "certs", "--dir", dir, "--nodes", "n0"); code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	caBefore := read(t, filepath.Join(dir, "ca.pem"))
	n0Before := read(t, filepath.Join(dir, "n0.pem"))
	steps := []struct {
		args       []string
		code       int
		want       string
		caSame, n0 bool // ca.pem unchanged; n0.pem unchanged
	}{
		{[]string{"--nodes", "n0"}, 1, "not overwriting " + filepath.Join(dir, "ca.pem"), true, true},
		{[]string{"--nodes", "n1", "--use-ca"}, 0, "n1.pem", true, true},
		{[]string{"--nodes", "n1", "--use-ca"}, 1, "not overwriting " + filepath.Join(dir, "n1.pem"), true, true},
		{[]string{"--nodes", "n0", "--use-ca", "--force"}, 0, "n0.pem", true, false},
		{[]string{"--nodes", "n0", "--force"}, 0, "ca.pem", false, false},
	}
	for _, s := range steps {
		out, code := runCmd(t, append([]string{"certs", "--dir", dir}, s.args...)...)
		if code != s.code || !strings.Contains(out, s.want) {
			t.Fatalf("certs %v: exit %d, want %d and %q:\n%s", s.args, code, s.code, s.want, out)
		}
		if ca := read(t, filepath.Join(dir, "ca.pem")); bytes.Equal(ca, caBefore) != s.caSame {
			t.Errorf("certs %v: ca.pem unchanged = %v, want %v", s.args, !s.caSame, s.caSame)
		}
		if n0 := read(t, filepath.Join(dir, "n0.pem")); bytes.Equal(n0, n0Before) != s.n0 {
			t.Errorf("certs %v: n0.pem unchanged = %v, want %v", s.args, !s.n0, s.n0)
		}
		caBefore, n0Before = read(t, filepath.Join(dir, "ca.pem")), read(t, filepath.Join(dir, "n0.pem"))
	}
	if _, err := pki.Load(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "n0.pem"), filepath.Join(dir, "n0-key.pem")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "n0-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("n0-key.pem after --force: %v %v", fi.Mode(), err)
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCertsUsage: usage errors exit 2 and say what to give.
func TestCertsUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--nodes", "n0"}, "--dir is required"},
		{[]string{"--dir", dir}, "give --nodes"},
		{[]string{"--dir", dir, "--nodes", "n-0"}, `--nodes: name "n-0": allowed 1 to 64 characters of A-Z a-z 0-9 _ .`},
		{[]string{"--dir", dir, "--nodes", "n0,n0"}, `"n0" is named twice`},
		{[]string{"--dir", dir, "--nodes", "n0", "--clients", "n0"}, `"n0" is named twice (in --nodes and --clients)`},
		{[]string{"--dir", dir, "--clients", "ca"}, "the name ca is the CA's"},
		{[]string{"--dir", dir, "--nodes", "n0", "--hosts", "a b"}, `--hosts: "a b" is neither`},
		{[]string{"--dir", dir, "--nodes", "n0", "--days", "0"}, "--days 0: allowed 1 to 36500"},
		{[]string{"--dir", dir, "--nodes", "n0", "extra"}, `unexpected argument "extra"`},
		{[]string{"--dir", dir, "--bogus"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		out, code := runCmd(t, append([]string{"certs"}, tt.args...)...)
		if code != 2 || !strings.Contains(out, tt.want) {
			t.Errorf("certs %v: exit %d, want 2 and %q:\n%s", tt.args, code, tt.want, out)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("usage errors wrote %d files", len(entries))
	}
	if out, code := runCmd(t, "certs", "--dir", dir, "--nodes", "n0", "--use-ca"); code != 1 || !strings.Contains(out, "--use-ca") ||
		!strings.Contains(out, filepath.Join(dir, "ca.pem")) {
		t.Errorf("--use-ca without a CA: exit %d\n%s", code, out)
	}
}

// TestPlaintextWarning: a node whose peer or client port is reachable from
// other machines without TLS logs, at start, a WARN that says so and
// names the keys that turn TLS on. (Parsed, not started: tests do not
// listen beyond 127.0.0.1.)
func TestPlaintextWarning(t *testing.T) {
	const file = "dLegerGroup=g\ndLegerSelfId=n0\ndLegerPeers=n0-%s:40911;n1-%s:40912;n2-%s:40913\nlistenPort=30911\n"
	tests := []struct {
		name  string
		host  string
		extra string
		want  []string // lines expected, each as parts
	}{
		{"loopback", "127.0.0.1", "", nil},
		{"every interface", "127.0.0.1", "brokerIP1=0.0.0.0", []string{"CLIENT TRAFFIC IS UNAUTHENTICATED AND UNENCRYPTED", "tlsClientEnable=true"}},
		{"other machines", "10.0.0.7", "", []string{"PEER TRAFFIC IS UNAUTHENTICATED AND UNENCRYPTED", "tlsPeerEnable=true",
			"CLIENT TRAFFIC IS UNAUTHENTICATED AND UNENCRYPTED", "tlsCaFile, tlsCertFile and tlsKeyFile"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.ReplaceAll(file, "%s", tt.host) + tt.extra
			cfg, warns, err := config.Parse("n0.conf", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			logConfig(slog.New(slog.NewTextHandler(&buf, nil)), cfg, warns)
			var got []string
			for _, line := range strings.Split(buf.String(), "\n") {
				if strings.Contains(line, "level=WARN") && strings.Contains(line, "UNENCRYPTED") {
					got = append(got, line)
				}
			}
			all := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("WARN lines lack %q:\n%s", w, buf.String())
				}
			}
			if tt.want == nil && len(got) > 0 {
				t.Errorf("warned on loopback:\n%s", all)
			}
		})
	}
}
