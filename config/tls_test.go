package config_test

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rmqlog/rmqlog/config"
	"github.com/rmqlog/rmqlog/pki"
)

// pkiFiles writes a CA, another CA and certificates to a temporary
// directory and returns their paths by name: ca, other-ca, and for each
// certificate X, X (the certificate) and X-key.
func pkiFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{}
	put := func(name string, data []byte, mode os.FileMode) {
		files[name] = filepath.Join(dir, name+".pem")
		if err := os.WriteFile(files[name], data, mode); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	newCA := func(name string) *pki.CA {
		ca, err := pki.NewCA(name, now.Add(-72*time.Hour), 365*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		certPEM, _, err := ca.PEM()
		if err != nil {
			t.Fatal(err)
		}
		put(name, certPEM, 0o644)
		return ca
	}
	ca, other := newCA("ca"), newCA("other-ca")
	issue := func(name string, by *pki.CA, id pki.Identity, from time.Time, validity time.Duration) {
		certPEM, keyPEM, err := by.Issue(id, nil, from, validity)
		if err != nil {
			t.Fatal(err)
		}
		put(name, certPEM, 0o644)
		put(name+"-key", keyPEM, 0o600)
	}
	year := 365 * 24 * time.Hour
	issue("n0", ca, pki.NodeIdentity("n0"), now, year)
	issue("n1", ca, pki.NodeIdentity("n1"), now, year)
	issue("admin", ca, pki.ClientIdentity("admin"), now, year)
	issue("other-n0", other, pki.NodeIdentity("n0"), now, year)
	issue("other-admin", other, pki.ClientIdentity("admin"), now, year)
	issue("expired-n0", ca, pki.NodeIdentity("n0"), now.Add(-48*time.Hour), 24*time.Hour)
	issue("soon-n0", ca, pki.NodeIdentity("n0"), now, 10*24*time.Hour)
	put("text", []byte("not a certificate\n"), 0o644)
	put("open-key", mustRead(t, files["n0-key"]), 0o644)
	files["missing"] = filepath.Join(dir, "missing.pem")
	return files
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tlsKeys writes the TLS lines of a file: on is "peer", "client" or
// "both"; ca, cert and key name files of pkiFiles ("" leaves the key out).
func tlsKeys(files map[string]string, on, ca, cert, key string) string {
	var b strings.Builder
	b.WriteString("tlsPeerEnable=" + map[bool]string{true: "true", false: "false"}[on == "peer" || on == "both"] + "\n")
	b.WriteString("tlsClientEnable=" + map[bool]string{true: "true", false: "false"}[on == "client" || on == "both"] + "\n")
	for k, name := range map[string]string{"tlsCaFile": ca, "tlsCertFile": cert, "tlsKeyFile": key} {
		if name != "" {
			b.WriteString(k + "=" + files[name] + "\n")
		}
	}
	return b.String()
}

// TestTLS: the Config a good set of files gives.
func TestTLS(t *testing.T) {
	files := pkiFiles(t)
	tests := []struct {
		name          string
		extra         string
		peer, client  bool
		clientTrusts  string // a client certificate ClientTLS must accept
		clientRefuses string // one it must not
		clientCAShown string
	}{
		{"peer links", tlsKeys(files, "peer", "ca", "n0", "n0-key"), true, false, "", "", ""},
		{"client port", tlsKeys(files, "client", "ca", "n0", "n0-key"), false, true, "admin", "other-admin", files["ca"]},
		{"both, clients of another CA", tlsKeys(files, "both", "ca", "n0", "n0-key") + "tlsClientCaFile=" + files["other-ca"],
			true, true, "other-admin", "admin", files["other-ca"]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, warns, err := config.Parse("t.conf", []byte(minimal+tt.extra))
			if err != nil {
				t.Fatal(err)
			}
			if len(warns) != 0 {
				t.Errorf("warnings: %v", warns)
			}
			if (c.PeerTLS != nil) != tt.peer || (c.ClientTLS != nil) != tt.client {
				t.Fatalf("PeerTLS %v, ClientTLS %v", c.PeerTLS != nil, c.ClientTLS != nil)
			}
			for _, cr := range []*pki.Creds{c.PeerTLS, c.ClientTLS} {
				if cr == nil {
					continue
				}
				if id, err := pki.IdentityOf(cr.Cert.Leaf); err != nil || id != pki.NodeIdentity("n0") {
					t.Errorf("identity %v, %v", id, err)
				}
			}
			if !tt.client {
				return
			}
			check(t, "TLSClientCAFile", c.TLSClientCAFile, tt.clientCAShown)
			for name, ok := range map[string]bool{tt.clientTrusts: true, tt.clientRefuses: false} {
				cert, err := pki.LoadCertificate(files[name], files[name+"-key"])
				if err != nil {
					t.Fatal(err)
				}
				err = pki.VerifyChain([]*x509.Certificate{cert.Leaf}, c.ClientTLS.Roots, time.Now(), x509.ExtKeyUsageClientAuth)
				if (err == nil) != ok {
					t.Errorf("client certificate %s: verify = %v, want ok=%v", name, err, ok)
				}
			}
		})
	}
}

// TestTLSErrors: each unusable setting is an *Error on the key at fault,
// naming its file and what to do.
func TestTLSErrors(t *testing.T) {
	f := pkiFiles(t)
	tests := []struct {
		name  string
		extra string
		line  int
		key   string
		want  []string
	}{
		{"no CA", tlsKeys(f, "peer", "", "n0", "n0-key"), 0, "tlsCaFile", []string{"tlsPeerEnable=true (line 4) needs it", "rmqlog certs writes ca.pem"}},
		{"no certificate", tlsKeys(f, "client", "ca", "", "n0-key"), 0, "tlsCertFile", []string{"tlsClientEnable=true (line 5) needs it"}},
		{"no key", tlsKeys(f, "both", "ca", "n0", ""), 0, "tlsKeyFile", []string{"tlsPeerEnable=true (line 4) and tlsClientEnable=true (line 5) needs it"}},
		{"CA file missing", tlsKeys(f, "peer", "missing", "n0", "n0-key"), 6, "tlsCaFile", []string{"cannot read it", f["missing"], "no such file"}},
		{"CA not PEM", tlsKeys(f, "peer", "text", "n0", "n0-key"), 6, "tlsCaFile", []string{"no PEM certificate"}},
		{"certificate missing", tlsKeys(f, "peer", "ca", "missing", "n0-key"), 7, "tlsCertFile", []string{"cannot read it", "no such file"}},
		{"certificate not PEM", tlsKeys(f, "peer", "ca", "text", "n0-key"), 7, "tlsCertFile", []string{"no PEM certificate"}},
		{"key missing", tlsKeys(f, "peer", "ca", "n0", "missing"), 8, "tlsKeyFile", []string{"cannot read it", "no such file"}},
		{"key not PEM", tlsKeys(f, "peer", "ca", "n0", "text"), 8, "tlsKeyFile", []string{"no PEM private key"}},
		{"another certificate's key", tlsKeys(f, "peer", "ca", "n0", "n1-key"), 8, "tlsKeyFile",
			[]string{"does not match the certificate in " + f["n0"] + " (tlsCertFile)"}},
		{"another CA's certificate", tlsKeys(f, "peer", "ca", "other-n0", "other-n0-key"), 7, "tlsCertFile",
			[]string{"not valid as this node's certificate against tlsCaFile (" + f["ca"] + ")", "unknown authority", "rmqlog certs --use-ca --nodes n0"}},
		{"another node's certificate", tlsKeys(f, "peer", "ca", "n1", "n1-key"), 7, "tlsCertFile",
			[]string{"the certificate is rmqlog-node:n1's, but this node is dLegerSelfId=n0 (line 3): use the certificate issued for n0"}},
		{"another node's certificate on the client port", tlsKeys(f, "client", "ca", "n1", "n1-key"), 7, "tlsCertFile", []string{"rmqlog-node:n1's"}},
		{"a client's certificate", tlsKeys(f, "peer", "ca", "admin", "admin-key"), 7, "tlsCertFile", []string{"incompatible key usage"}},
		{"expired", tlsKeys(f, "peer", "ca", "expired-n0", "expired-n0-key"), 7, "tlsCertFile", []string{"expired"}},
		{"client CA not PEM", tlsKeys(f, "client", "ca", "n0", "n0-key") + "tlsClientCaFile=" + f["text"], 9, "tlsClientCaFile", []string{"no PEM certificate", "clients' certificates"}},
		{"switch", "tlsPeerEnable=yes", 4, "tlsPeerEnable", []string{"allowed true or false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Keys of a map come out in any order: sort them into fixed lines.
			file := minimal + sortTLSLines(tt.extra)
			_, _, err := config.Parse("t.conf", []byte(file))
			var e *config.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if e.Line != tt.line || e.Key != tt.key {
				t.Errorf("line %d key %q, want line %d key %q: %v", e.Line, e.Key, tt.line, tt.key, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v\nlacks %q", err, w)
				}
			}
		})
	}
}

// sortTLSLines puts the lines of tlsKeys in a fixed order: the switches,
// then tlsCaFile, tlsCertFile, tlsKeyFile and anything else.
func sortTLSLines(s string) string {
	order := []string{"tlsPeerEnable", "tlsClientEnable", "tlsCaFile", "tlsCertFile", "tlsKeyFile", "tlsClientCaFile"}
	var out []string
	for _, k := range order {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, k+"=") {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// TestTLSWarnings: settings that work but deserve a look.
func TestTLSWarnings(t *testing.T) {
	f := pkiFiles(t)
	peers := "dLegerGroup=g\ndLegerSelfId=n0\ndLegerPeers=n0-%s:40911;n1-%s:40912;n2-%s:40913\n"
	group := func(host string) string { return strings.ReplaceAll(peers, "%s", host) }
	tests := []struct {
		name string
		file string
		want []string // key: start of the message
	}{
		{"files without TLS", minimal + "tlsCaFile=" + f["ca"] + "\ntlsKeyFile=" + f["n0-key"],
			[]string{"tlsCaFile: ignored: tlsPeerEnable and tlsClientEnable are false", "tlsKeyFile: ignored"}},
		{"client CA without client TLS", minimal + sortTLSLines(tlsKeys(f, "peer", "ca", "n0", "n0-key")+"tlsClientCaFile="+f["ca"]),
			[]string{"tlsClientCaFile: ignored: tlsClientEnable is false"}},
		{"readable key", minimal + sortTLSLines(tlsKeys(f, "peer", "ca", "n0", "open-key")),
			[]string{"tlsKeyFile: " + f["open-key"] + " is readable by others (mode -rw-r--r--): chmod 600 it"}},
		{"expiring", minimal + sortTLSLines(tlsKeys(f, "peer", "ca", "soon-n0", "soon-n0-key")),
			[]string{"tlsCertFile: the certificate expires on"}},
		{"loopback", group("127.0.0.1"), nil},
		{"localhost and ::1", strings.Replace(group("localhost"), "n2-localhost", "n2-[::1]", 1), nil},
		{"remote peers", group("10.0.0.1") + "brokerIP1=127.0.0.1", []string{
			"dLegerPeers: PEER TRAFFIC IS UNAUTHENTICATED AND UNENCRYPTED: member n0's address 10.0.0.1:40911 is not a loopback address"}},
		{"one remote peer", strings.Replace(group("127.0.0.1"), "n2-127.0.0.1", "n2-db2.example", 1), []string{
			"dLegerPeers: PEER TRAFFIC IS UNAUTHENTICATED AND UNENCRYPTED: member n2's address db2.example:40913"}},
		{"remote client port", group("127.0.0.1") + "brokerIP1=192.168.1.5", []string{
			"brokerIP1: CLIENT TRAFFIC IS UNAUTHENTICATED AND UNENCRYPTED: the client port listens on 192.168.1.5:10913, not a loopback address",
		}},
		{"client port defaulted from the peer address", group("10.0.0.1"), []string{"dLegerPeers: PEER TRAFFIC", "brokerIP1: CLIENT TRAFFIC"}},
		{"remote, with TLS", group("10.0.0.1") + sortTLSLines(tlsKeys(f, "both", "ca", "n0", "n0-key")), nil},
		{"remote, peers with TLS", group("10.0.0.1") + sortTLSLines(tlsKeys(f, "peer", "ca", "n0", "n0-key")), []string{"brokerIP1: CLIENT TRAFFIC"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warns, err := config.Parse("t.conf", []byte(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(warns) != len(tt.want) {
				t.Fatalf("%d warnings %v, want %d", len(warns), warns, len(tt.want))
			}
			for i, w := range warns {
				if got := w.Key + ": " + w.Msg; !strings.HasPrefix(got, tt.want[i]) {
					t.Errorf("warning %d: %q, want %q...", i, got, tt.want[i])
				}
			}
		})
	}
}

// TestTLSRelativePaths: file paths are made absolute against the working
// directory, as the store paths are.
func TestTLSRelativePaths(t *testing.T) {
	f := pkiFiles(t)
	t.Chdir(filepath.Dir(f["ca"]))
	c := parse(t, minimal+"tlsPeerEnable=true\ntlsCaFile=ca.pem\ntlsCertFile=./n0.pem\ntlsKeyFile=n0-key.pem\n")
	check(t, "TLSCAFile", c.TLSCAFile, f["ca"])
	check(t, "TLSCertFile", c.TLSCertFile, f["n0"])
	check(t, "TLSKeyFile", c.TLSKeyFile, f["n0-key"])
}

// TestTLSSamples: conf/tls/ loads once `rmqlog certs --dir certs` has run
// in the working directory.
func TestTLSSamples(t *testing.T) {
	confDir, err := filepath.Abs(filepath.Join("..", "conf", "tls"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA("rmqlog development CA", time.Now(), 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _, err := ca.PEM()
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, "certs", name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", caPEM)
	ids := []string{"n0", "n1", "n2"}
	for _, id := range ids {
		certPEM, keyPEM, err := ca.Issue(pki.NodeIdentity(id), []string{"127.0.0.1"}, time.Now(), 365*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		write(id+".pem", certPEM)
		write(id+"-key.pem", keyPEM)
	}
	t.Chdir(dir)
	for _, id := range ids {
		c, warns, err := config.Load(filepath.Join(confDir, "broker-"+id+".conf"))
		if err != nil {
			t.Fatal(err)
		}
		if len(warns) > 0 {
			t.Errorf("%s: warnings %v", id, warns)
		}
		if c.PeerTLS == nil || c.ClientTLS == nil || c.SelfID != id || c.TLSCertFile != filepath.Join(dir, "certs", id+".pem") {
			t.Errorf("%s: PeerTLS %v, ClientTLS %v, self %s, cert %s", id, c.PeerTLS != nil, c.ClientTLS != nil, c.SelfID, c.TLSCertFile)
		}
	}
}
