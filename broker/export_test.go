package broker

// RewindApplied moves the applied index back by one: the state a pull
// can meet while the applier is between putting an entry's units in the
// consume queues and storing applied.
func (b *Broker) RewindApplied() { b.applied.Add(^uint64(0)) }

// ForgetPhysIndex empties the index of recent entries: pulls then find
// entries by the search over the log.
func (b *Broker) ForgetPhysIndex() {
	b.phys.mu.Lock()
	b.phys.head, b.phys.n = 0, 0
	b.phys.mu.Unlock()
}
