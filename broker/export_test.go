package broker

// RewindApplied moves the applied index back by one: the state a pull
// can meet while the applier is between putting an entry's units in the
// consume queues and storing applied.
func (b *Broker) RewindApplied() { b.applied.Add(^uint64(0)) }
