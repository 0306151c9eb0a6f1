package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// skew backdates every certificate, so that a member whose clock is a
// little behind the issuer's accepts it at once.
const skew = time.Hour

// CA is a certificate authority that issues rmqlog certificates: a
// development CA (`rmqlog certs`), or one loaded from its PEM files.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewCA makes a self-signed CA with an ECDSA P-256 key, valid from now
// (less an hour) for validity.
func NewCA(name string, now time.Time, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl, err := template(pkix.Name{CommonName: name, Organization: []string{"rmqlog"}}, now, validity)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.MaxPathLenZero = true, true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// LoadCA reads a CA's certificate and key (PKCS#8 or SEC 1 ECDSA).
func LoadCA(certPath, keyPath string) (*CA, error) {
	pair, err := LoadCertificate(certPath, keyPath)
	if err != nil {
		return nil, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, &FileError{keyPath, fmt.Errorf("a %T key; rmqlog certs issues with ECDSA keys only", pair.PrivateKey)}
	}
	if !pair.Leaf.IsCA {
		return nil, &FileError{certPath, errors.New("not a CA certificate (basic constraints CA:FALSE)")}
	}
	return &CA{Cert: pair.Leaf, Key: key}, nil
}

// Issue makes a certificate for id with a fresh ECDSA P-256 key, valid
// from now (less an hour) for validity but not beyond the CA. A node's
// certificate is for both server and client authentication and lists
// hosts (IP addresses or DNS names) for the clients of its client port; a
// client's is for client authentication and takes no hosts.
func (ca *CA) Issue(id Identity, hosts []string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if err := id.Check(); err != nil {
		return nil, nil, err
	}
	if id.Kind == Client && len(hosts) > 0 {
		return nil, nil, fmt.Errorf("pki: a client certificate (%s) takes no hosts", id)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := template(pkix.Name{CommonName: id.commonName(), Organization: []string{"rmqlog"}}, now, validity)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if id.Kind == Node {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	tmpl.URIs = append(tmpl.URIs, id.URI())
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = encodeKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, err
}

// PEM returns the CA's certificate and key in PEM.
func (ca *CA) PEM() (certPEM, keyPEM []byte, err error) {
	keyPEM, err = encodeKey(ca.Key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), keyPEM, err
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// template is the common part of every certificate: a random 128-bit
// serial number and the validity window.
func template(subject pkix.Name, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("pki: validity %v: want a positive duration", validity)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{SerialNumber: serial, Subject: subject,
		NotBefore: now.Add(-skew), NotAfter: now.Add(validity)}, nil
}
