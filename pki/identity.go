package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// The URI schemes of the two kinds of identity.
const (
	NodeScheme   = "rmqlog-node"
	ClientScheme = "rmqlog-client"
)

// Kind is what a certificate's holder is.
type Kind uint8

// The kinds of identity.
const (
	Node   Kind = 1 // a member of a group; Name is its node id
	Client Kind = 2 // a client of the client port; Name is chosen by whoever issued it
)

// maxName is the longest name, as config's longest member id.
const maxName = 64

// ErrNoIdentity: a certificate carries no rmqlog identity (no URI SAN of
// either scheme, or more than one).
var ErrNoIdentity = errors.New("pki: no rmqlog identity in the certificate")

// Identity is who a certificate speaks for.
type Identity struct {
	Kind Kind
	Name string
}

// NodeIdentity is the identity of member id.
func NodeIdentity(id string) Identity { return Identity{Kind: Node, Name: id} }

// ClientIdentity is the identity of client name.
func ClientIdentity(name string) Identity { return Identity{Kind: Client, Name: name} }

// String is the identity's URI, e.g. "rmqlog-node:n1".
func (i Identity) String() string { return i.URI().String() }

// URI is the identity as a certificate carries it.
func (i Identity) URI() *url.URL {
	scheme := NodeScheme
	if i.Kind == Client {
		scheme = ClientScheme
	}
	return &url.URL{Scheme: scheme, Opaque: i.Name}
}

// commonName is the subject CommonName a certificate of i is issued with.
func (i Identity) commonName() string {
	if i.Kind == Client {
		return "client:" + i.Name
	}
	return "node:" + i.Name
}

// Check reports whether i can be issued: a known kind and a name of 1 to
// 64 characters of A-Z a-z 0-9 _ . (and '-' for a client).
func (i Identity) Check() error {
	bad := func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' ||
			r == '-' && i.Kind == Client)
	}
	switch {
	case i.Kind != Node && i.Kind != Client:
		return fmt.Errorf("pki: unknown identity kind %d", i.Kind)
	case i.Name == "" || len(i.Name) > maxName || strings.IndexFunc(i.Name, bad) >= 0:
		allowed := "A-Z a-z 0-9 _ ."
		if i.Kind == Client {
			allowed += " -"
		}
		return fmt.Errorf("pki: name %q: allowed 1 to %d characters of %s", i.Name, maxName, allowed)
	}
	return nil
}

// IdentityOf returns the identity cert carries: its one URI SAN of scheme
// rmqlog-node or rmqlog-client. Without one, or with several, the error
// wraps ErrNoIdentity and says what the certificate has instead.
func IdentityOf(cert *x509.Certificate) (Identity, error) {
	var found []Identity
	for _, u := range cert.URIs {
		var id Identity
		switch u.Scheme {
		case NodeScheme:
			id.Kind = Node
		case ClientScheme:
			id.Kind = Client
		default:
			continue
		}
		id.Name = u.Opaque
		if id.Check() != nil {
			return Identity{}, fmt.Errorf("%w: %s (subject %q) has the malformed identity %q", ErrNoIdentity, serial(cert), cert.Subject.CommonName, u)
		}
		found = append(found, id)
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Identity{}, fmt.Errorf("%w: %s (subject %q) has no URI %s:<id> or %s:<name> (issue it with rmqlog certs)",
			ErrNoIdentity, serial(cert), cert.Subject.CommonName, NodeScheme, ClientScheme)
	}
	return Identity{}, fmt.Errorf("%w: %s (subject %q) has %d identities (%v); it must have one",
		ErrNoIdentity, serial(cert), cert.Subject.CommonName, len(found), found)
}

// Describe names cert's holder for a log line: its identity, or its
// subject's CommonName when it has none.
func Describe(cert *x509.Certificate) string {
	if id, err := IdentityOf(cert); err == nil {
		return id.String()
	}
	return fmt.Sprintf("CN=%q (no rmqlog identity)", cert.Subject.CommonName)
}

func serial(cert *x509.Certificate) string {
	return "certificate " + cert.SerialNumber.Text(16)
}
