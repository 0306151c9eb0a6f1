// Package pki holds the certificates of an rmqlog deployment: the
// identities they carry, loading and checking their PEM files, the TLS
// settings every secured link uses, and a development CA that issues them
// (`rmqlog certs`). docs/security.md is the user's view.
//
// It serves every secured link, not one package: replication checks peer
// links with it, server secures the client port, config loads and checks
// the files its tls* keys name, and cmd/rmqlog issues certificates and
// loads the admin commands' --tls-* files with it.
//
// # Identities
//
// A certificate names what it is in one URI subject alternative name:
//
//	rmqlog-node:<id>       a member of a group: <id> is its dLegerSelfId (e.g. rmqlog-node:n1)
//	rmqlog-client:<name>   a client of the client port (e.g. rmqlog-client:admin)
//
// The subject's CommonName repeats it for people and for tools such as
// openssl ("node:n1", "client:admin") but is never read: IdentityOf reads
// the URI only, and a certificate with two rmqlog URIs has none.
//
//	                   CA (tlsCaFile: ca.pem)
//	        ┌──────────────────┼──────────────────────┐
//	     node n0            node n1              client admin
//	URI rmqlog-node:n0  URI rmqlog-node:n1   URI rmqlog-client:admin
//	serverAuth+clientAuth    (same)           clientAuth only
//	IP/DNS: 127.0.0.1, ::1, localhost, --hosts      no hosts
//
// A node certificate serves both ends of a peer link (a node dials and
// accepts), so it carries both extended key usages; its IP and DNS names
// are for clients of the client port, which check the host they dialed
// as any TLS client does. Peer links check identities, not host names.
//
// Package pki imports no other package of this module.
package pki
