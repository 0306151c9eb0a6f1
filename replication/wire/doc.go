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
//
// # Handshake
//
// The dialer of a peer connection sends a hello; the listener answers and,
// unless the answer is StatusOK, closes the connection. Frames then flow
// from the dialer to the listener only. Each string is a u16 length and
// that many bytes; the CRC32C covers every byte before it.
//
//	hello:  "RMQL" | version u8 | kind u8 (1) | group | from | to | crc32c u32
//	answer: "RMQL" | version u8 | status u8 | reason (0..1024 bytes) | crc32c u32
//
// group, from and to are 1..255 bytes. Versions must match exactly. Magic
// and version lead both messages, and the answer keeps its layout in every
// version, so a node can always refuse, and understand a refusal from, a
// node of another version.
package wire
