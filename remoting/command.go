package remoting

import (
	"strconv"
	"sync/atomic"
)

// Command is one request or response: a frame's header fields and its body.
type Command struct {
	// Code is a RequestCode in a request, a ResponseCode in a response.
	// Java carries it as an int and JSON as a number, so codes beyond int16
	// exist (RocketMQ 5's POP_MESSAGE is 200050); the ROCKETMQ header has
	// only 16 bits for it.
	Code     int32
	Language LanguageCode
	// Version is the sender's RocketMQ version as an MQVersion ordinal
	// (rocketmq-client-go sends 317, V4_5_2; a 5.3.3 broker 479).
	Version int16
	// Opaque is the request id; a response carries its request's.
	Opaque int32
	// Flag holds FlagResponse and FlagOneway.
	Flag   int32
	Remark string
	// ExtFields are the request's or response's named arguments (the
	// Java side's custom header). Decoding leaves it nil when empty.
	ExtFields map[string]string
	// Body is nil when empty. A decoded Body aliases the decoded bytes.
	Body []byte
	// Serialize is the header's serialization: the one a decoded command
	// came in, and the one AppendFrame writes.
	Serialize SerializeType
}

// Flag bits.
const (
	FlagResponse = 1 << 0 // the command answers a request (RPC_TYPE)
	FlagOneway   = 1 << 1 // the request wants no response (RPC_ONEWAY)
)

// IsResponse reports whether c is a response.
func (c *Command) IsResponse() bool { return c.Flag&FlagResponse != 0 }

// IsOneway reports whether c is a request that wants no response.
// rocketmq-client-go never sets the flag: its oneway sends
// (UPDATE_CONSUMER_OFFSET, END_TRANSACTION, Producer.SendOneWay) arrive as
// ordinary requests, and it drops the responses nobody waits for.
func (c *Command) IsOneway() bool { return c.Flag&FlagOneway != 0 }

// lastOpaque is the opaque of the last request NewRequest made.
var lastOpaque atomic.Int32

// NewRequest returns a request with the next opaque of this process
// (starting at 1, as rocketmq-client-go), language GO and the JSON
// serialization (both clients' default). ext and body are used, not
// copied.
func NewRequest(code RequestCode, ext map[string]string, body []byte) *Command {
	return &Command{Code: int32(code), Language: LanguageGo, Opaque: lastOpaque.Add(1),
		ExtFields: ext, Body: body, Serialize: SerializeJSON}
}

// NewResponse returns the response to req: req's opaque, the response
// flag, and req's serialization, as a RocketMQ server answers. Version is
// left 0 for the caller to set (a Java broker sends its MQVersion). A
// oneway request must not be answered; NewResponse does not check.
func NewResponse(req *Command, code ResponseCode, remark string) *Command {
	return &Command{Code: int32(code), Language: LanguageGo, Opaque: req.Opaque,
		Flag: FlagResponse, Remark: remark, Serialize: req.Serialize}
}

// SerializeType is how a frame's header is serialized: the high byte of
// the frame's second word.
type SerializeType uint8

// The serializations (SerializeType.java).
const (
	SerializeJSON     SerializeType = 0
	SerializeRocketMQ SerializeType = 1
)

// String returns the Java enum's name ("JSON", "ROCKETMQ"), or
// SerializeType(n).
func (s SerializeType) String() string {
	switch s {
	case SerializeJSON:
		return "JSON"
	case SerializeRocketMQ:
		return "ROCKETMQ"
	}
	return "SerializeType(" + strconv.Itoa(int(s)) + ")"
}

// LanguageCode is the sender's implementation language: a byte in the
// ROCKETMQ header, the enum's name in JSON.
type LanguageCode uint8

// The languages of LanguageCode.java.
const (
	LanguageJava   LanguageCode = 0
	LanguageCPP    LanguageCode = 1
	LanguageDotNet LanguageCode = 2
	LanguagePython LanguageCode = 3
	LanguageDelphi LanguageCode = 4
	LanguageErlang LanguageCode = 5
	LanguageRuby   LanguageCode = 6
	LanguageOther  LanguageCode = 7
	LanguageHTTP   LanguageCode = 8
	LanguageGo     LanguageCode = 9
	LanguagePHP    LanguageCode = 10
	LanguageOMS    LanguageCode = 11
	LanguageRust   LanguageCode = 12
	LanguageNodeJS LanguageCode = 13
)

// languageNames are the Java enum's names, indexed by code.
var languageNames = [...]string{"JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG",
	"RUBY", "OTHER", "HTTP", "GO", "PHP", "OMS", "RUST", "NODE_JS"}

// String returns the Java enum's name ("JAVA", "GO", ...), or
// LanguageCode(n) for a code it does not have.
func (l LanguageCode) String() string {
	if name, ok := l.name(); ok {
		return name
	}
	return "LanguageCode(" + strconv.Itoa(int(l)) + ")"
}

func (l LanguageCode) name() (string, bool) {
	if int(l) < len(languageNames) {
		return languageNames[l], true
	}
	return "", false
}

// languageByName returns the code named name in the Java enum.
func languageByName(name string) (LanguageCode, bool) {
	for i, n := range languageNames {
		if n == name {
			return LanguageCode(i), true
		}
	}
	return 0, false
}
