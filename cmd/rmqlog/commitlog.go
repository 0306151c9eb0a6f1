package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rmqlog/rmqlog/broker"
	"github.com/rmqlog/rmqlog/commitlog/classic"
	"github.com/rmqlog/rmqlog/config"
)

// commitlogCmd: the upgrade path from a classic RocketMQ master/slave
// broker (docs/upgrade.md).
func commitlogCmd(args []string, stdout, stderr io.Writer) error {
	return subcommand("commitlog", map[string]func([]string, io.Writer, io.Writer) error{"check": commitlogCheck, "import": commitlogImport},
		"  rmqlog commitlog check --dir MASTER_COMMITLOG [--dir SLAVE_COMMITLOG ...] [--file-size BYTES]\n"+
			"  rmqlog commitlog import --dir CLASSIC_COMMITLOG --to NODE.conf [--config-dir CLASSIC_CONFIG] [--file-size BYTES]", args, stdout, stderr)
}

// dirList is a repeatable --dir flag.
type dirList []string

func (d *dirList) String() string     { return strings.Join(*d, ",") }
func (d *dirList) Set(v string) error { *d = append(*d, v); return nil }

func fileSizeFlag(fs *flag.FlagSet) *int64 {
	return fs.Int64("file-size", 0, "the classic broker's mappedFileSizeCommitLog in bytes (0: the size of the first file)")
}

// commitlogCheck verifies classic CommitLog directories (every message's
// body CRC and offsets) and compares the copies: exit 0 only when they
// agree.
func commitlogCheck(args []string, stdout, stderr io.Writer) error {
	fs := flags("commitlog check", "commitlog check --dir MASTER_COMMITLOG [--dir SLAVE_COMMITLOG ...]", stderr)
	var dirs dirList
	fs.Var(&dirs, "dir", "a classic CommitLog directory (storePathCommitLog; repeat: the master's first, then its slaves')")
	size := fileSizeFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(dirs) == 0 || fs.NArg() > 0 {
		fs.Usage()
		return &exitError{code: 2, msg: "rmqlog commitlog check: give --dir once per copy, the master's first, e.g. --dir /data/master/store/commitlog --dir /data/slave/store/commitlog"}
	}
	var opened []*classic.Dir
	for _, p := range dirs {
		d, err := classic.Open(p, *size)
		if err != nil {
			return &exitError{code: 1, msg: "rmqlog commitlog check: " + err.Error()}
		}
		opened = append(opened, d)
	}
	start := time.Now()
	if len(opened) == 1 {
		// One copy: verify it alone (a master whose slave is gone).
		sum, err := opened[0].Scan(nil)
		if err != nil {
			return &exitError{code: 1, msg: "rmqlog commitlog check: " + err.Error()}
		}
		fmt.Fprintf(stdout, "%s: %d messages, %d bytes, offsets [%d, %d) in %d files: every message verifies\n",
			opened[0].Path, sum.Messages, sum.Bytes, sum.First, sum.End, len(opened[0].Files))
		if sum.Torn != nil {
			fmt.Fprintf(stdout, "the last message is damaged (a torn write): %v\nan import leaves it out, as the classic broker's recovery would\n", sum.Torn)
		}
		fmt.Fprintf(stdout, "took %v (give the slaves' directories too to compare the copies)\n", time.Since(start).Round(time.Millisecond))
		return nil
	}
	rep, err := classic.Compare(opened, classic.CompareOptions{})
	if err != nil {
		return &exitError{code: 1, msg: "rmqlog commitlog check: " + err.Error()}
	}
	fmt.Fprint(stdout, rep.String())
	fmt.Fprintf(stdout, "took %v\n", time.Since(start).Round(time.Millisecond))
	if !rep.OK() {
		return &exitError{code: 1}
	}
	return nil
}

