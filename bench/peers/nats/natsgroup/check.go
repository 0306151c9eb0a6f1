package natsgroup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rmqlog/rmqlog/internal/bench"
	"github.com/rmqlog/rmqlog/internal/load"
)

// maxPlacementTries bounds the consumers Check creates to get one on a
// given node: each lands on a replica chosen at random, so 30 tries miss
// with probability (2/3)^30 < 1e-5.
const maxPlacementTries = 30

// checkPull is how much a reading consumer asks for at once.
const (
	checkPullMsgs  = 8192
	checkPullBytes = 32 << 20
)

// checkConsumers numbers the consumers Check creates, for unique names.
var checkConsumers atomic.Int64

// Check waits until every running node's replica is current (lag 0 in the
// leader's stream info, and the node's own /jsz last_seq equal to the
// stream's last sequence), then reads the whole stream, 1 to the last
// sequence, from every running node (all at once) and compares each copy
// with acks:
//
//   - lost: acknowledged sequences that some node lacks, or where it holds
//     other bytes than load.FillPayload(payload bytes, id);
//   - duplicates: operation ids (load.PayloadID) found at more than one
//     sequence, the largest count over the nodes.
//
// Reading "from a node" is exact: a consumer with one replica is served
// from the store of the server that hosts it, and Check creates one
// (AckNone, memory state) until the cluster places it on the node it
// wants, then deletes it after reading. A node not running is not read;
// detail says which nodes were read and what each held. Entries no ack
// names are not compared across nodes (Diverged stays empty): a stream
// message carries no term or CRC to compare cheaply.
func (g *Group) Check(ctx context.Context, acks []load.Ack, payload int) (bench.CheckReport, error) {
	info, err := g.waitCurrent(ctx)
	if err != nil {
		return bench.CheckReport{}, err
	}
	last := info.State.LastSeq
	if err := g.waitReplicasHold(ctx, last); err != nil {
		return bench.CheckReport{}, err
	}
	scans, err := g.readAll(ctx, acks, payload, last)
	if err != nil {
		return bench.CheckReport{}, err
	}
	lost, duplicates, lines := g.summarize(scans)
	head := fmt.Sprintf("stream %s 1..%d, leader %s; read from each node through a consumer on it:", StreamName, last, info.Cluster.Leader)
	return bench.CheckReport{Lost: lost, Duplicates: duplicates, Detail: head + "\n" + lines}, nil
}

// summarize merges the nodes' verifiers: the sequences lost on any node,
// the most duplicate ids on one node, and a line per node.
func (g *Group) summarize(scans []*verifier) (lost []uint64, duplicates int64, lines string) {
	lostSet := make(map[uint64]struct{})
	var b strings.Builder
	for i, n := range g.nodes {
		v := scans[i]
		if v == nil {
			fmt.Fprintf(&b, "%s: not running, not read\n", n.cfg.Name)
			continue
		}
		nodeLost, dups := v.finish()
		for _, s := range nodeLost {
			lostSet[s] = struct{}{}
		}
		duplicates = max(duplicates, dups)
		fmt.Fprintf(&b, "%s: read %d, lost %d, duplicate ids %d, too short %d\n", n.cfg.Name, v.read, len(nodeLost), dups, v.short)
	}
	for s := range lostSet {
		lost = append(lost, s)
	}
	slices.Sort(lost)
	return lost, duplicates, strings.TrimSuffix(b.String(), "\n")
}

// readAll reads every running node at once, each into a verifier of its
// own (nil for a node not running).
func (g *Group) readAll(ctx context.Context, acks []load.Ack, payload int, last uint64) ([]*verifier, error) {
	scans := make([]*verifier, len(g.nodes))
	errs := make([]error, len(g.nodes))
	var wg sync.WaitGroup
	for i, n := range g.nodes {
		if n.running() == nil {
			continue
		}
		scans[i] = newVerifier(acks, payload)
		wg.Go(func() { errs[i] = g.readNode(ctx, n.cfg.Name, last, scans[i]) })
	}
	wg.Wait()
	return scans, errors.Join(errs...)
}

// waitReplicasHold waits until every running node's own store reports
// last as its last sequence.
func (g *Group) waitReplicasHold(ctx context.Context, last uint64) error {
	for _, n := range g.nodes {
		if n.running() == nil {
			continue
		}
		if err := g.WaitCaughtUp(ctx, n.cfg.Name, last); err != nil {
			return err
		}
	}
	return nil
}

