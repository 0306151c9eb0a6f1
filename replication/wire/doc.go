// Package wire is the binary framing of rmqlog's peer protocol: one frame
// layout for every Raft message, and the handshake that opens a peer
// connection. It is a leaf package: it imports no other rmqlog package, so
// the decoder can be fuzzed alone.
//
// A frame is a fixed 80-byte header followed by the entries it carries:
//
//	0      4      8   9   10  11  12     16       24       32       40
//	+------+------+---+---+---+---+------+--------+--------+--------+
//	| len  | crc  |ver|typ|flg|rsv|count |  term  | index  |logTerm |
//	+------+------+---+---+---+---+------+--------+--------+--------+
//	40       48       56       64       72     76     80
//	+--------+--------+--------+--------+------+------+------------+
//	| commit |durable |  hint  | offset | crc  | elen | entries... |
//	+--------+--------+--------+--------+------+------+------------+
//
// All integers are little-endian. len counts the bytes after itself
// (76 + elen); crc is the CRC32C of header bytes [8, 80). The entries are the
// log's own framed entries (segment's layout), each with its own CRC32C
// chained to its predecessor, so the frame CRC does not cover them again;
// the receiver verifies them when it stores them. docs/protocol.md describes
// each field per message type.
package wire