// commitlogImport seeds a stopped member of a new rmqlog group with a
// classic broker's CommitLog and config files (broker.Import).
func commitlogImport(args []string, stdout, stderr io.Writer) error {
	fs := flags("commitlog import", "commitlog import --dir CLASSIC_COMMITLOG --to NODE.conf", stderr)
	dir := fs.String("dir", "", "the classic broker's CommitLog directory (storePathCommitLog), checked with `rmqlog commitlog check`")
	to := fs.String("to", "", "the properties file of the rmqlog member to seed (its storePathRootDir must be empty); run once per member")
	confDir := fs.String("config-dir", "", "the classic broker's config directory (topics.json, consumerOffset.json, delayOffset.json); "+
		"default: config/ beside the CommitLog directory (storePathRootDir/config)")
	size := fileSizeFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" || *to == "" || fs.NArg() > 0 {
		fs.Usage()
		return &exitError{code: 2, msg: "rmqlog commitlog import: give --dir (the classic CommitLog) and --to (the member's properties file), " +
			"e.g. --dir /data/classic/store/commitlog --to conf/broker-n0.conf"}
	}
	fail := func(err error) error { return &exitError{code: 1, msg: "rmqlog commitlog import: " + err.Error()} }
	if *confDir == "" {
		*confDir = filepath.Join(filepath.Dir(filepath.Clean(*dir)), "config")
	}
	cfg, warnings, err := config.Load(*to)
	if err != nil {
		return fail(err)
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if !cfg.BrokerEnable {
		return fail(fmt.Errorf("%s: rmqlogBrokerEnable=false: the member would not serve the imported messages; import into a broker member", *to))
	}
	if err := groupStopped(cfg); err != nil {
		return fail(err)
	}
	sc, err := serverConfig(cfg, newLogger(io.Discard, cfg))
	if err != nil {
		return fail(err)
	}
	// The log's own messages (files prepared) are noise here; its
	// warnings and errors are not.
	sc.Engine.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := classic.Open(*dir, *size)
	if err != nil {
		return fail(err)
	}
	src, err := classicConfig(*confDir, stderr)
	if err != nil {
		return fail(err)
	}
	var sum classic.Summary
	src.Messages = func(yield func([]byte) error) error {
		var err error
		sum, err = d.Scan(func(m classic.Msg) error { return yield(m.Bytes) })
		return err
	}
	start := time.Now()
	res, err := broker.Import(sc.Engine, src)
	if err != nil {
		return fail(err)
	}
	took := time.Since(start)
	if sum.Torn != nil {
		fmt.Fprintf(stderr, "warning: the classic CommitLog ends with a damaged message, left out as the classic broker's recovery would: %v\n", sum.Torn)
	}
	fmt.Fprintf(stdout, "imported %s into %s (member %s of group %s)\n", *dir, cfg.RootDir, cfg.SelfID, cfg.Group)
	fmt.Fprintf(stdout, "  messages    %d in %d entries, %d queues; classic offsets [%d, %d)\n", res.Messages, res.Entries, res.Queues, sum.First, sum.End)
	fmt.Fprintf(stdout, "  topics      %d (from messages without a config: %s)\n", res.Topics, listOrNone(res.AddedTopics))
	fmt.Fprintf(stdout, "  groups      %d with committed offsets\n", res.Groups)
	fmt.Fprintf(stdout, "  left out    %d delayed messages already delivered, %d prepared or rolled-back transaction messages\n", res.Delivered, res.HalfOrRollback)
	fmt.Fprintf(stdout, "  took        %v (%.1f MB/s of messages)\n", took.Round(time.Millisecond), float64(res.Bytes)/1e6/max(took.Seconds(), 1e-9))
	fmt.Fprintf(stdout, "digest: entries 1..%d, last entry crc %08x\n", res.Last, res.LastCRC)
	fmt.Fprintln(stdout, "Import the same directory into every member and compare the digest lines: they must be equal. Then start every member (docs/upgrade.md).")
	return nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// groupStopped refuses an import while any member of the group answers
// on its peer port: an import seeds a new group whose members are all
// stopped (docs/upgrade.md), never a running one.
func groupStopped(cfg *config.Config) error {
	for _, id := range slices.Sorted(maps.Keys(cfg.Peers)) {
		c, err := net.DialTimeout("tcp", cfg.Peers[id], 300*time.Millisecond)
		if err != nil {
			continue
		}
		c.Close()
		return fmt.Errorf("member %s answers on its peer address %s (dLegerPeers): the group is running; "+
			"an import seeds a new group whose members are all stopped: stop every member first", id, cfg.Peers[id])
	}
	return nil
}

// classicConfig reads the classic broker's topics.json,
// consumerOffset.json and delayOffset.json from dir; a missing file is a
// warning that says what follows from it.
func classicConfig(dir string, stderr io.Writer) (broker.ImportSource, error) {
	var src broker.ImportSource
	read := func(name, missing string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "warning: no %s in %s: %s\n", name, dir, missing)
			return nil, nil
		}
		return b, err
	}
	b, err := read("topics.json", "every topic gets a config from its messages (queues: its highest queue id + 1, read and write)")
	if err == nil && b != nil {
		src.Topics, err = broker.ParseTopicsJSON(b)
	}
	if err != nil {
		return src, err
	}
	b, err = read("consumerOffset.json", "no consumer group has a committed offset: consumers start where their CONSUME_FROM setting says")
	if err == nil && b != nil {
		src.Offsets, err = broker.ParseConsumerOffsetJSON(b)
	}
	if err != nil {
		return src, err
	}
	b, err = read("delayOffset.json", "every delayed message still in SCHEDULE_TOPIC_XXXX is delivered again, also those the classic broker delivered")
	if err == nil && b != nil {
		src.DelayProgress, err = broker.ParseDelayOffsetJSON(b)
	}
	return src, err
}
