package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// MinVersion is the oldest TLS version any rmqlog link accepts.
const MinVersion = tls.VersionTLS13

// Creds is what one end of a mutually authenticated link holds: its own
// certificate and key, and the CAs the other end's certificate must chain to.
type Creds struct {
	Cert  tls.Certificate // Leaf is set
	Roots *x509.CertPool
}

// FileError is a PEM file that cannot be used: Path names it, Err says why.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return fmt.Sprintf("pki: %s: %v", e.Path, e.Err) }
func (e *FileError) Unwrap() error { return e.Err }

// Load reads a CA file and a certificate with its key (LoadRoots and
// LoadCertificate); an error is a *FileError naming the file at fault.
func Load(caPath, certPath, keyPath string) (Creds, error) {
	roots, err := LoadRoots(caPath)
	if err != nil {
		return Creds{}, err
	}
	cert, err := LoadCertificate(certPath, keyPath)
	if err != nil {
		return Creds{}, err
	}
	return Creds{Cert: cert, Roots: roots}, nil
}

// LoadRoots reads the PEM certificates of one or more CAs from path.
func LoadRoots(path string) (*x509.CertPool, error) {
	certs, err := readCerts(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// LoadCertificate reads a PEM certificate (the leaf first, then any
// intermediates) from certPath and its PEM private key from keyPath, and
// checks that they belong together. The error is a *FileError naming
// certPath (unreadable, no certificate) or keyPath (unreadable, no key, a
// key of another certificate).
func LoadCertificate(certPath, keyPath string) (tls.Certificate, error) {
	if _, err := readCerts(certPath); err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return tls.Certificate{}, &FileError{keyPath, err}
	}
	if err := checkKey(keyPEM); err != nil {
		return tls.Certificate{}, &FileError{keyPath, err}
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, &FileError{certPath, err}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, &FileError{keyPath, fmt.Errorf("does not match the certificate in %s: %w", certPath, err)}
	}
	return pair, nil
}

// readCerts parses every CERTIFICATE block of the PEM file at path; there
// must be at least one.
func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{path, err}
	}
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, &FileError{path, fmt.Errorf("PEM block %d: %w", n, err)}
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, &FileError{path, errors.New("no PEM certificate (-----BEGIN CERTIFICATE-----) in it")}
	}
	return certs, nil
}

// checkKey checks that keyPEM holds a private key Go can read, so that a
// wrong file is reported as such rather than as a mismatch.
func checkKey(keyPEM []byte) error {
	for {
		var b *pem.Block
		if b, keyPEM = pem.Decode(keyPEM); b == nil {
			return errors.New("no PEM private key (-----BEGIN PRIVATE KEY-----, EC PRIVATE KEY or RSA PRIVATE KEY) in it")
		}
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			_, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			_, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			_, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("cannot parse the %s: %w", b.Type, err)
		}
		return nil
	}
}

// VerifyChain checks that chain (leaf first, then intermediates) chains to
// roots at now for the extended key usage use.
func VerifyChain(chain []*x509.Certificate, roots *x509.CertPool, now time.Time, use x509.ExtKeyUsage) error {
	if len(chain) == 0 {
		return errors.New("pki: no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{use}})
	return err
}

// Chain parses cert's DER chain (leaf first).
func Chain(cert tls.Certificate) ([]*x509.Certificate, error) {
	out := make([]*x509.Certificate, 0, len(cert.Certificate))
	for _, der := range cert.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ServerConfig is the TLS configuration of a port where every connecting
// party must present a certificate that chains to c.Roots (for client
// authentication): TLS 1.3, c.Cert as this end's certificate.
func ServerConfig(c Creds) *tls.Config {
	return &tls.Config{MinVersion: MinVersion, Certificates: []tls.Certificate{c.Cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: c.Roots}
}

// ClientConfig is the TLS configuration to dial a node's client port:
// TLS 1.3, the node's certificate checked against c.Roots and the host
// dialed (its IP or DNS names), and c.Cert presented if it has one.
func ClientConfig(c Creds) *tls.Config {
	cfg := &tls.Config{MinVersion: MinVersion, RootCAs: c.Roots}
	if len(c.Cert.Certificate) > 0 {
		cfg.Certificates = []tls.Certificate{c.Cert}
	}
	return cfg
}
