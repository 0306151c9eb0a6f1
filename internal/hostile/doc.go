// Package hostile runs a campaign of bad input against the ports of a
// running rmqlog node (client, peer, and the broker's remoting port) and
// of `rmqlog namesrv`, and reports what the process did with each case.
//
// Run takes a Target (the node's client and peer addresses, its pid, its
// log file and the group's client addresses) and runs a table of named
// cases one after the other. During every case a bystander, a healthy
// client of the whole group (package client), appends and reads back,
// again and again. Each case opens its own connections, sends its input,
// records what the node answered and closes them; then the case is
// checked:
//
//	the node          still running (/proc/<pid>/status), answered as the
//	                  protocol says (docs/protocol.md)
//	memory            VmRSS, sampled every 25 ms, never more than
//	                  Options.RSSBound (64 MiB) above its value at the
//	                  case's start, nor twice that above the baseline
//	                  taken when Run starts; the rows also give RssAnon,
//	                  since most of a node's VmRSS is its mapped log files
//	descriptors       /proc/<pid>/fd back near the count before the case
//	bystander         no error but transient ones, no call stuck past 5 s,
//	                  and a good append and read after the case started
//	log               every connection the case expects to be refused
//	                  logged with the case's reason (matched by address),
//	                  none logged more than 3 times (no flooding)
//
// The client port's cases: random bytes; a CRC that lies; a length that
// lies (bigger than what follows, left idle; smaller); frames over the
// limit (by one byte, and 4 GiB - 1); frames cut short, then closed;
// append bodies whose counts lie; a range of a huge count; id 0 and a
// request with a code; unknown types; connections left idle up to and
// beyond clientMaxConnections; a slow reader (pipelines gets of a large
// entry and large appends, never reads: bounded, then dropped after the
// node's 10 s write deadline); clients idle after one large answer each;
// a slowloris (a request a byte per 100 ms).
//
// The peer port's cases: random bytes before the hello; a hello of a wrong
// group; a hello of a non-member; a hello claiming a real member followed
// by garbage frames, frames whose lengths lie, an Append of a huge count,
// an Append whose entry fails its CRC (extending the log, and in place of
// its last committed entry): the node must refuse it and its log stay
// unchanged, read back through the client port; many idle connections.
// The peer cases are meant for a follower: the peer port trusts member ids,
// so a forged Append of the current term deposes a leader.
//
// The remoting port's cases (a broker's listenPort; Target.RemotingAddr,
// NamesrvAddr and Topic set, and the bystander then a RocketMQ client that
// sends to the topic's queue 0, pulls the message back and asks the name
// server for the topic's route): malformed frames, one a connection
// (lengths under 4 and negative, 16 MiB + 1 and 2 GiB - 1, a header
// length beyond the frame, serialize type 7, truncated and non-object
// JSON, an unknown language, a code beyond int32, ROCKETMQ headers cut
// short, with a negative remark length, an extFields length of 1 GiB, a
// key or value length that lies, bytes after the extFields): each closed,
// logged once ("remoting: closing connection"); frames announcing 8 MiB
// and left idle; requests cut short, then closed; unknown codes in both
// serializations, each answered REQUEST_CODE_NOT_SUPPORTED on a
// connection that then serves a valid request; requests of
// remoting.MaxExtFields extFields, answered, and over the codec's limits,
// one a connection, each closed and logged naming the limit (one entry
// over, 20,000 entries or in the long form 10^6 in 13 MiB, as many empty
// entries as remoting.MaxHeaderLength holds); SEND_MESSAGE,
// SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE with garbage headers (missing
// and unknown topics, bad and out-of-range queue
// ids and numbers, a prepared transaction, delay levels out of range, a
// body over maxMessageSize, batch bodies whose lengths lie), each
// answered, those that cannot be served not SUCCESS, on one connection
// that stays; PULL_MESSAGE with garbage headers (huge and negative
// maxMsgNums, negative queue ids and offsets, ...); then every stored
// message of the topic pulled back and decoded at its queue and offset;
// a valid request trickled a byte at a time; many idle connections, and
// MaxConnections + 64 of them (the port must keep a bound, as the client
// port does, and close the rest); a
// flood of pipelined valid requests (every 10th a send); a full in-flight
// window of long-polling pulls, each with a body the pull does not need.
// The name server's: the same malformed frames, unknown codes, flood
// (the long form adds its idle connections, slowloris, announced frames
// and the extFields cases), and REGISTER_BROKER with missing fields,
// non-numbers, a body whose CRC lies, a body that is not JSON, a
// compressed registration.
//
// Options.Long selects the long form (more connections, longer holds, more
// random inputs; minutes) for chaos runs. Format renders a Report as a
// Markdown table. The package's tests start three real rmqlog processes
// for the client and peer cases, and `rmqlog namesrv` with a one-member
// broker group for the remoting and name server cases, and run the short
// form of every case:
//
//	go test ./internal/hostile/                       # short form, ~50 s
//	go test ./internal/hostile/ -timeout 30m -hostile.long -hostile.report=results/hostile.md
package hostile
