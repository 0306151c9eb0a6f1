// Package proto is the binary protocol between clients and a node's client
// port (rmqlogClientPort): the frame codec used by package client, by the node's
// server and by the admin commands, and the status document (StatusDoc) a
// status request answers with as JSON. It imports no other rmqlog package.
// docs/protocol.md draws every message byte by byte.
//
// Every message, request or response, is one frame (little endian):
//
//	0        4        8     9      10     11    12               20
//	+--------+--------+-----+------+------+-----+----------------+---------
//	| len    | crc32c | ver | type | code | rsv | id             | body ...
//	+--------+--------+-----+------+------+-----+----------------+---------
//	len:   bytes in the frame, header included (20 .. the reader's limit)
//	crc32c (Castagnoli) of bytes [8, len): the header's tail and the body
//	ver:   Version; type: the request type (echoed in its response)
//	code:  0 in requests; the outcome in responses (CodeOK, CodeNotLeader, ...)
//	id:    chosen by the client; the response to a request carries its id
//
// A client may send many requests without waiting (pipelining). A node
// answers the requests of one connection in the order it received them.
// A response with a code other than CodeOK has the error body: a message and,
// for CodeNotLeader, the leader's id and client address.
//
// Every length in a frame is checked against the bytes that are present
// before anything is allocated or sliced; a reader never allocates more than
// the frame length it accepted, and never accepts more than its limit.
package proto
