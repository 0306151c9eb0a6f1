package engine

import "sync"

// maxQueuedRoles bounds the role changes waiting for a slow callback.
const maxQueuedRoles = 256

// notifier delivers role changes to the embedder's callback in order, on
// its own goroutine, so a slow callback never stalls the node.
type notifier struct {
	fn     func(RoleChange)
	mu     sync.Mutex // guards q and closed
	q      []RoleChange
	wake   chan struct{}
	done   chan struct{}
	closed bool
}

func newNotifier(fn func(RoleChange)) *notifier {
	n := &notifier{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go n.run()
	return n
}

func (n *notifier) push(rc RoleChange) {
	if n.fn == nil {
		return
	}
	n.mu.Lock()
	if len(n.q) >= maxQueuedRoles {
		n.q = n.q[1:] // a callback this far behind needs the latest roles, not every one
	}
	n.q = append(n.q, rc)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *notifier) run() {
	defer close(n.done)
	for range n.wake {
		for {
			n.mu.Lock()
			if len(n.q) == 0 || n.closed {
				n.mu.Unlock()
				break
			}
			rc := n.q[0]
			n.q = n.q[1:]
			n.mu.Unlock()
			n.fn(rc)
		}
		n.mu.Lock()
		closed := n.closed
		n.mu.Unlock()
		if closed {
			return
		}
	}
}

// close stops delivery and waits for a running callback to return.
func (n *notifier) close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
	<-n.done
}
