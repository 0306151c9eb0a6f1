// Package commitlog is RocketMQ's CommitLog message layout: the bytes a
// RocketMQ broker stores for each message and sends, as they are, in a
// pull answer. It encodes a message (Encode), decodes one without copying
// (Decode), reads what a consume queue needs without decoding the rest
// (Peek), writes the offsets a broker assigns at commit time into encoded
// bytes in place (SetOffsets, SetStoreTimestamp), and knows the end-of-file
// blank (AppendBlank, Blank, Fits), the properties string (AppendProperties,
// ParseProperties, Lookup), the tags hash (TagsCode) and the message id
// (MessageID).
//
// It is a leaf: pure code, no files, no I/O, and it imports no other rmqlog
// package. The broker (issue 16) stores and serves these bytes; the
// importer of RocketMQ CommitLog directories (issue 19) reads them. The
// layout was learnt from apache/rocketmq (store/.../CommitLog.java,
// store/.../MessageExtEncoder.java, common/.../message/MessageDecoder.java,
// common/.../sysflag/MessageSysFlag.java) and the Go client's
// primitive.DecodeMessage; module compat/rocketmq checks our bytes against
// that client.
//
// # Message layout (big endian)
//
// Offsets for IPv4 hosts. With FlagBornHostV6 in the system flag the born
// host takes 16+4 bytes and everything after it moves 12 bytes later; with
// FlagStoreHostV6 the same for the store host.
//
//	0        4        8        12       16       20                28                36
//	+--------+--------+--------+--------+--------+-----------------+-----------------+
//	| total  | magic  | body   | queue  | flag   | queue offset    | physical offset |
//	| size   | code   | CRC    | id     |        |                 |                 |
//	+--------+--------+--------+--------+--------+-----------------+-----------------+
//	36       40                48       52       56                64       68       72
//	+--------+-----------------+--------+--------+-----------------+--------+--------+
//	| sys    | born timestamp  | born   | born   | store timestamp | store  | store  |
//	| flag   | (ms)            | IP     | port   | (ms)            | IP     | port   |
//	+--------+-----------------+--------+--------+-----------------+--------+--------+
//	72       76                84       88       88+b   (v2: 2 bytes)
//	+--------+-----------------+--------+- - - - +------+- - - - -+-------+- - - - - -+
//	| recon- | prepared trans- | body   | body   |topic | topic   | props | properties|
//	| sume   | action offset   | length | (b)    |length| (t)     | length| (p)       |
//	+--------+-----------------+--------+- - - - +------+- - - - -+-------+- - - - - -+
//	                                                1        t        2        p
//
//	total size = 91 + b + t + p  (IPv4 hosts, v1), +12 per IPv6 host, +1 for v2;
//	it counts itself, so the next message starts total size bytes later.
//	magic code: MagicV1 (0xDAA320A7, topic length 1 byte) or MagicV2
//	(0xDAA320AB, 2 bytes); BlankMagic (0xCBD43194) marks end-of-file padding.
//	body CRC: CRC-32/IEEE of the body (java.util.zip.CRC32) & 0x7FFFFFFF.
//	ports: 4 bytes. properties: name 0x01 value 0x02 name 0x01 value 0x02 ...
//
// Which magic Encode writes: V1 for a topic of up to 127 bytes, V2 above
// (up to 32767), as a RocketMQ 5 broker does (autoMessageVersionOnTopicLen,
// on by default). RocketMQ 4, broker and Java client, knows only V1 and
// reads its topic length as a signed byte: 127 bytes at most, its topic
// limit. The Go client ignores the magic code and always reads one byte.
// So every message with a normal topic is V1, readable by all of them;
// only a topic over 127 bytes (retry and DLQ topics may reach 255) needs
// V2, which RocketMQ 5's decoder reads and which no V1 byte could carry.
// Decode reads both; Message.Version keeps which, so a decoded message
// encodes to the same bytes.
//
// The end-of-file blank is 8 bytes, a total size (the rest of the file)
// and BlankMagic; RocketMQ writes a message into a file only if those 8
// bytes still fit after it (Fits), so every file ends in a blank or ends
// exactly full.
//
// # Errors
//
// Decode and Peek check the magic code, that every length lies inside the
// total size and that they add up to it exactly, and that the total size
// lies inside the buffer: a lying length is an error (ErrShort, ErrCorrupt),
// never an allocation or an out-of-range slice; they allocate nothing.
// ErrMagic means the bytes are not a message, ErrEndOfFile that they are the
// blank. The body CRC is checked only on request (Message.VerifyBody,
// ErrBodyCRC), as RocketMQ checks it only on recovery.
package commitlog
