// Package rpc carries remoting commands over TCP: a Server that answers
// requests with a Handler, and a Client that sends requests and waits for
// their answers. It sits one step above the codec (package remoting) and
// imports of rmqlog only that codec; the name server and the broker build
// on it.
//
// Why a package of its own: remoting is a pure codec (bytes in, commands
// out, no sockets, no goroutines), fuzzed and benchmarked alone; the
// transport owns goroutines, deadlines and connection state, a different
// concept with a different way to test it.
//
// # Server
//
// One reader goroutine per connection decodes frames in order; each
// request runs its handler on a goroutine of its own (an idle one of the
// server's, kept for a few seconds after its last request, whose stack
// has already grown to what handlers need), so a slow request (a
// long-polling pull) does not hold up the next. Answers carry their
// request's opaque and serialization; handlers queue them as they finish,
// and the connection's writer goroutine writes everything queued in one
// writev (the answers of one group commit leave in one system call).
// RocketMQ clients correlate by opaque, never by order. At most
// MaxInFlight requests of one connection are between being read and
// having their answer written: beyond it the reader stops reading, and
// TCP's window pushes back on the peer; a peer that does not read its
// answers stalls its own requests and, after WriteTimeout, loses the
// connection. ServerOptions.Bodyless drops the body of requests whose
// handlers never read one, so a held long-polling pull costs only its
// header.
//
// A frame that does not decode (doc of package remoting: Errors) closes
// its connection, logged once; there is no opaque to answer to. That
// includes a header over the codec's limits (remoting.MaxHeaderLength,
// remoting.MaxExtFields), which no RocketMQ client sends. A request
// code nobody handles is answered REQUEST_CODE_NOT_SUPPORTED by Mux, as
// RocketMQ's NettyRemotingAbstract does, and the connection stays.
//
// A handler learns the peer's address with Peer(ctx), and
// ServerOptions.OnClose hears of every connection that ended (RocketMQ's
// ChannelEventListener: a broker forgets the clients of a closed
// connection, since rocketmq-client-go never sends UNREGISTER_CLIENT).
//
// Close stops accepting and reading, cancels the handlers' context, waits
// for running handlers and writes their answers, then closes every
// connection; it returns when every goroutine the Server started has
// ended.
//
// # Client
//
// One connection, one reader goroutine that hands each response to the
// Invoke waiting for its opaque. Requests from the peer (a broker asking
// a client something) are dropped: this client serves nothing.
package rpc
