package hostile

import "time"

// form sizes the cases: the short form for `go test`, the long one for
// chaos runs.
type form struct {
	randomConns   int           // connections sending random bytes, per port
	randomBytes   int           // at most this many random bytes each
	lyingConns    int           // connections announcing a large frame and sending little
	lyingHold     time.Duration // how long they stay open, idle, before closing
	idleExtra     int           // connections beyond clientMaxConnections
	idleHold      time.Duration // how long the idle connections stay open
	slowClients   int           // clients that pipeline and never read
	slowGets      int           // gets of a large entry each pipelines (their answers fill the socket)
	slowAppends   int           // appends of a maxMessageSize+1 payload each pipelines after them
	largeReaders  int           // clients that read a 4 MiB range answer and then stay idle
	slowloris     int           // connections sending a request a byte per slowlorisStep
	slowlorisReqs int           // requests each of them sends
	peerIdle      int           // idle connections to the peer port
	remotingIdle  int           // idle connections to a remoting port (broker, name server)
	floodConns    int           // connections flooding a remoting port with valid requests
	floodReqs     int           // requests each of them pipelines
	trickleStep   time.Duration // a remoting slowloris's pace, per byte
	pullConns     int           // connections sending a window of long-polling pulls with bodies
	pullBody      int           // the body each of those pulls carries
	pullHold      time.Duration // their suspend timeout
	extFields     int           // extFields of a request over the codec's limit (too-many-ext-fields)
}

// slowlorisStep is the slowloris's pace.
const slowlorisStep = 100 * time.Millisecond

func formOf(long bool) form {
	if long {
		return form{randomConns: 64, randomBytes: 64 << 10, lyingConns: 256, lyingHold: 10 * time.Second,
			idleExtra: 2000, idleHold: 20 * time.Second, slowClients: 3, slowGets: 64, slowAppends: 256, largeReaders: 256,
			slowloris: 32, slowlorisReqs: 3, peerIdle: 3000,
			remotingIdle: 3000, floodConns: 32, floodReqs: 5000, trickleStep: 100 * time.Millisecond,
			pullConns: 8, pullBody: 4 << 20, pullHold: 10 * time.Second, extFields: 1_000_000}
	}
	return form{randomConns: 8, randomBytes: 4 << 10, lyingConns: 16, lyingHold: time.Second,
		idleExtra: 64, idleHold: time.Second, slowClients: 1, slowGets: 32, slowAppends: 48, largeReaders: 32,
		slowloris: 1, slowlorisReqs: 1, peerIdle: 400,
		remotingIdle: 400, floodConns: 4, floodReqs: 500, trickleStep: 5 * time.Millisecond,
		pullConns: 2, pullBody: 768 << 10, pullHold: time.Second, extFields: 20_000}
}