// readNode feeds v the stream 1..last as node stores it.
func (g *Group) readNode(ctx context.Context, node string, last uint64, v *verifier) error {
	if last == 0 {
		return nil
	}
	js, closeConn, err := g.dialNode(node)
	if err != nil {
		return err
	}
	defer closeConn()
	stream, err := openStream(ctx, js)
	if err != nil {
		return err
	}
	c, name, err := g.consumerOn(ctx, stream, node)
	if err != nil {
		return err
	}
	defer g.deleteConsumer(stream, name)
	it, err := c.Messages(jetstream.PullMaxMessagesWithBytesLimit(checkPullMsgs, checkPullBytes))
	if err != nil {
		return fmt.Errorf("natsgroup: reading %s on %s: %w", StreamName, node, err)
	}
	defer it.Stop()
	if err := scan(ctx, it, last, v); err != nil {
		return fmt.Errorf("natsgroup: reading %s on %s after sequence %d: %w", StreamName, node, v.last, err)
	}
	return nil
}

// dialNode connects to the node alone. Reading through the node itself
// keeps the consumer's subscription local to the connection's server, so
// the first pull cannot race its propagation over the routes, and the
// messages come straight from the node.
func (g *Group) dialNode(node string) (jetstream.JetStream, func(), error) {
	n, err := g.mustNode(node)
	if err != nil {
		return nil, nil, err
	}
	nc, err := nats.Connect("nats://"+hostPort(n.cfg.ClientPort), nats.Name("rmqbench-check-"+node), nats.NoReconnect())
	if err != nil {
		return nil, nil, fmt.Errorf("natsgroup: connecting to node %s: %w", node, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("natsgroup: %w", err)
	}
	return js, nc.Close, nil
}

// scan feeds v what it delivers, up to sequence last or the end of what
// the consumer's server holds.
func scan(ctx context.Context, it jetstream.MessagesContext, last uint64, v *verifier) error {
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return err
		}
		meta, err := msg.Metadata()
		if err != nil {
			return err
		}
		seq := meta.Sequence.Stream
		if seq > last {
			return nil
		}
		v.add(seq, msg.Data())
		if seq == last || meta.NumPending == 0 {
			return nil
		}
	}
}

// openStream returns a handle on the stream.
func openStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	actx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	s, err := js.Stream(actx, StreamName)
	if err != nil {
		return nil, fmt.Errorf("natsgroup: stream %s: %w", StreamName, err)
	}
	return s, nil
}

// consumerOn creates reading consumers until one is hosted by node, and
// returns it with its name.
func (g *Group) consumerOn(ctx context.Context, stream jetstream.Stream, node string) (jetstream.Consumer, string, error) {
	var hosts []string
	for range maxPlacementTries {
		name := fmt.Sprintf("check-%s-%d", node, checkConsumers.Add(1))
		c, err := createReader(ctx, stream, name)
		if err != nil {
			return nil, "", err
		}
		host, err := consumerHost(ctx, c)
		if err == nil && host == node {
			return c, name, nil
		}
		hosts = append(hosts, host)
		g.deleteConsumer(stream, name)
	}
	return nil, "", fmt.Errorf("natsgroup: %d consumers of %s landed on %v, none on %s", maxPlacementTries, StreamName, hosts, node)
}

// createReader creates a consumer that delivers the whole stream once:
// one replica (so one server's store serves it), state in memory, no
// acknowledgements, removed by the server if left idle.
func createReader(ctx context.Context, stream jetstream.Stream, name string) (jetstream.Consumer, error) {
	actx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	c, err := stream.CreateConsumer(actx, jetstream.ConsumerConfig{
		Name:              name,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		Replicas:          1,
		MemoryStorage:     true,
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("natsgroup: creating consumer %s on %s: %w", name, StreamName, err)
	}
	return c, nil
}

// consumerHost returns the server that hosts (leads) consumer c.
func consumerHost(ctx context.Context, c jetstream.Consumer) (string, error) {
	if ci := c.CachedInfo(); ci != nil && ci.Cluster != nil && ci.Cluster.Leader != "" {
		return ci.Cluster.Leader, nil
	}
	actx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	ci, err := c.Info(actx)
	if err != nil {
		return "", err
	}
	if ci.Cluster == nil || ci.Cluster.Leader == "" {
		return "", errors.New("natsgroup: consumer has no leader yet")
	}
	return ci.Cluster.Leader, nil
}

// deleteConsumer removes a reading consumer; a failure is left to the
// consumer's inactivity threshold.
func (g *Group) deleteConsumer(stream jetstream.Stream, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	_ = stream.DeleteConsumer(ctx, name)
}
