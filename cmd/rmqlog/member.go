package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/admin"
	"github.com/rmqlog/rmqlog/client/proto"
)

const memberSynopsis = `  rmqlog member list    --addr HOST:PORT[,HOST:PORT...] [--json]
  rmqlog member add     --addr HOST:PORT[,...] --id ID --peer HOST:PORT [--client HOST:PORT] [--json]
  rmqlog member promote --addr HOST:PORT[,...] --id ID [--json]
  rmqlog member remove  --addr HOST:PORT[,...] --id ID [--json]

A group changes one member at a time (docs/membership.md). To add a node: start it with
rmqlogJoin=true and a dLegerPeers naming it and the members; 'member add' makes it a learner
(it receives the log, does not vote); once 'member list' shows its lag near 0, 'member promote'
makes it a voter. 'member remove' takes a member out (the leader too: it hands off first).
After each change, put the dLegerPeers line it prints in every member's properties file.`

func memberCmd(args []string, stdout, stderr io.Writer) error {
	return subcommand("member", map[string]func([]string, io.Writer, io.Writer) error{
		"list": memberList, "add": memberChange(proto.MemberAdd), "promote": memberChange(proto.MemberPromote),
		"remove": memberChange(proto.MemberRemove)}, memberSynopsis, args, stdout, stderr)
}

// memberFlags are the flags every member subcommand takes.
type memberFlags struct {
	addrs   *string
	asJSON  *bool
	timeout *time.Duration
	tls     *tlsFlags
}

func addMemberFlags(fs *flag.FlagSet, cmd string) memberFlags {
	return memberFlags{
		addrs:   fs.String("addr", "", "client addresses (rmqlogClientPort) of any members of the group, comma-separated"),
		asJSON:  fs.Bool("json", false, "print the configuration as JSON instead of a table"),
		timeout: fs.Duration("timeout", 15*time.Second, "give up after this long"),
		tls:     addTLSFlags(fs, cmd),
	}
}

// context returns the command's context, carrying the TLS options.
func (f memberFlags) context() (context.Context, context.CancelFunc, error) {
	base, err := f.tls.context(context.Background())
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(base, *f.timeout)
	return ctx, cancel, nil
}

func (f memberFlags) print(w io.Writer, m proto.Members) error {
	if *f.asJSON {
		return printJSON(w, admin.NewMembersDoc(m))
	}
	return admin.WriteMembersTable(w, m)
}

func memberList(args []string, stdout, stderr io.Writer) error {
	fs := flags("member list", "member list --addr HOST:PORT[,HOST:PORT...] [--json]", stderr)
	mf := addMemberFlags(fs, "member list")
	list, err := parseAddrs(fs, args, mf.addrs)
	if err != nil {
		return err
	}
	ctx, cancel, err := mf.context()
	if err != nil {
		return err
	}
	defer cancel()
	m, err := admin.Members(ctx, list)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("rmqlog member list: %v", err)}
	}
	return mf.print(stdout, m)
}

// memberChange returns the subcommand that applies op.
func memberChange(op proto.MemberOp) func([]string, io.Writer, io.Writer) error {
	return func(args []string, stdout, stderr io.Writer) error {
		cmd := "member " + op.String()
		synopsis := cmd + " --addr HOST:PORT[,...] --id ID [--json]"
		if op == proto.MemberAdd {
			synopsis = cmd + " --addr HOST:PORT[,...] --id ID --peer HOST:PORT [--client HOST:PORT] [--json]"
		}
		fs := flags(cmd, synopsis, stderr)
		mf := addMemberFlags(fs, cmd)
		r := proto.MemberRequest{Op: op}
		fs.StringVar(&r.ID, "id", "", "the member's id (its dLegerSelfId), e.g. n3")
		if op == proto.MemberAdd {
			fs.StringVar(&r.Peer, "peer", "", "the new member's peer address (its dLegerPeers entry, where it listens for replication)")
			fs.StringVar(&r.Client, "client", "", "the new member's client address (its rmqlogClientPort address), optional")
		}
		list, err := parseAddrs(fs, args, mf.addrs)
		if err != nil {
			return err
		}
		if err := checkMemberFlags(fs, r); err != nil {
			return err
		}
		ctx, cancel, err := mf.context()
		if err != nil {
			return err
		}
		defer cancel()
		m, err := admin.ChangeMember(ctx, list, r)
		if err != nil {
			msg := fmt.Sprintf("rmqlog %s: %v", cmd, err)
			if advice := admin.MemberAdvice(r, err); advice != "" {
				msg += "\n" + advice
			}
			return &exitError{code: 1, msg: msg}
		}
		if *mf.asJSON {
			return mf.print(stdout, m)
		}
		reportChange(stdout, r, m, list)
		return mf.print(stdout, m)
	}
}

// checkMemberFlags refuses a change without the flags it needs (exit 2).
func checkMemberFlags(fs *flag.FlagSet, r proto.MemberRequest) error {
	switch {
	case r.ID == "":
		fs.Usage()
		return &exitError{code: 2, msg: fmt.Sprintf("rmqlog member %s: --id is required: the member's id (its dLegerSelfId), e.g. --id n3", r.Op)}
	case r.Op == proto.MemberAdd && r.Peer == "":
		fs.Usage()
		return &exitError{code: 2, msg: "rmqlog member add: --peer is required: the new member's peer address, as in its dLegerPeers entry, e.g. --peer 127.0.0.1:40914"}
	case fs.NArg() > 0:
		fs.Usage()
		return &exitError{code: 2, msg: fmt.Sprintf("rmqlog member %s: unexpected arguments %q: give the member with --id", r.Op, strings.Join(fs.Args(), " "))}
	}
	return nil
}

// reportChange says what the change did and what the operator does next.
func reportChange(w io.Writer, r proto.MemberRequest, m proto.Members, addrs []string) {
	switch r.Op {
	case proto.MemberAdd:
		fmt.Fprintf(w, "%s added as a learner at configuration index %d: it receives the log and does not vote yet.\n", r.ID, m.Index)
		fmt.Fprintf(w, "%s must have been started with rmqlogJoin=true and a dLegerPeers naming it and the members (docs/membership.md).\n", r.ID)
		fmt.Fprintf(w, "Once 'rmqlog member list' shows its lag near 0, make it a voter:\n  rmqlog member promote --addr %s --id %s\n",
			strings.Join(addrs, ","), r.ID)
	case proto.MemberPromote:
		fmt.Fprintf(w, "%s is a voter at configuration index %d.\n", r.ID, m.Index)
		return // the addresses are unchanged
	case proto.MemberRemove:
		fmt.Fprintf(w, "%s removed at configuration index %d: it no longer votes or receives the log; stop it.\n", r.ID, m.Index)
		voters := 0
		for _, x := range m.Members {
			if !x.Learner {
				voters++
			}
		}
		switch voters {
		case 1:
			fmt.Fprintf(w, "WARNING: the group has 1 voter left: an acknowledged entry may be on that node only; add and promote members.\n")
		case 2:
			fmt.Fprintf(w, "WARNING: the group has 2 voters left: a majority of 2 is both, so it tolerates no failure; add and promote a member.\n")
		}
	}
	fmt.Fprintf(w, "Put this line in every member's properties file (for their next start):\n  dLegerPeers=%s\n", admin.PeersLine(m))
}
