package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/pki"
)

// expirySoon is how far ahead a certificate's expiry is warned about.
const expirySoon = 30 * 24 * time.Hour

// tlsFiles are the file keys, in the order they are checked.
var tlsFiles = []string{"tlsCaFile", "tlsCertFile", "tlsKeyFile", "tlsClientCaFile"}

// tlsFileHints say what each file key must hold.
var tlsFileHints = map[string]string{
	"tlsCaFile":   "the PEM certificate of the CA that issued every member's certificate (rmqlog certs writes ca.pem)",
	"tlsCertFile": "this node's PEM certificate, issued for its dLegerSelfId (rmqlog certs writes <id>.pem)",
	"tlsKeyFile":  "the PEM private key of tlsCertFile (rmqlog certs writes <id>-key.pem)",
}

// security loads and checks the TLS files when tlsPeerEnable or
// tlsClientEnable is on, and warns about file keys that have no effect.
func (s *state) security() error {
	c := s.c
	if !c.TLSPeerEnable && !c.TLSClientEnable {
		for _, k := range tlsFiles {
			if line, set := c.lines[k]; set && *s.tlsPaths()[k] != "" {
				s.warn(line, k, "ignored: tlsPeerEnable and tlsClientEnable are false")
			}
		}
		return nil
	}
	if line, set := c.lines["tlsClientCaFile"]; set && !c.TLSClientEnable {
		s.warn(line, "tlsClientCaFile", "ignored: tlsClientEnable is false")
	}
	paths := s.tlsPaths()
	for _, k := range tlsFiles {
		if *paths[k] == "" && k != "tlsClientCaFile" {
			return &Error{File: c.File, Key: k, Msg: fmt.Sprintf("%s needs it: set it to %s", s.tlsOn(), tlsFileHints[k])}
		}
		if *paths[k] != "" {
			if err := s.absolute(k, paths[k]); err != nil {
				return err
			}
		}
	}
	creds, err := s.loadCreds()
	if err != nil {
		return err
	}
	if err := s.checkCert(creds); err != nil {
		return err
	}
	s.adviseKey()
	if c.TLSPeerEnable {
		c.PeerTLS = &creds
	}
	if c.TLSClientEnable {
		return s.clientCreds(creds)
	}
	return nil
}

// tlsPaths maps the file keys to their fields.
func (s *state) tlsPaths() map[string]*string {
	c := s.c
	return map[string]*string{"tlsCaFile": &c.TLSCAFile, "tlsCertFile": &c.TLSCertFile,
		"tlsKeyFile": &c.TLSKeyFile, "tlsClientCaFile": &c.TLSClientCAFile}
}

// tlsOn names the keys that turned TLS on, for messages.
func (s *state) tlsOn() string {
	var on []string
	for _, k := range []string{"tlsPeerEnable", "tlsClientEnable"} {
		if v := s.value(k); v == "true" {
			on = append(on, k+"=true"+s.at(k))
		}
	}
	return strings.Join(on, " and ")
}

// loadCreds reads the CA, the certificate and the key, reporting a file
// that cannot be used on its key.
func (s *state) loadCreds() (pki.Creds, error) {
	c := s.c
	roots, err := pki.LoadRoots(c.TLSCAFile)
	if err != nil {
		return pki.Creds{}, s.fileError("tlsCaFile", err)
	}
	cert, err := pki.LoadCertificate(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		var fe *pki.FileError
		if errors.As(err, &fe) && fe.Path == c.TLSKeyFile && fe.Path != c.TLSCertFile {
			return pki.Creds{}, s.fileError("tlsKeyFile", err)
		}
		return pki.Creds{}, s.fileError("tlsCertFile", err)
	}
	return pki.Creds{Cert: cert, Roots: roots}, nil
}

// fileError reports err (a *pki.FileError, whose path is the key's value)
// on key.
func (s *state) fileError(key string, err error) *Error {
	msg := err.Error()
	var fe *pki.FileError
	if errors.As(err, &fe) {
		msg = fe.Err.Error()
		if key == "tlsKeyFile" && strings.HasPrefix(msg, "does not match") {
			msg = strings.Replace(msg, s.c.TLSCertFile, s.c.TLSCertFile+" (tlsCertFile)", 1)
		}
	}
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
		msg = "cannot read it: " + msg
	}
	return s.fail(key, s.value(key), msg+": "+tlsFileHintFor(key))
}

func tlsFileHintFor(key string) string {
	if h, ok := tlsFileHints[key]; ok {
		return "set it to " + h
	}
	return "set it to the PEM certificate of the CA that issued the clients' certificates"
}

