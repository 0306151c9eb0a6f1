package engine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/rmqlog/rmqlog/engine"
	"github.com/rmqlog/rmqlog/flush"
)

// A broker embeds a node: it opens it from its config, waits to be told it
// is the master (leader), appends, and reads committed entries. This group
// has one member so the example runs alone; a real group lists every
// member in Peers (dLegerPeers) and runs Open on each.
func Example() {
	dir, err := os.MkdirTemp("", "rmqlog-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the peer port
	if err != nil {
		panic(err)
	}
	master := make(chan struct{}, 1)
	node, err := engine.Open(engine.Config{
		Group: "broker-a", ID: "n0", Peers: map[string]string{"n0": ln.Addr().String()}, Listener: ln,
		Dir: dir, FlushMode: flush.SyncFlush, SegmentSize: 8 << 20, IndexEntries: 4096,
		OnRoleChange: func(rc engine.RoleChange) {
			if rc.Role == engine.Leader { // writable: switch the broker to master
				select {
				case master <- struct{}{}:
				default:
				}
			}
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	defer node.Close()
	<-master

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	i, err := node.Append(ctx, []byte("hello")) // returns once committed (here: fsynced)
	if err != nil {
		panic(err) // on a follower: a *engine.NotLeaderError naming the leader
	}
	if _, err := node.AppendBatch(ctx, [][]byte{[]byte("a"), []byte("b")}); err != nil {
		panic(err)
	}
	it := node.Iter(i) // committed entries in order; index 1 is the leader's no-op
	for range 3 {
		e, err := it.Next(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%d %s\n", e.Index, e.Payload)
	}
	st := node.Status()
	fmt.Println(st.Role, st.Commit)
	// Output:
	// 2 hello
	// 3 a
	// 4 b
	// leader 4
}
