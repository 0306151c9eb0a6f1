package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/rmqlog/rmqlog/client"
)

// appendCmd appends its arguments (or, with none, each line of stdin) as
// entries and prints each one's index once it is committed.
func appendCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("append", "append --addr host:port[,...] [message...]   (no message: one entry per line of stdin)", stderr)
	addrs := fs.String("addr", "", "client addresses (rmqlogClientPort) of any nodes of the group, comma-separated")
	timeout := fs.Duration("timeout", 10*time.Second, "per entry: give up after this long (the client retries across a failover meanwhile)")
	tf := addTLSFlags(fs, "append")
	list, err := parseAddrs(fs, args, addrs)
	if err != nil {
		return err
	}
	c, err := dialGroup(list, *timeout, tf)
	if err != nil {
		return err
	}
	defer c.Close()
	put := func(p []byte) error {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		i, err := c.Append(ctx, p)
		if err != nil {
			return &exitError{code: 1, msg: fmt.Sprintf("rmqlog append: %v", err)}
		}
		fmt.Fprintln(stdout, i)
		return nil
	}
	if fs.NArg() > 0 {
		for _, a := range fs.Args() {
			if err := put([]byte(a)); err != nil {
				return err
			}
		}
		return nil
	}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		if err := put(sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// getCmd prints committed entries' payloads.
func getCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("get", "get --addr host:port[,...] <index>...", stderr)
	addrs := fs.String("addr", "", "client addresses (rmqlogClientPort) of any nodes of the group, comma-separated")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	tf := addTLSFlags(fs, "get")
	list, err := parseAddrs(fs, args, addrs)
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return &exitError{code: 2, msg: "rmqlog get: give at least one index, e.g. rmqlog get --addr 127.0.0.1:30913 2"}
	}
	c, err := dialGroup(list, *timeout, tf)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	for _, a := range fs.Args() {
		i, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return &exitError{code: 2, msg: fmt.Sprintf("rmqlog get: %q is not an index (a positive integer)", a)}
		}
		p, err := c.Get(ctx, i)
		if errors.Is(err, client.ErrNoop) {
			fmt.Fprintf(stderr, "index %d is a leader's no-op entry (no message)\n", i)
			continue
		}
		if err != nil {
			return &exitError{code: 1, msg: fmt.Sprintf("rmqlog get: %v", err)}
		}
		stdout.Write(append(p, '\n'))
	}
	return nil
}

func dialGroup(addrs []string, timeout time.Duration, tf *tlsFlags) (*client.Client, error) {
	opts, err := tf.options()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := client.Dial(ctx, addrs, append(opts, client.WithFailFast())...)
	if err != nil {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("rmqlog: %v", err)}
	}
	return c, nil
}
