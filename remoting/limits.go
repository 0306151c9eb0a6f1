package remoting

// The decoder's limits on a header, beside the Reader's on a frame
// (DefaultMaxFrameSize). RocketMQ has neither: its decoder turns any
// header that fits the frame into a HashMap, so a 16 MiB frame of 10^6
// tiny extFields entries costs a Java broker, and cost this package
// before the limits, about 170 MB and a second of work (BenchmarkDecodeExtFields).
// A header over a limit is refused before anything is allocated for its
// entries, with ErrHeaderTooLarge or ErrTooManyExtFields.
//
// What real clients send, for the margins below:
//
//	request (rocketmq-client-go      entries   header, JSON
//	internal/request.go)
//	SEND_MESSAGE_V2                  14        ~300 B + the properties
//	SEND_MESSAGE                     14        ~450 B + the properties
//	PULL_MESSAGE                     12        ~350 B + the subscription
//	HEART_BEAT, GET_ROUTEINFO_...    0..1      ~100 B (the data is the body)
//	+ ACL (internal/remote           +3        +~100 B
//	  interceptor.go)
//
// A Java 5.x client adds RpcRequestHeader's few (namespace, brokerName,
// oneway, lo) and a zone hook two more: the largest legitimate request
// carries a few dozen entries. The one large field is a message's
// properties ("i" in SEND_MESSAGE_V2), one entry: a broker stores at most
// 32767 bytes of them (a signed 16-bit length in the stored message;
// RocketMQ's PROPERTIES_SIZE_EXCEEDED, commitlog.MaxProperties), and so
// much of a topic name (commitlog.MaxTopicV2).
const (
	// MaxExtFields is the most extFields entries a header may carry, as
	// written (a repeated key counts each time): 256, about ten times the
	// largest legitimate request's. It bounds the map a decoded command
	// holds to a few KiB of entries.
	MaxExtFields = 256
	// MaxHeaderLength is the largest header Decode takes, in bytes: 1 MiB.
	// The largest a client can write that a broker would store is a
	// SEND_MESSAGE_V2 of 32767 bytes of properties and as much topic, each
	// written as \u0001 escapes (6 bytes a byte) in the JSON form: 384
	// KiB, so 1 MiB leaves over twice that pathological case, and over a
	// thousand times a real request's few hundred bytes. Beyond it the
	// strings of a header are not what RocketMQ sends, and the decoder
	// does not copy them. (The 24-bit field holds 16 MiB - 1; the encoder
	// still writes that much, which a Java peer reads.)
	MaxHeaderLength = 1 << 20
)
