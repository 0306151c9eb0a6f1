package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/rmqlog/rmqlog/client"
)

// The example needs a running group (the README's quick start: conf/broker-n{0,1,2}.conf), so it
// is compiled but not run.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, []string{"127.0.0.1:30913", "127.0.0.1:30923", "127.0.0.1:30933"})
	if err != nil {
		log.Fatal(err) // names every address tried and why it failed
	}
	defer c.Close()

	// One message: the index is returned once the entry is committed.
	index, err := c.Append(ctx, []byte("order 42 paid"))
	switch {
	case errors.Is(err, client.ErrTooLarge):
		log.Fatal(err) // over the node's maxMessageSize: not sent
	case err != nil:
		log.Fatal(err) // the outcome is unknown: the entry may still commit
	}

	// Pipelined: send many, then wait for each commit.
	var futures []*client.Future
	for i := range 100 {
		futures = append(futures, c.AppendAsync(fmt.Appendf(nil, "event %d", i)))
	}
	for _, f := range futures {
		if _, err := f.Wait(ctx); err != nil {
			log.Fatal(err)
		}
	}

	// Read back.
	payload, err := c.Get(ctx, index)
	if err != nil {
		log.Fatal(err)
	}
	entries, err := c.Range(ctx, index, 10)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s, then %d entries\n", payload, len(entries))
}

// An admin tool asks one node, whatever its role.
func ExampleWithPinned() {
	ctx := context.Background()
	c, err := client.Dial(ctx, []string{"127.0.0.1:30923"}, client.WithPinned())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	m, err := c.Meta(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s is %s in term %d, commit %d, leader %s at %s\n", m.ID, m.Role, m.Term, m.Commit, m.Leader, m.LeaderAddr)
	var nle *client.NotLeaderError
	if _, err := c.Append(ctx, []byte("x")); errors.As(err, &nle) {
		fmt.Println("not the leader; the leader is at", nle.LeaderAddr)
	}
}
