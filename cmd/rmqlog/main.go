// Command rmqlog runs an rmqlog node and operates a group.
//
//	rmqlog serve -c conf/broker-n0.conf      run a node from a RocketMQ broker properties file
//	rmqlog status --addr host:port[,...]     every node's role, term, leader, indexes and lag
//	rmqlog transfer --addr host:port[,...] --to n1
//	rmqlog member list --addr host:port[,...]   the configuration: voters, learners, their lag
//	rmqlog member add|promote|remove --addr host:port[,...] --id n3 [--peer host:port]
//	rmqlog dump <dataDir>                    decode a stopped node's log
//	rmqlog verify --addr host:port[,...]     compare the replicas' committed prefixes
//	rmqlog verify --dir d0,d1,d2             the same over stopped nodes' data directories
//	rmqlog append --addr host:port[,...] msg  append messages, print their indexes once committed
//	rmqlog get --addr host:port[,...] 2       print committed messages
//	rmqlog certs --dir certs --nodes n0,n1,n2 --clients admin   a development CA and certificates
//	rmqlog repair [--accept-loss] <dataDir>  show or end by hand a stopped node's repair
//	rmqlog namesrv [--listen :9876]          a RocketMQ name server
//	rmqlog topic create --namesrv ADDR --topic T --queues N   create a topic on every broker group
//	rmqlog topic list --namesrv ADDR         every topic, its broker groups and queue counts
//	rmqlog consumer progress --namesrv ADDR --group G [--topic T]   offsets and lag per queue
//	rmqlog version                           version, commit, Go release and protocol versions
//
// status, transfer, member, verify --addr, append and get take --tls-ca, --tls-cert
// and --tls-key for nodes with tlsClientEnable=true (docs/security.md).
// Every command takes --help. docs/config.md lists the configuration keys.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// exitError carries a process exit code; main prints its message (if any).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

var commands = []struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}{
	{"serve", "run a node from a RocketMQ broker properties file", serve},
	{"status", "show every node's role, term, leader, indexes and lag", status},
	{"transfer", "move leadership to another member", transfer},
	{"member", "list the group's members, or add (as a learner), promote or remove one", memberCmd},
	{"dump", "decode a stopped node's log", dump},
	{"verify", "compare the replicas' committed prefixes", verify},
	{"append", "append messages (arguments, or lines of stdin) and print their indexes", appendCmd},
	{"get", "print committed messages by index", getCmd},
	{"certs", "write a development CA and node and client certificates for TLS", certsCmd},
	{"repair", "show or end by hand a stopped node's repair of a log that may lack entries it acknowledged", repairCmd},
	{"namesrv", "run a RocketMQ name server (brokers register, clients look up topic routes)", namesrvCmd},
	{"topic", "create or list RocketMQ topics (create: on every broker group's master)", topicCmd},
	{"consumer", "show a RocketMQ consumer group's progress: offsets and lag per queue", consumerCmd},
	{"commitlog", "check a classic RocketMQ broker's CommitLog copies, or import one into a new group (docs/upgrade.md)", commitlogCmd},
	{"version", "print the version, commit and protocol versions of this binary", versionCmd},
}

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, ee.msg)
		}
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "rmqlog:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return &exitError{code: 2}
		}
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			errOut := stderr
			if wantsHelp(args[1:]) {
				errOut = stdout // asked for: readable with | less
			}
			err := c.run(args[1:], stdout, errOut)
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
	}
	usage(stderr)
	return &exitError{code: 2, msg: fmt.Sprintf("rmqlog: unknown command %q; see the list above", args[0])}
}

// wantsHelp reports whether args ask for a command's usage.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			return true
		case "--":
			return false
		}
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "rmqlog: a Raft-replicated commit log for message brokers (RocketMQ DLedger mode, rebuilt)")
	fmt.Fprintln(w, "\nUsage: rmqlog <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'rmqlog <command> --help' for a command's flags. Keys: docs/config.md.")
}

// flags returns a FlagSet for command name that prints its usage to w.
func flags(name, synopsis string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: rmqlog %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; a usage error exits 2 after the usage was printed.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2}
	}
	return nil
}

// parseAddrs parses args and returns --addr's list (required).
func parseAddrs(fs *flag.FlagSet, args []string, addr *string) ([]string, error) {
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	return addrList(*addr)
}

// addrList splits --addr's comma-separated list.
func addrList(s string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, &exitError{code: 2, msg: "rmqlog: --addr is required: the client addresses (rmqlogClientPort) of the nodes, e.g. --addr 127.0.0.1:30913,127.0.0.1:30923,127.0.0.1:30933"}
	}
	return out, nil
}
