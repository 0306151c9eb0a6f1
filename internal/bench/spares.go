package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Spare is a node prepared to join a group (Rmqlog.Spares): what `rmqlog
// member add` needs of it.
type Spare struct {
	ID     string
	Peer   string // its peer address, as its dLegerPeers entry gives it
	Client string // its client address
}

// StartSpare starts the next prepared spare (rmqlogJoin=true: no member
// until the leader adds it), counts it among the nodes from now on, and
// waits until it answers Meta. A new node zero-fills its first segment
// file before it answers: with the default 1 GiB segments, seconds.
func (g *rmqGroup) StartSpare(ctx context.Context) (Spare, error) {
	g.mu.Lock()
	if len(g.spares) == 0 {
		g.mu.Unlock()
		return Spare{}, errors.New("bench: no spare node left (Rmqlog.Spares)")
	}
	id := g.spares[0]
	g.spares = g.spares[1:]
	g.nodes = append(g.nodes, id)
	g.mu.Unlock()
	if err := g.startNode(id); err != nil {
		return Spare{}, err
	}
	err := poll(ctx, "node "+id+" answering", func() (bool, error) {
		if !g.running(id) {
			return false, &stopError{fmt.Errorf("node %s exited; the end of its log:\n%s", id, tail(g.logPath(id), 5))}
		}
		_, err := Meta(ctx, g.addrs[id])
		return err == nil, err
	})
	return Spare{ID: id, Peer: g.peers[id], Client: g.addrs[id]}, err
}

// Retire stops node id for good, once it was removed from the group:
// SIGTERM, then SIGKILL after 30 s. It no longer counts among the nodes;
// its data and log stay until the group stops.
func (g *rmqGroup) Retire(id string) error {
	g.mu.Lock()
	g.nodes = slices.DeleteFunc(g.nodes, func(x string) bool { return x == id })
	p := g.procs[id]
	g.mu.Unlock()
	if p == nil {
		return nil
	}
	if err := p.Stop(30 * time.Second); err != nil {
		return fmt.Errorf("bench: retiring node %s: %w (log: %s)", id, err, p.LogPath())
	}
	return nil
}

func (g *rmqGroup) logPath(id string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.procs[id]; p != nil {
		return p.LogPath()
	}
	return ""
}