// checkCert checks the certificate against the CA and this node: it must
// chain to tlsCaFile for the usages its links need, be current, and name
// this node (with tlsPeerEnable; without, it may carry no rmqlog identity,
// but not another one).
func (s *state) checkCert(creds pki.Creds) error {
	c := s.c
	chain, err := pki.Chain(creds.Cert)
	if err != nil {
		return s.fail("tlsCertFile", c.TLSCertFile, err.Error())
	}
	uses := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if c.TLSPeerEnable {
		uses = append(uses, x509.ExtKeyUsageClientAuth) // a node dials its peers with it too
	}
	now := time.Now()
	for _, use := range uses {
		if err := pki.VerifyChain(chain, creds.Roots, now, use); err != nil {
			return s.fail("tlsCertFile", c.TLSCertFile, fmt.Sprintf("not valid as this node's certificate against tlsCaFile (%s): %v: "+
				"use a certificate issued by that CA for this node (rmqlog certs --use-ca --nodes %s)", c.TLSCAFile, err, c.SelfID))
		}
	}
	self := pki.NodeIdentity(c.SelfID)
	switch id, err := pki.IdentityOf(chain[0]); {
	case err != nil && c.TLSPeerEnable:
		return s.fail("tlsCertFile", c.TLSCertFile, fmt.Sprintf("tlsPeerEnable=true needs the certificate to name this node (URI %s): %v", self, err))
	case err == nil && id != self:
		return s.fail("tlsCertFile", c.TLSCertFile, fmt.Sprintf("the certificate is %s's, but this node is dLegerSelfId=%s%s: use the certificate issued for %s",
			id, c.SelfID, s.at("dLegerSelfId"), c.SelfID))
	}
	if left := chain[0].NotAfter.Sub(now); left < expirySoon {
		s.warn(c.lines["tlsCertFile"], "tlsCertFile", fmt.Sprintf("the certificate expires on %s (in %v): renew it; the node reads it only at start",
			chain[0].NotAfter.UTC().Format(time.DateOnly), left.Round(time.Hour)))
	}
	return nil
}

// adviseKey warns about a private key that others than its owner can read.
func (s *state) adviseKey() {
	fi, err := os.Stat(s.c.TLSKeyFile)
	if err == nil && fi.Mode().Perm()&0o077 != 0 {
		s.warn(s.c.lines["tlsKeyFile"], "tlsKeyFile", fmt.Sprintf("%s is readable by others (mode %v): chmod 600 it",
			s.c.TLSKeyFile, fi.Mode().Perm()))
	}
}

// clientCreds sets ClientTLS: this node's certificate, and the CAs of
// tlsClientCaFile (default tlsCaFile) for the clients' certificates.
func (s *state) clientCreds(node pki.Creds) error {
	c := s.c
	roots := node.Roots
	if c.TLSClientCAFile == "" {
		c.TLSClientCAFile = c.TLSCAFile
	} else if c.TLSClientCAFile != c.TLSCAFile {
		var err error
		if roots, err = pki.LoadRoots(c.TLSClientCAFile); err != nil {
			return s.fileError("tlsClientCaFile", err)
		}
	}
	c.ClientTLS = &pki.Creds{Cert: node.Cert, Roots: roots}
	return nil
}

// advisePlaintext warns, loudly, about plaintext links that leave the
// machine: peer links with a member that is not on a loopback address,
// and a client port that listens on one that is not.
func (s *state) advisePlaintext() {
	c := s.c
	if !c.TLSPeerEnable {
		for _, id := range c.PeerOrder {
			if addr := c.Peers[id]; !loopback(splitHost(addr)) {
				s.warn(c.lines["dLegerPeers"], "dLegerPeers", fmt.Sprintf("PEER TRAFFIC IS UNAUTHENTICATED AND UNENCRYPTED: "+
					"member %s's address %s is not a loopback address, and anyone who reaches a peer port can read the log or "+
					"pose as a member: set tlsPeerEnable=true with tlsCaFile, tlsCertFile and tlsKeyFile (docs/security.md)", id, addr))
				break
			}
		}
	}
	if host := splitHost(c.ClientAddr); !c.TLSClientEnable && !loopback(host) {
		s.warn(c.lines["brokerIP1"], "brokerIP1", fmt.Sprintf("CLIENT TRAFFIC IS UNAUTHENTICATED AND UNENCRYPTED: "+
			"the client port listens on %s, not a loopback address, and anyone who reaches it can append, read and move "+
			"leadership: set tlsClientEnable=true with tlsCaFile, tlsCertFile and tlsKeyFile (docs/security.md)", c.ClientAddr))
	}
}

// loopback reports whether host is a loopback address or "localhost". An
// unspecified address (every interface) and other host names are not.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
