package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/admin"
)

func status(args []string, stdout, stderr io.Writer) error {
	fs := flags("status", "status --addr host:port[,host:port...] [--json | --leader]", stderr)
	addrs := fs.String("addr", "", "client addresses (rmqlogClientPort) of the nodes, comma-separated")
	asJSON := fs.Bool("json", false, "print JSON (one object per node) instead of a table")
	leader := fs.Bool("leader", false, "print only the id of the writable leader (exit 1 if none answered as one)")
	timeout := fs.Duration("timeout", 3*time.Second, "per-node timeout")
	tf := addTLSFlags(fs, "status")
	list, err := parseAddrs(fs, args, addrs)
	if err != nil {
		return err
	}
	ctx, err := tf.context(context.Background())
	if err != nil {
		return err
	}
	nodes := admin.Status(ctx, list, *timeout)
	if *leader {
		for _, n := range nodes {
			if n.Err == "" && n.Role == "leader" && n.Writable {
				fmt.Fprintln(stdout, n.Self)
				return nil
			}
		}
		return &exitError{code: 1, msg: "rmqlog status: no writable leader among " + strings.Join(list, ", ")}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(nodes); err != nil {
			return err
		}
	} else if err := admin.WriteStatusTable(stdout, nodes); err != nil {
		return err
	}
	for _, n := range nodes {
		if n.Err != "" {
			msg := fmt.Sprintf("rmqlog status: %s unreachable: %s", n.Addr, n.Err)
			if !strings.Contains(n.Err, "rmqlogClientPort") {
				msg += " (is the node running, and is this its client port (rmqlogClientPort, by default listenPort+2)?)"
			}
			return &exitError{code: 1, msg: msg}
		}
	}
	return nil
}

func transfer(args []string, stdout, stderr io.Writer) error {
	fs := flags("transfer", "transfer --addr host:port[,host:port...] --to <node id>", stderr)
	addrs := fs.String("addr", "", "client addresses (rmqlogClientPort) of any nodes of the group, comma-separated")
	to := fs.String("to", "", "the member (dLegerSelfId) to make leader, e.g. n1")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	tf := addTLSFlags(fs, "transfer")
	list, err := parseAddrs(fs, args, addrs)
	if err != nil {
		return err
	}
	if *to == "" {
		return &exitError{code: 2, msg: "rmqlog transfer: --to is required: the id of the member to make leader (as in dLegerPeers), e.g. --to n1"}
	}
	base, err := tf.context(context.Background())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(base, *timeout)
	defer cancel()
	if err := admin.Transfer(ctx, list, *to); err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("rmqlog transfer: %v", err)}
	}
	fmt.Fprintf(stdout, "leadership moved to %s\n", *to)
	return nil
}

func dump(args []string, stdout, stderr io.Writer) error {
	fs := flags("dump", "dump [--from N] [--to N] [--payload text|hex|none] <dataDir>", stderr)
	from := fs.Uint64("from", 0, "first index to print")
	to := fs.Uint64("to", 0, "last index to print (0: to the end)")
	pay := fs.String("payload", "text", "how to print payloads: text (quoted), hex or none")
	max := fs.Int("max", 64, "payload bytes printed per entry")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{code: 2, msg: "rmqlog dump: give one data directory (storePathRootDir or storePathCommitLog) of a stopped node"}
	}
	_, err := admin.Dump(stdout, fs.Arg(0), admin.DumpOptions{From: *from, To: *to, Payload: *pay, Max: *max})
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("rmqlog dump: %v", err)}
	}
	return nil
}

func verify(args []string, stdout, stderr io.Writer) error {
	fs := flags("verify", "verify --addr host:port[,...]  |  verify --dir dir0,dir1[,...]", stderr)
	addrs := fs.String("addr", "", "client addresses of the running nodes to compare, comma-separated")
	dirs := fs.String("dir", "", "data directories of stopped nodes to compare, comma-separated")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	tf := addTLSFlags(fs, "verify")
	if err := parse(fs, args); err != nil {
		return err
	}
	var r admin.Report
	var err error
	switch {
	case *addrs != "" && *dirs == "":
		list, _ := addrList(*addrs)
		base, terr := tf.context(context.Background())
		if terr != nil {
			return terr
		}
		ctx, cancel := context.WithTimeout(base, *timeout)
		defer cancel()
		r, err = admin.Verify(ctx, list)
	case *dirs != "" && *addrs == "":
		r, err = admin.VerifyDirs(strings.Split(*dirs, ","))
	default:
		fs.Usage()
		return &exitError{code: 2, msg: "rmqlog verify: give either --addr (running nodes) or --dir (stopped nodes' data directories)"}
	}
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("rmqlog verify: %v", err)}
	}
	fmt.Fprint(stdout, r.String())
	if !r.Identical() {
		return &exitError{code: 1}
	}
	return nil
}
