// Package remoting is RocketMQ's remoting protocol: the frame that Apache
// RocketMQ 4.x and 5.x brokers, name servers and clients (the Java client
// and github.com/apache/rocketmq-client-go/v2) exchange over TCP, as a
// codec. It is a leaf: it imports no other rmqlog package, and knows
// nothing of sockets beyond an io.Reader. The broker builds on it.
//
// # The frame
//
// Requests and responses are one frame each; every integer is big endian:
//
//	0         4       5                 8
//	+---------+-------+-----------------+-------------------+-------------+
//	| length  | ser   | header length   | header            | body        |
//	+---------+-------+-----------------+-------------------+-------------+
//	  int32     uint8   uint24            header-length bytes  the rest
//
//	length:        the bytes after itself: 4 + header length + body length
//	ser:           how the header is serialized: 0 JSON, 1 ROCKETMQ
//	header length: 0 .. 2^24-1
//	body:          opaque bytes (a message, a JSON document, ...); its
//	               length is length - 4 - header length
//
// A reader refuses a length over its maximum frame size before it allocates
// anything for the frame (Reader, DefaultMaxFrameSize). The decoder refuses
// a header of more than MaxHeaderLength bytes (1 MiB) or MaxExtFields
// extFields entries (256), before it allocates anything for the entries
// (a Reader refuses the header length from the frame's first 64 KiB and
// skips the rest unread); limits.go says why these numbers (the largest
// real requests carry under 20 entries in under 1 KiB).
//
// # The JSON header (ser 0)
//
// One JSON object. The Java side (fastjson) writes the getters of
// RemotingCommand in alphabetical order and leaves out null ones:
//
//	{"code":310,"extFields":{"a":"group","b":"topic"},"flag":0,"language":"JAVA",
//	 "opaque":42,"serializeTypeCurrentRPC":"JSON","version":479}
//
// language is the name of the LanguageCode enum ("JAVA", "GO", ...).
// rocketmq-client-go writes its struct's fields in declaration order,
// always with remark and extFields and without serializeTypeCurrentRPC:
//
//	{"code":10,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":{...}}
//
// Both forms decode; unknown fields are ignored, as both sides do. This
// package writes the Java form (a remark or extFields only when not empty).
//
// # The ROCKETMQ header (ser 1)
//
//	0      2      3         5         9        13            17        17+r          21+r
//	+------+------+---------+---------+--------+-------------+---------+-------------+-----------+
//	| code | lang | version | opaque  | flag   | remark len  | remark  | extFields   | extFields |
//	|      |      |         |         |        | r           |         | len e       | entries   |
//	+------+------+---------+---------+--------+-------------+---------+-------------+-----------+
//	 int16  uint8   int16     int32     int32    int32         r bytes   int32         e bytes
//
//	one extFields entry:
//	+---------+-----+-----------+-------+
//	| key len | key | value len | value |
//	+---------+-----+-----------+-------+
//	  int16     UTF-8  int32       UTF-8
//
// The header's fields fill exactly its header length: a field that runs
// past it, a negative length, or bytes left after the entries is an error.
// A code outside int16 cannot travel in this form (Java truncates it with
// writeShort; Command.AppendFrame refuses it).
//
// # Flag, opaque, serialization
//
// Flag bit 0 marks a response (FlagResponse), bit 1 a oneway request that
// wants no answer (FlagOneway). A response carries its request's opaque;
// a RocketMQ server answers in the serialization the request came in,
// and so does NewResponse.
//
// # Errors
//
// Every decoding error wraps one sentinel of this package ("remoting: ..."),
// with what was found and where. Two kinds, by what the caller does next:
//
//   - Framing errors (ErrFrameLength, ErrFrameTooLarge, ErrShortFrame): the
//     stream's frame boundaries are lost. A Reader returns the same error
//     from then on; close the connection.
//   - Header errors (ErrHeaderLength, ErrSerializeType, ErrBadJSON,
//     ErrTruncated, ErrBadHeader, and over the limits ErrHeaderTooLarge
//     and ErrTooManyExtFields): the frame was delimited and consumed
//     whole, but its header is not a command; there is no opaque to answer
//     to. RocketMQ's NettyDecoder closes the connection on any of the first
//     five (it has no such limits), and a broker should on all of them.
//
// The sources this follows (Apache RocketMQ, remoting/src/main/java/org/
// apache/rocketmq/remoting): protocol/RemotingCommand.java (frame, flags,
// JSON fields), protocol/RocketMQSerializable.java (ROCKETMQ header),
// protocol/LanguageCode.java, protocol/RequestCode.java,
// protocol/ResponseCode.java, netty/NettyDecoder.java (the frame limit);
// rocketmq-client-go's internal/remote/codec.go and remote_client.go.
package remoting
