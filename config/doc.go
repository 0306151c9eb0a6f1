// Package config loads a RocketMQ broker properties file, the one a broker
// in DLedger mode is started with, into a validated node Config.
//
//	broker-n0.conf ──properties parser──> key/values ──key table──> Config
//	      │                                   (last definition wins)   │
//	      └── keyLines: line of each key ──> Warning / *Error ─────────┘
//
// The file is parsed by github.com/magiconair/properties (the Java
// properties grammar: key=value, key:value or "key value"; comments start
// with # or !; a trailing backslash continues a value) with ${...}
// expansion off, so every value is taken literally; values are trimmed.
// The parser keeps no positions, so keyLines (lines.go) finds the line of
// each key's definitions for the messages.
//
// Every key rmqlog reads is one row of the table in keys.go: its name, its
// default and how it is parsed and shown. resolve (validate.go) then fills
// the defaults that depend on other keys (brokerIP1 from this node's own
// dLegerPeers entry, the store paths from $HOME, raftMaxBatchCount from
// enableBatchPush) and checks the rules between keys (self and preferred
// leader are members, ports do not collide, timers are ordered, a message
// fits in a segment). With tlsPeerEnable or tlsClientEnable it loads the
// TLS files (tls.go) and refuses, on the key at fault, a file that is
// missing or unreadable, a key that is not the certificate's, and a
// certificate that does not chain to tlsCaFile, has expired or names
// another node than dLegerSelfId.
//
// Findings come in two kinds:
//
//   - Warning: the file is usable. An unknown key (every RocketMQ key
//     rmqlog has no use for, such as namesrvAddr) is ignored with one
//     warning; a key defined twice keeps its last value with one warning
//     naming the lines; two members are allowed but cannot fail over;
//     peer or client traffic that leaves the machine without TLS is
//     warned about in capitals.
//   - *Error: the node must not start. It names the file, the line, the
//     key, the value and what is allowed, e.g.
//     broker-n0.conf:9: flushDiskType = "SYNC": allowed SYNC_FLUSH or ASYNC_FLUSH
//     Every *Error matches errors.Is(err, ErrConfig).
//
// Keys match case-sensitively, as in RocketMQ. Relative store paths are
// made absolute against the process's working directory at load time, so
// the daemon may change directory afterwards. docs/config.md is the
// reference for every key.
package config
