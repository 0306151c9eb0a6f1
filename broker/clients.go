package broker

import (
	"sort"
	"sync"
	"time"
)

// clients are the consumer groups' live client ids, from HEART_BEAT, kept
// in memory with expiry (RocketMQ's ConsumerManager). mu guards groups.
type clients struct {
	mu     sync.Mutex
	groups map[string]map[string]time.Time // group -> client id -> last heartbeat
	conns  map[string]map[string]bool      // peer address -> client ids heard on it
}

func newClients() *clients {
	return &clients{groups: map[string]map[string]time.Time{}, conns: map[string]map[string]bool{}}
}

// heartbeat records client id, heard on the connection from peer, as a
// member of groups.
func (c *clients) heartbeat(id, peer string, groups []string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if peer != "" {
		if c.conns[peer] == nil {
			c.conns[peer] = map[string]bool{}
		}
		c.conns[peer][id] = true
	}
	for _, g := range groups {
		m := c.groups[g]
		if m == nil {
			m = map[string]time.Time{}
			c.groups[g] = m
		}
		m[id] = now
	}
}

func (c *clients) unregister(id, group string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if group != "" {
		delete(c.groups[group], id)
		return
	}
	for _, m := range c.groups {
		delete(m, id)
	}
}

// closed forgets the clients heard on a connection that ended (RocketMQ's
// ClientHousekeepingService.onChannelClose).
func (c *clients) closed(peer string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.conns[peer] {
		for _, m := range c.groups {
			delete(m, id)
		}
	}
	delete(c.conns, peer)
}

// list returns group's client ids heard from within expiry, sorted, and
// forgets the others.
func (c *clients) list(group string, now time.Time, expiry time.Duration) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := []string{}
	for id, t := range c.groups[group] {
		if now.Sub(t) > expiry {
			delete(c.groups[group], id)
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
