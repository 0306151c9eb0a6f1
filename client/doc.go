// Package client is the Go client of an rmqlog node's client port: it
// appends messages to the group's replicated log through the leader, reads
// committed entries, and asks nodes for their meta and status. The frames
// are those of package client/proto (docs/protocol.md).
//
//	c, err := client.Dial(ctx, []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"})
//	if err != nil { ... }
//	defer c.Close()
//	index, err := c.Append(ctx, []byte("hello"))  // returns once committed
//	payload, err := c.Get(ctx, index)
//
// # Shape
//
// A Client keeps one TCP connection, to the leader, shared by all the
// goroutines that use it. Requests are pipelined on it:
//
//	Append/Get/... --encode--> queue --writer goroutine: one writev of all queued frames--> node
//	       ^                                                                                  |
//	       +-- token on the call's channel <-- reader goroutine: responses in order, by id <--+
//
// The node answers the requests of a connection in the order it received
// them; the reader checks each response's id against the oldest pending
// request, and a mismatch is a protocol error that closes the connection.
// The node stops reading when about 1024 requests are pending, and then the
// writer blocks: that is the back-pressure.
//
// # Success means committed
//
// An append returns an index only when the node answered that very request
// with CodeOK, which a node does once the entries are committed. Every
// other outcome is an error.
//
// # Retries, and at-least-once appends
//
// Unless WithPinned, a call that fails in a way a retry may fix is retried
// until its context ends (or WithRetryTimeout, if the context has no
// deadline): on a NotLeaderError the client goes to the leader it names, or
// if none is named, polls the known nodes' Meta with a backoff (20 ms
// doubling to 100 ms) until one leads; on a lost connection, ErrClosing,
// ErrFailed (except on Get and Range: there it means the node read a
// corrupt entry, which asking again does not fix), ErrUnknown or
// ErrOverload it finds the leader again; on ErrBusy it backs off. Leader
// addresses learned from redirects join the known addresses. ErrTooLarge
// (checked before sending against the node's maxMessageSize),
// ErrBadRequest, ErrProtocol, ErrNotFound and ErrClosed are not retried.
// The membership changes (AddLearner, Promote, RemoveMember) retry
// ErrChangePending for up to 5 s and return ErrMembership and
// ErrNotCaughtUp at once.
//
// Appends are therefore at least once: when the outcome of a sent append
// is unknown (the connection was lost after it was sent, or the node
// answered ErrUnknown) the client sends it again, and if the first copy
// had committed too the log holds the entry twice. The index returned is
// that of the copy whose commit the node reported. A call that returns an
// error, a context's error included, may also have committed. Consumers
// that must not see duplicates deduplicate, e.g. by a key in the payload.
//
// # Ordering
//
// Appends sent on one connection are appended in the order sent; for
// AppendAsync and AppendBatchAsync, while the client stays connected, the
// order of the calls.
// An append that is retried is sent again after the appends sent
// meanwhile, so across a failover the order of concurrent or pipelined
// appends is not kept; an append issued after its predecessor returned
// (Append, or Wait before the next AppendAsync) is always ordered after it.
//
// # TLS
//
// A node started with tlsClientEnable=true speaks TLS 1.3 only and
// requires a client certificate of its client CA (docs/security.md).
// WithTLS dials every node, redirects included, with a *tls.Config that
// holds the CA of the nodes' certificates (RootCAs) and this client's
// certificate. A handshake that fails on a certificate is not retried:
// Dial returns it at once.
//
// # Reads
//
// Get, Range, Meta, Status and Members go to the node the client is
// connected to: the leader, or with WithPinned, addrs[0] whatever its role
// (a follower's log can lag the leader's commit index). Their payloads are
// the caller's.
//
// # Examples
//
// Example and ExampleWithPinned (example_test.go) drive the README's
// quick-start group (client ports, rmqlogClientPort: 127.0.0.1:30913, 30923 and 30933). go doc
// does not print examples: read example_test.go, or see them on pkg.go.dev.
package client
