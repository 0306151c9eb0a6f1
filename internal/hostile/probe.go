package hostile

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/rmqlog/rmqlog/client/proto"
	"github.com/rmqlog/rmqlog/remoting"
	"golang.org/x/sys/unix"
)

// probe is one raw connection a case opens to the node.
type probe struct {
	nc   *net.TCPConn
	addr string // the local address: how the node's log names this connection
	e    *env
	rd   *remoting.Reader // reads a remoting port's responses (set at the first)
}

// dialTimeout bounds every dial of a case.
const dialTimeout = 2 * time.Second

// dial opens a connection to addr and registers it with the case (closed
// when the case ends).
func (e *env) dial(addr string) (*probe, error) {
	c, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		return nil, fmt.Errorf("hostile: dial %s: %w", addr, err)
	}
	p := &probe{nc: c.(*net.TCPConn), addr: c.LocalAddr().String(), e: e}
	e.mu.Lock()
	e.probes = append(e.probes, p)
	e.row.Conns++
	e.mu.Unlock()
	return p, nil
}

// send writes b within d.
func (p *probe) send(b []byte, d time.Duration) error {
	p.nc.SetWriteDeadline(time.Now().Add(d))
	n, err := p.nc.Write(b)
	p.e.sent.Add(int64(n))
	return err
}

// mustLog says the node must log this connection with the case's reason.
func (p *probe) mustLog() {
	p.e.mu.Lock()
	p.e.logged = append(p.e.logged, p.addr)
	p.e.mu.Unlock()
}

func (p *probe) close() { p.nc.Close() }

// peerClosed reports whether the node closed its end (FIN or reset),
// without reading what it sent.
func (p *probe) peerClosed() bool {
	rc, err := p.nc.SyscallConn()
	if err != nil {
		return true
	}
	var state uint8
	rc.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			state = info.State
		}
	})
	return state != tcpEstablished
}

const tcpEstablished = 1 // tcp_states.h: TCP_ESTABLISHED

// clientAnswers reads client-port frames for up to d, until the node
// closes the connection, and returns what it answered: the codes of the
// frames, then "close" or "open" (nothing more). Once n frames came, it
// waits only quietWait more.
func (p *probe) clientAnswers(d time.Duration, n int) []string {
	out := p.frames(d, n)
	if len(out) == n {
		out = append(out, p.frames(quietWait, -1)...)
	}
	return out
}

// frames reads up to n client-port frames (n < 0: any number) within d
// and returns their codes; if the reading ended first, the last element
// says how ("close", "open").
func (p *probe) frames(d time.Duration, n int) []string {
	p.nc.SetReadDeadline(time.Now().Add(d))
	hdr := make([]byte, proto.HeaderSize)
	var out []string
	for len(out) != n {
		h, _, err := proto.ReadFrame(p.nc, hdr, 64<<20)
		if err != nil {
			return append(out, endOf(err))
		}
		out = append(out, h.Code.String())
	}
	return out
}

// quietWait is how long a connection that answered what was expected is
// watched for more.
const quietWait = 300 * time.Millisecond

// endOf names how a read ended: "close" (the node closed or reset the
// connection), "open" (a deadline: the node said nothing more), or
// "garbage" (the node sent something unreadable).
func endOf(err error) string {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "open"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, net.ErrClosed), errors.Is(err, syscall.EPIPE):
		return "close"
	}
	return "garbage: " + err.Error()
}

// answered records one connection's answers in the case's row.
func (e *env) answered(what []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.answers[strings.Join(what, "+")]++
}

// answerSummary renders the answers: "too large+open ×1, close ×8".
func answerSummary(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s ×%d", k, m[k])
	}
	return b.String()
}
