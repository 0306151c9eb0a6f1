package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/rmqlog/rmqlog/admin"
)

// subcommand runs the subcommand of cmd named by args[0].
func subcommand(cmd string, subs map[string]func([]string, io.Writer, io.Writer) error, synopsis string,
	args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		if run, ok := subs[args[0]]; ok {
			return run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "Usage:\n%s\nRun 'rmqlog %s <subcommand> --help' for its flags.\n", synopsis, cmd)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		return flag.ErrHelp
	}
	if len(args) == 0 {
		return &exitError{code: 2, msg: fmt.Sprintf("rmqlog %s: a subcommand is required", cmd)}
	}
	return &exitError{code: 2, msg: fmt.Sprintf("rmqlog %s: unknown subcommand %q", cmd, args[0])}
}

func topicCmd(args []string, stdout, stderr io.Writer) error {
	return subcommand("topic", map[string]func([]string, io.Writer, io.Writer) error{"create": topicCreate, "list": topicList},
		"  rmqlog topic create --namesrv ADDR[;ADDR] --topic T --queues N [--perm rw|r|w] [--broker NAME]\n"+
			"  rmqlog topic list --namesrv ADDR[;ADDR] [--json]", args, stdout, stderr)
}

func consumerCmd(args []string, stdout, stderr io.Writer) error {
	return subcommand("consumer", map[string]func([]string, io.Writer, io.Writer) error{"progress": consumerProgress},
		"  rmqlog consumer progress --namesrv ADDR[;ADDR] --group G [--topic T] [--json]", args, stdout, stderr)
}

// namesrvFlags are the flags every RocketMQ operator command takes.
type namesrvFlags struct {
	addrs   *string
	timeout *time.Duration
}

func addNamesrvFlags(fs *flag.FlagSet) namesrvFlags {
	return namesrvFlags{
		addrs:   fs.String("namesrv", "127.0.0.1:9876", "name server addresses (the brokers' namesrvAddr), ';'- or ','-separated"),
		timeout: fs.Duration("timeout", 10*time.Second, "give up after this long"),
	}
}

// context returns the command's context and the name server list (a
// usage error when empty).
func (n namesrvFlags) context(cmd string) (context.Context, context.CancelFunc, []string, error) {
	ns := admin.ParseNamesrv(*n.addrs)
	if len(ns) == 0 {
		return nil, nil, nil, &exitError{code: 2, msg: cmd + ": --namesrv is required, e.g. --namesrv 127.0.0.1:9876"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *n.timeout)
	return ctx, cancel, ns, nil
}

// operatorError is a failed operator call as the user sees it: exit 1,
// with a hint for an unreachable name server.
func operatorError(cmd string, err error) error {
	msg := fmt.Sprintf("%s: %v", cmd, err)
	if errors.Is(err, admin.ErrNameServer) {
		msg += " (is `rmqlog namesrv` running there? --namesrv takes the brokers' namesrvAddr)"
	}
	return &exitError{code: 1, msg: msg}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func topicCreate(args []string, stdout, stderr io.Writer) error {
	const cmd = "rmqlog topic create"
	fs := flags("topic create", "topic create --namesrv ADDR[;ADDR] --topic T --queues N [--perm rw|r|w] [--broker NAME]", stderr)
	nf := addNamesrvFlags(fs)
	topic := fs.String("topic", "", "the topic to create or update (required)")
	queues := fs.Int("queues", 0, "read and write queues per broker group (required)")
	perm := fs.String("perm", "rw", "permission: rw, r (no sends) or w (no pulls)")
	broker := fs.String("broker", "", "only this broker group (brokerName); default every group the name servers know")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *topic == "" || *queues <= 0 {
		fs.Usage()
		return &exitError{code: 2, msg: cmd + ": --topic and --queues (above 0) are required"}
	}
	p, err := admin.ParsePerm(*perm)
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("%s: --perm %q: allowed rw, r or w", cmd, *perm)}
	}
	ctx, cancel, ns, err := nf.context(cmd)
	if err != nil {
		return err
	}
	defer cancel()
	res, err := admin.CreateTopic(ctx, ns, admin.TopicSpec{Topic: *topic, Queues: *queues, Perm: p, Broker: *broker})
	for _, r := range res {
		if r.Err == "" {
			fmt.Fprintf(stdout, "%s: topic %s created on %s (master %s): %d queues, perm %s\n", r.Broker, *topic, r.Broker, r.Master, *queues, admin.PermString(p))
		}
	}
	if err != nil {
		return operatorError(cmd, err)
	}
	return nil
}

func topicList(args []string, stdout, stderr io.Writer) error {
	const cmd = "rmqlog topic list"
	fs := flags("topic list", "topic list --namesrv ADDR[;ADDR] [--json]", stderr)
	nf := addNamesrvFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, cancel, ns, err := nf.context(cmd)
	if err != nil {
		return err
	}
	defer cancel()
	topics, err := admin.ListTopics(ctx, ns)
	if err != nil {
		return operatorError(cmd, err)
	}
	if *asJSON {
		return printJSON(stdout, topics)
	}
	return admin.WriteTopicTable(stdout, topics)
}

func consumerProgress(args []string, stdout, stderr io.Writer) error {
	const cmd = "rmqlog consumer progress"
	fs := flags("consumer progress", "consumer progress --namesrv ADDR[;ADDR] --group G [--topic T] [--json]", stderr)
	nf := addNamesrvFlags(fs)
	group := fs.String("group", "", "the consumer group (required)")
	topic := fs.String("topic", "", "only this topic; default every topic where the group has committed an offset, and its retry topic")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *group == "" {
		fs.Usage()
		return &exitError{code: 2, msg: cmd + ": --group is required"}
	}
	ctx, cancel, ns, err := nf.context(cmd)
	if err != nil {
		return err
	}
	defer cancel()
	p, err := admin.ConsumerProgress(ctx, ns, *group, *topic)
	if errors.Is(err, admin.ErrUnknownGroup) || errors.Is(err, admin.ErrNameServer) || errors.Is(err, admin.ErrUnknownTopic) {
		return operatorError(cmd, err)
	}
	var werr error
	if *asJSON {
		werr = printJSON(stdout, p)
	} else {
		werr = admin.WriteProgressTable(stdout, p)
	}
	if err != nil {
		return operatorError(cmd, err)
	}
	return werr
}
